import Foundation
import Testing
@testable import RewindCore
import RewindTestSupport

@Suite struct InvariantTests {
    /// A state folded with the default rules (each event's data merged into its stream).
    func state(_ docs: [(String, String, String)]) -> State {
        var state = State()
        var issues: [FoldIssue] = []
        let fold = Fold()
        for (i, (service, stream, data)) in docs.enumerated() {
            fold.apply(event("e\(i)", "2026-01-01T00:00:0\(i)Z", service, stream, "T", json(data), line: i + 1), to: &state, issues: &issues)
        }
        return state
    }

    @Test func theLanguageOfSpecSection7() throws {
        let s = state([("accounts", "A", #"{"balance":100,"owner":"Alice"}"#), ("accounts", "B", #"{"balance":-5}"#),
                       ("videos", "v", #"{"id":1}"#)])
        let cases: [(String, Bool)] = [
            ("sum(accounts/*/balance) == 95", true), ("count(accounts/*/balance) == 2", true),
            ("all(accounts/*/balance >= 0)", false), ("any(accounts/*/balance < 0)", true),
            ("min(accounts/*/balance) == -5 && max(accounts/*/balance) == 100", true),
            ("accounts/A/owner == \"Alice\"", true), ("accounts/C/balance == null", true),
            ("!(accounts/A/balance > 100) || false", true), ("count(videos/*/processedBy) == count(videos/*/id)", false),
            ("all(nothing/*/x > 0) && !any(nothing/*/x > 0)", true),
        ]
        for (text, expected) in cases {
            #expect(try Invariant(text).holds(in: s) == expected, "\(text)")
        }
    }

    /// SPEC §7: a path segment may be a JSON string, for names with spaces, quotes, slashes or a
    /// literal `*`; the path prints back the same way.
    @Test func quotedPathSegments() throws {
        let s = state([("accounts", "account A", #"{"balance":7}"#), ("accounts", "o'brien \"x\"", #"{"balance":1}"#),
                       ("my service", "a/b", #"{"the key":2}"#), ("accounts", "*", #"{"balance":1000}"#)])
        #expect(try Invariant(#"accounts/"account A"/balance == 7"#).holds(in: s))
        #expect(try Invariant(#"accounts/"o'brien \"x\""/balance == 1"#).holds(in: s))
        #expect(try Invariant(#""my service"/"a/b"/"the key" == 2"#).holds(in: s))
        #expect(try Invariant(#"accounts/"*"/balance == 1000"#).holds(in: s), "a quoted * is a name, not a wildcard")
        #expect(try Invariant(#"sum(accounts/*/balance) == 1008"#).holds(in: s))
        #expect(try Invariant(#""my service" == "my service""#).holds(in: s), "a string alone is still a string")
        let path = try Invariant(#"accounts/"account A"/balance == 7"#).paths[0]
        #expect(path.description == #"accounts/"account A"/balance"#)
        #expect(try Invariant(#"x/"*"/y == 1"#).paths[0].description == #"x/"*"/y"#)
        #expect(throws: InvariantSyntaxError.self) { try Invariant(#"accounts/"unterminated/balance == 1"#) }
    }

    /// Hostile nesting is refused with a column, never a stack overflow: 30 000 parentheses,
    /// 100 000 `!`, 30 000 unclosed parentheses, chains of 1 000 operators, 10 MB of text.
    @Test func nestingAndSizeAreBounded() throws {
        func error(_ text: String) -> String {
            do { _ = try Invariant(text); return "parsed" } catch { return error.message }
        }
        #expect(error(String(repeating: "(", count: 30_000) + "true" + String(repeating: ")", count: 30_000)).contains("nested more than 64 deep"))
        #expect(error(String(repeating: "!", count: 50_000) + "true").contains("nested more than 64 deep"))
        #expect(error(String(repeating: "!", count: 100_000) + "true").contains("longer than 64 KB"))
        #expect(error(String(repeating: "(", count: 30_000)).contains("nested more than 64 deep"))
        #expect(error(Array(repeating: "true", count: 1_000).joined(separator: " && ")).contains("more than 256 operators"))
        #expect(error(Array(repeating: "a/b/c == 1", count: 1_000).joined(separator: " || ")).contains("more than 256 operators"))
        #expect(error(String(repeating: "a", count: 10 << 20)).contains("longer than 64 KB"))
        // Within the bounds, deep is fine.
        let deep = String(repeating: "(", count: 60) + "true" + String(repeating: ")", count: 60)
        #expect(try Invariant(deep).holds(in: State()))
        #expect(try Invariant(Array(repeating: "true", count: 200).joined(separator: " && ")).holds(in: State()))
    }

    @Test func syntaxErrorsNameTheColumn() {
        #expect(throws: InvariantSyntaxError(column: 9, message: "expected a value, found end of expression")) { try Invariant("a/b/c ==") }
        #expect(throws: InvariantSyntaxError.self) { try Invariant("accounts/*/balance > 0") }
    }
}

/// `bisect`'s incremental aggregates against evaluating the invariant on replay's whole state at
/// every position: the same breaks, for min and max (kept in a heap) among the others, on
/// streams whose numbers change, tie (as ints and doubles), vanish and come back.
@Suite struct BisectorAggregateTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func incrementalAggregatesBreakWhereWholeStatesDo(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        // Each stream starts with a long field, so that its document outweighs its changes.
        var events: [Event] = (0..<12).map {
            Event(id: "p\($0)", ts: Timestamp(nanoseconds: 0), service: "svc", stream: "s\($0)", type: "T",
                  data: .object(["pad": .string(String(repeating: "p", count: 200))]), line: $0 + 1)
        }
        for i in 0..<600 {
            let stream = "s\(rng.next() % 12)"
            let data: JSONValue
            switch rng.next() % 6 {
            case 0: data = .object(["x": .null])
            case 1: data = .object(["x": .double(Double(rng.next() % 20))])
            case 2: data = .object(["x": .array([.int(Int64(rng.next() % 20)), .string("no")])])
            default: data = .object(["x": .int(Int64(rng.next() % 20) - 5)])
            }
            events.append(Event(id: "e\(i)", ts: Timestamp(nanoseconds: Int64(i + 1) * 1_000_000_000), service: "svc", stream: stream,
                                type: "T", data: data, line: i + 13))
        }
        // Standard entries, and every document kept as changes (the pass applies each change to
        // the tree it rebuilt before).
        for layout in [IndexLayout.standard, IndexLayout(keyframeInterval: 64, docBlockEvents: 8, segmentEvents: 250, deltaFrom: 1)] {
        let (index, _) = try buildMemoryIndex(events, fold: Fold(), layout: layout)
        let changes = (0..<index.count).filter { index.image.documentEntry(after: $0)?.first == IndexFormat.deltaEntry }.count
        #expect(layout.deltaFrom > 1 ? changes == 0 : changes > 300, "\(changes) change entries")
        for text in ["max(svc/*/x) < 14", "min(svc/*/x) > 0", "max(svc/*/x) < 12 || min(svc/*/x) >= 1", "max(svc/*/x) == 7 || count(svc/*/x) > 3"] {
            let invariant = try Invariant(text)
            let bisector = Bisector(invariant: invariant)
            let found = try bisector.breaks(events: index.count, transitions: bisector.transitions(of: index))
            var expected: [Int] = []
            var state = State(), issues: [FoldIssue] = [], holding = true
            for (p, e) in events.enumerated() {
                Fold().apply(e, to: &state, issues: &issues)
                let holds = invariant.holds(in: state)
                if !holds && holding { expected.append(p + 1) }
                holding = holds
            }
            #expect(found == expected, "\(text) (seed \(seed))")
            #expect(!expected.isEmpty, "\(text) breaks somewhere (seed \(seed))")
        }
        }
    }
}
