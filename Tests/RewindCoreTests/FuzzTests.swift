import Foundation
import Testing
@testable import RewindCore

/// Deterministic fuzzing of what reads text from outside: the event line parser (and the JSON
/// parser under it), the format converters, the rules loader and the invariant parser. Inputs
/// are valid seeds mutated at random (bytes flipped, inserted, deleted, repeated, spliced with
/// another seed, cut) from a fixed seed, so a failure reproduces. The suite runs a bounded
/// number per target; `REWIND_FUZZ_ITERATIONS=N REWIND_FUZZ_SEED=S swift test --filter FuzzTests`
/// runs more, elsewhere.
@Suite struct FuzzTests {
    static let iterations = ProcessInfo.processInfo.environment["REWIND_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 20_000
    /// Added to every target's seed (`REWIND_FUZZ_SEED`), to explore further than the default run.
    static let seed = ProcessInfo.processInfo.environment["REWIND_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0

    /// Bytes that matter to the parsers, drawn more often than others.
    static let interesting: [UInt8] = Array(#"{}[]":,\/.-+eE0123456789tfnul $*()!&|=<>#&'"#.utf8)
        + [0x00, 0x0A, 0x0D, 0x09, 0x1B, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xA9, 0xE2, 0x80, 0xAE, 0xED, 0xA0, 0xF0, 0x9F, 0xF4, 0xFF]

    static func mutate(_ seed: [UInt8], corpus: [[UInt8]], rng: inout SplitMix64) -> [UInt8] {
        var bytes = seed
        for _ in 0..<(1 + Int(rng.next() % 4)) {
            let at = bytes.isEmpty ? 0 : Int(rng.next() % UInt64(bytes.count + 1))
            func byte() -> UInt8 {
                rng.next() % 3 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : interesting[Int(rng.next() % UInt64(interesting.count))]
            }
            switch rng.next() % 7 {
            case 0 where at < bytes.count: bytes[at] = byte()
            case 1: bytes.insert(byte(), at: at)
            case 2 where at < bytes.count: bytes.removeSubrange(at..<min(bytes.count, at + 1 + Int(rng.next() % 8)))
            case 3 where at < bytes.count:
                let piece = Array(bytes[at..<min(bytes.count, at + 1 + Int(rng.next() % 16))])
                for _ in 0..<(1 + Int(rng.next() % 64)) { bytes.insert(contentsOf: piece, at: at) }
            case 4:
                let other = corpus[Int(rng.next() % UInt64(corpus.count))]
                if !other.isEmpty {
                    let from = Int(rng.next() % UInt64(other.count))
                    bytes.insert(contentsOf: other[from..<min(other.count, from + 1 + Int(rng.next() % 40))], at: at)
                }
            case 5: bytes = Array(bytes.prefix(at))
            default: bytes.insert(contentsOf: Array(repeating: bytes.isEmpty ? UInt8(ascii: "[") : bytes[max(0, at - 1)], count: Int(rng.next() % 300)), at: at)
            }
        }
        return bytes
    }

    static let lines: [[UInt8]] = [
        #"{"id":"evt-1","ts":"2026-03-02T09:14:05.250Z","service":"accounts","stream":"account-A","type":"MoneyDeposited","data":{"amount":1000,"tags":["a",1.5e3,null,true]},"meta":{"irreversible":true}}"#,
        #"{"id":"caf\u00e9","ts":1767225600000,"service":"s","stream":"x\u0000y","type":"T","data":{"k\ud83d\ude00":"\u202e"},"extra":[{}]}"#,
        #"{"topic":"orders","partition":0,"offset":1,"ts":1767225600000,"key":"o-1","payload":"{\"type\":\"Placed\",\"total\":12}"}"#,
        #"{"payload":{"before":null,"after":{"id":"A","balance":10},"source":{"table":"accounts","ts_ms":1767225600000},"op":"c"}}"#,
        #"  {"ts":"1677-09-21T00:12:43.145224192Z","id":"-","type":"","stream":"","service":"","data":{}}  "#,
    ].map { Array($0.utf8) }

    @Test func theLineParserNeverCrashesAndAgreesWithTheJSONParser() {
        var rng = SplitMix64(seed: 0x5EED_0001 &+ Self.seed)
        var accepted = 0, rejected = 0
        for i in 0..<Self.iterations {
            let input = Self.mutate(Self.lines[i % Self.lines.count], corpus: Self.lines, rng: &rng)
            input.withUnsafeBufferPointer { b in
                let built = (try? JSONParser.parse(b)) != nil
                let valid = (try? JSONParser.validate(b)) != nil
                #expect(built == valid, "parse and validate disagree on \(input)")
                switch EventLineParser.parse(b) {
                case .event(let e):
                    accepted += 1
                    #expect(valid, "an event line that is not JSON: \(input)")
                    #expect(e.tsRaw.upperBound <= b.count && (e.data.map { $0.upperBound <= b.count } ?? true))
                case .rejected(let reason):
                    rejected += 1
                    #expect(!reason.isEmpty)
                case .blank:
                    break
                }
                for format in LogFormat.allCases {
                    if case .line(let converted) = format.convert(b) {
                        // A converted line is an event line the parser reads back.
                        converted.withUnsafeBufferPointer { c in
                            if case .rejected = EventLineParser.parse(c) {} else { _ = LogFormat.detect(c) }
                        }
                    }
                }
            }
        }
        #expect(accepted > 0 && rejected > 0, "the mutations reach both outcomes (\(accepted) accepted, \(rejected) rejected)")
    }

    static let rules: [[UInt8]] = [
        """
        services:
          accounts:
            AccountOpened:
              ops:
                - set: /owner
                  value: $.data.owner
            MoneyDebited:
              irreversible: false
              ops:
                - inc: /balance
                  by: -$.data.amount
                - append: /log/-
                  value: $.id
            Closed:
              ops:
                - delete: true
          "caf\\u00e9":
            T: &t
              ops:
                - merge: $.data
                - unset: /a~1b/0
            U: *t
        """,
        "services: {s: {T: {irreversible: true, ops: [{set: /x, value: [1, {a: $.meta.k}]}]}}}\n",
    ].map { Array($0.utf8) }

    @Test func theRulesLoaderNeverCrashesAndNamesALine() {
        var rng = SplitMix64(seed: 0x5EED_0002 &+ Self.seed)
        var loaded = 0, refused = 0
        for i in 0..<Self.iterations {
            let input = Self.mutate(Self.rules[i % Self.rules.count], corpus: Self.rules + Self.lines, rng: &rng)
            do {
                let rules = try Rules.parse(yaml: String(decoding: input, as: UTF8.self), file: "fuzz.rules.yaml")
                loaded += 1
                // Loaded rules fold an event without trouble.
                var state = State()
                var issues: [FoldIssue] = []
                Fold(rules: rules).apply(Event(id: "1", ts: Timestamp(nanoseconds: 0), service: "accounts", stream: "A", type: "MoneyDebited",
                                               data: .object(["amount": .int(5), "owner": .string("o")]), line: 1),
                                         to: &state, issues: &issues)
            } catch {
                refused += 1
                #expect(error.line >= 0 && error.file == "fuzz.rules.yaml")
                #expect(!error.message.unicodeScalars.contains { $0.isTerminalUnsafe }, "\(error.message)")
            }
        }
        #expect(loaded > 0 && refused > 0, "\(loaded) loaded, \(refused) refused")
    }

    static let invariants: [[UInt8]] = [
        #"sum(accounts/*/balance) == 1200 && all(accounts/*/balance >= 0)"#,
        #"!(count(videos/*/id) != count(videos/*/processedBy)) || any(x/"a b"/c < -1.5e2)"#,
        #"accounts/"account A"/balance >= min(accounts/*/balance) && max(a/*/b) != null"#,
    ].map { Array($0.utf8) }

    @Test func theInvariantParserNeverCrashesAndItsPathsPrintBack() throws {
        var rng = SplitMix64(seed: 0x5EED_0003 &+ Self.seed)
        var state = State()
        var issues: [FoldIssue] = []
        for (i, (service, stream)) in [("accounts", "account A"), ("accounts", "B"), ("x", "a b"), ("videos", "v")].enumerated() {
            Fold().apply(Event(id: "\(i)", ts: Timestamp(nanoseconds: Int64(i)), service: service, stream: stream, type: "T",
                               data: .object(["balance": .int(Int64(i * 10)), "c": .int(-200), "id": .int(1)]), line: i + 1),
                         to: &state, issues: &issues)
        }
        var parsed = 0, refused = 0
        for i in 0..<Self.iterations {
            let input = String(decoding: Self.mutate(Self.invariants[i % Self.invariants.count], corpus: Self.invariants, rng: &rng), as: UTF8.self)
            do {
                let invariant = try Invariant(input)
                parsed += 1
                _ = invariant.holds(in: state)
                for path in invariant.paths where !path.hasWildcard && path.segments.count >= 3 {
                    let again = try Invariant("\(path) == null").paths[0]
                    #expect(again.segments == path.segments, "\(path) does not read back as itself")
                }
            } catch {
                refused += 1
                #expect(error.column >= 1)
            }
        }
        #expect(parsed > 0 && refused > 0, "\(parsed) parsed, \(refused) refused")
    }
}
