import Foundation
import Testing
import RewindTestSupport
@testable import RewindCore

func event(_ id: String, _ ts: String, _ service: String, _ stream: String, _ type: String,
           _ data: JSONValue = .emptyObject, meta: JSONValue? = nil, line: Int) -> Event {
    Event(id: id, ts: try! Timestamp.parse(ts), service: service, stream: stream, type: type,
          data: data, meta: meta, line: line)
}

func json(_ text: String) -> JSONValue { try! JSONParser.parse(text) }

@Suite struct MergePatchTests {
    /// The examples of RFC 7386 appendix A.
    @Test(arguments: [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, "null", "null"),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"a":1,"e":null}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ])
    func rfc7386Examples(_ target: String, _ patch: String, _ result: String) {
        var v = json(target)
        v.mergePatch(json(patch))
        #expect(v == json(result))
        var fromText = json(target)
        var text = patch
        text.withUTF8 { try! fromText.mergePatch(text: $0) }
        #expect(fromText == json(result))
    }

    /// `mentions` (the cheap test before `meta` is read) finds a word wherever it stands, and
    /// only the word.
    @Test func aWordIsFoundAnywhereInTheText() {
        for (text, found) in [("external", true), ("xexternal", true), ("externa", false), ("exter nal", false),
                              (#"{"effect":"external"}"#, true), ("eeeeexternalx", true), ("ex", false), ("", false),
                              ("eXternal", false), ("externalexternal", true)] {
            #expect(Event.mentions(text, "external") == found, "\(text)")
        }
        #expect(Event.mentions("rewind", "rewind") && Event.mentions("{\"rewind\"", "rewind") && !Event.mentions("rewin", "rewind"))
    }

    /// Merging from the text (the index's fold) is merging the parsed patch (replay's), for any
    /// patch — repeated keys included, where a later object merges into the target, not into
    /// what an earlier occurrence left.
    @Test func mergingFromTheTextIsMergingTheParsedPatch() throws {
        var rng = SplitMix64(seed: 5)
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        func value(_ depth: Int) -> String {
            switch pick(depth > 2 ? 4 : 6) {
            case 0: return "null"
            case 1: return String(pick(100))
            case 2: return "\"s\(pick(5))\""
            case 3: return "[\(pick(3)),{\"k\":null}]"
            default:
                let keys = ["a", "b", "c", #"caf\u00e9"#, #"cafe\u0301"#]  // two canonically equivalent spellings
                return "{" + (0..<pick(5)).map { _ in #""\#(keys[pick(keys.count)])":\#(value(depth + 1))"# }.joined(separator: ",") + "}"
            }
        }
        for _ in 0..<2_000 {
            let target = value(0), patch = value(0)
            var expected = json(target)
            expected.mergePatch(json(patch))
            var merged = json(target)
            var text = " " + patch + "\n"
            try text.withUTF8 { try merged.mergePatch(text: $0) }
            #expect(merged == expected, "target \(target), patch \(patch)")
        }
        var untouched = json(#"{"a":1}"#)
        var broken = #"{"a":2,"b":"#
        #expect(throws: JSONParseError.self) { try broken.withUTF8 { try untouched.mergePatch(text: $0) } }
        #expect(untouched == json(#"{"a":1}"#))
    }
}

@Suite struct FoldTests {
    let rules = try! Rules.parse(yaml: """
    services:
      accounts:
        AccountOpened:
          ops:
            - set: /owner
              value: $.data.owner
            - set: /balance
              value: 0
        MoneyDebited:
          ops:
            - inc: /balance
              by: -$.data.amount
        Tagged:
          ops:
            - append: /tags
              value: $.data.tag
            - set: /meta/seenAt
              value: $.ts
            - unset: /temp
        Closed:
          ops:
            - delete: true
        Profiled:
          ops:
            - merge: $.data.profile
            - inc: /visits
      notifications:
        EmailSent:
          irreversible: true
          ops:
            - append: /sent
              value: $.data.to
    """, file: "test.rules.yaml")

    func fold(_ events: [Event]) -> (State, [FoldIssue]) {
        var state = State()
        var issues: [FoldIssue] = []
        let f = Fold(rules: rules)
        for e in MemoryTimeline(events).events { f.apply(e, to: &state, issues: &issues) }
        return (state, issues)
    }

    @Test func defaultFoldMergesData() {
        let (state, issues) = fold([
            event("1", "2026-01-01T00:00:00Z", "videos", "v1", "Uploaded", json(#"{"title":"a","size":3}"#), line: 1),
            event("2", "2026-01-01T00:00:01Z", "videos", "v1", "Renamed", json(#"{"title":"b","size":null}"#), line: 2),
            event("3", "2026-01-01T00:00:02Z", "videos", "v2", "Touched", line: 3),
        ])
        #expect(issues.isEmpty)
        #expect(state.document(service: "videos", stream: "v1") == json(#"{"title":"b"}"#))
        #expect(state.document(service: "videos", stream: "v2") == json("{}"))
    }

    @Test func rulesApplyEveryOpKind() {
        let (state, issues) = fold([
            event("1", "2026-01-01T00:00:00Z", "accounts", "A", "AccountOpened", json(#"{"owner":"Alice"}"#), line: 1),
            event("2", "2026-01-01T00:00:01Z", "accounts", "A", "MoneyDebited", json(#"{"amount":30}"#), line: 2),
            event("3", "2026-01-01T00:00:02Z", "accounts", "A", "MoneyDebited", json(#"{"amount":2.5}"#), line: 3),
            event("4", "2026-01-01T00:00:03Z", "accounts", "A", "Tagged", json(#"{"tag":"vip"}"#), line: 4),
            event("5", "2026-01-01T00:00:04Z", "accounts", "A", "Tagged", json(#"{"tag":"eu"}"#), line: 5),
            event("6", "2026-01-01T00:00:05Z", "accounts", "B", "MoneyDebited", json(#"{"amount":5}"#), line: 6),
            event("7", "2026-01-01T00:00:06Z", "accounts", "B", "Profiled", json(#"{"profile":{"city":"Oslo","x":null}}"#), line: 7),
        ])
        #expect(issues.isEmpty)
        #expect(state.document(service: "accounts", stream: "A") == json("""
            {"owner":"Alice","balance":-32.5,"tags":["vip","eu"],"meta":{"seenAt":"2026-01-01T00:00:04Z"}}
            """))
        // inc on a missing target counts it as 0; inc without `by` adds 1.
        #expect(state.document(service: "accounts", stream: "B") == json(#"{"balance":-5,"city":"Oslo","visits":1}"#))
    }

    @Test func deleteRemovesUntilRecreated() {
        let (state, _) = fold([
            event("1", "2026-01-01T00:00:00Z", "accounts", "A", "AccountOpened", json(#"{"owner":"Alice"}"#), line: 1),
            event("2", "2026-01-01T00:00:01Z", "accounts", "A", "Closed", line: 2),
        ])
        #expect(state.services["accounts"] == nil)
        let (again, _) = fold([
            event("1", "2026-01-01T00:00:00Z", "accounts", "A", "AccountOpened", json(#"{"owner":"Alice"}"#), line: 1),
            event("2", "2026-01-01T00:00:01Z", "accounts", "A", "Closed", line: 2),
            event("3", "2026-01-01T00:00:02Z", "accounts", "A", "MoneyDebited", json(#"{"amount":1}"#), line: 3),
        ])
        #expect(again.document(service: "accounts", stream: "A") == json(#"{"balance":-1}"#))
    }

    @Test func opsThatCannotApplyAreSkippedAndReportedWithTheLine() {
        let (state, issues) = fold([
            event("1", "2026-01-01T00:00:00Z", "accounts", "A", "AccountOpened", json(#"{"owner":"Alice"}"#), line: 1),
            event("2", "2026-01-01T00:00:01Z", "accounts", "A", "MoneyDebited", json(#"{"amount":"ten"}"#), line: 7),
            event("3", "2026-01-01T00:00:02Z", "accounts", "A", "AccountOpened", json(#"{"owner":"Alice"}"#), line: 8),
            event("4", "2026-01-01T00:00:03Z", "notifications", "n", "EmailSent", json(#"{"to":"a@x"}"#), line: 9),
        ])
        #expect(issues.count == 1)
        #expect(issues.first?.line == 7)
        #expect(issues.first?.message.contains("not a number") == true)
        #expect(state.document(service: "accounts", stream: "A") == json(#"{"owner":"Alice","balance":0}"#))

        let (_, appendIssues) = fold([
            event("1", "2026-01-01T00:00:00Z", "accounts", "A", "Profiled", json(#"{"profile":{"tags":"not-an-array"}}"#), line: 3),
            event("2", "2026-01-01T00:00:01Z", "accounts", "A", "Tagged", json(#"{"tag":"x"}"#), line: 4),
        ])
        #expect(appendIssues.map(\.line) == [4])
        #expect(appendIssues.first?.message.contains("not an array") == true)
    }

    /// JSON has no infinity: an `inc` whose sum overflows a double is skipped and reported, and
    /// the value stays as it was (it used to become `null`, and verify then saw drift every run).
    /// `unset` of what is not there — an index past the end, a key into an array — does nothing.
    @Test func incPastTheLargestDoubleIsSkippedAndUnsetOfNothingDoesNothing() throws {
        let rules = try Rules.parse(yaml: """
            services:
              s:
                Inc:
                  ops:
                    - inc: /n
                      by: 1.7976931348623157e308
                Down:
                  ops:
                    - inc: /n
                      by: -1.7976931348623157e308
                Unset:
                  ops:
                    - unset: /items/5
                    - unset: /items/x
                    - unset: /items/-
                    - unset: /missing/deep
            """, file: "t.rules.yaml")
        var state = State()
        var issues: [FoldIssue] = []
        let f = Fold(rules: rules)
        for e in MemoryTimeline([
            event("1", "2026-01-01T00:00:00Z", "s", "a", "Inc", line: 1),
            event("2", "2026-01-01T00:00:01Z", "s", "a", "Inc", line: 2),
            event("3", "2026-01-01T00:00:02Z", "s", "b", "Seed", json(#"{"items":[1,2]}"#), line: 3),
            event("4", "2026-01-01T00:00:03Z", "s", "b", "Unset", line: 4),
        ]).events { f.apply(e, to: &state, issues: &issues) }
        #expect(issues.map(\.line) == [2])
        #expect(issues.first?.message.contains("is not a finite number") == true, "\(issues)")
        #expect(state.document(service: "s", stream: "a") == .object(["n": .double(1.7976931348623157e308)]))
        #expect(state.document(service: "s", stream: "b") == json(#"{"items":[1,2]}"#))
        // The same sum downwards, from the other end.
        var down = State()
        issues = []
        for e in MemoryTimeline([
            event("1", "2026-01-01T00:00:00Z", "s", "a", "Down", line: 1),
            event("2", "2026-01-01T00:00:01Z", "s", "a", "Down", line: 2),
        ]).events { f.apply(e, to: &down, issues: &issues) }
        #expect(issues.map(\.line) == [2])
    }

    /// Rules files are read with bounds: a "billion laughs" of nested aliases (10⁹ nodes once
    /// expanded), YAML nested past 64, duplicate keys spelled as canonically equivalent strings
    /// (different keys), a pointer 100 000 segments long, `$.data..x` — refused with the line, or
    /// kept apart; none expands or recurses without bound.
    @Test func hostileRulesFilesAreRefusedWithTheLine() throws {
        func problem(_ yaml: String) -> String {
            do { _ = try Rules.parse(yaml: yaml, file: "r.yaml"); return "parsed" } catch { return error.description }
        }
        var laughs = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1...9 { laughs += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let billion = problem(laughs + "services:\n  s:\n    T:\n      ops:\n        - set: /x\n          value: *a9\n")
        #expect(billion.contains("more than 100000 nodes once aliases are expanded"), "\(billion)")
        // Under that cap, a few hundred bytes standing for 67 000 nodes (that an op would copy
        // into a document on every event) are refused too; an op list shared by 40 types is not.
        var small = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1...3 { small += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let bomb = problem(small + "services:\n  s:\n    On:\n      ops:\n        - set: /big\n          value: [*a3, *a3, *a3, *a3, *a3]\n")
        #expect(bomb.contains("aliases expand") && bomb.contains("at most 10000"), "\(bomb)")
        var shared = "services:\n  s:\n    T0:\n      ops: &ops\n        - set: /a\n          value: $.data.a\n        - inc: /n\n          by: 1\n"
        for t in 1..<40 { shared += "    T\(t):\n      ops: *ops\n" }
        #expect(problem(shared) == "parsed")
        let deep = problem("services:\n  s:\n    T:\n      ops:\n        - set: /x\n          value: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n")
        #expect(deep.hasPrefix("r.yaml:6:"), "\(deep)")
        let long = problem("services:\n  s:\n    T:\n      ops:\n        - set: " + String(repeating: "/a", count: 100_000) + "\n          value: 1\n")
        #expect(long.hasPrefix("r.yaml:5:") && long.contains("deep"), "\(long)")
        let descent = problem("services:\n  s:\n    T:\n      ops:\n        - set: /x\n          value: $.data..x\n")
        #expect(descent.hasPrefix("r.yaml:6:"), "\(descent)")
        // "caf\u{e9}" and "cafe\u{301}" are two services, not a duplicate key.
        let two = try Rules.parse(yaml: "services:\n  caf\u{e9}:\n    T:\n      irreversible: true\n  cafe\u{301}:\n    T:\n      ops:\n        - delete: true\n", file: "r.yaml")
        #expect(two.services.count == 2)
    }

    @Test func irreversibleFromRulesOrMeta() {
        let f = Fold(rules: rules)
        #expect(f.isIrreversible(event("1", "2026-01-01T00:00:00Z", "notifications", "n", "EmailSent", line: 1)))
        #expect(f.isIrreversible(event("2", "2026-01-01T00:00:00Z", "payments", "p", "Charged",
                                       meta: json(#"{"effect":"external"}"#), line: 2)))
        #expect(!f.isIrreversible(event("3", "2026-01-01T00:00:00Z", "accounts", "A", "MoneyDebited", line: 3)))
    }

    @Test func missingReferenceIsNull() {
        let (state, issues) = fold([
            event("1", "2026-01-01T00:00:00Z", "accounts", "A", "AccountOpened", line: 1),
        ])
        #expect(issues.isEmpty)
        #expect(state.document(service: "accounts", stream: "A") == json(#"{"owner":null,"balance":0}"#))
    }
}

@Suite struct RulesFileTests {
    @Test func errorsNameTheLine() {
        let yaml = """
        services:
          accounts:
            MoneyDebited:
              ops:
                - inc: /balance
                  by: 1
                - frobnicate: /x
        """
        do {
            _ = try Rules.parse(yaml: yaml, file: "bank.rules.yaml")
            Issue.record("accepted an unknown op")
        } catch {
            #expect(error.line == 7)
            #expect(error.description.hasPrefix("bank.rules.yaml:7:"))
        }
    }

    @Test func invalidYAMLIsReported() {
        #expect(throws: RulesFileError.self) { try Rules.parse(yaml: "services: [unclosed", file: "r.yaml") }
        #expect(throws: RulesFileError.self) { try Rules.parse(yaml: "services:\n  a:\n    T:\n      ops:\n        - set: nopointer\n          value: 1", file: "r.yaml") }
    }

    @Test func fingerprintFollowsTheText() throws {
        let a = try Rules.parse(yaml: "services: {}", file: "r")
        let b = try Rules.parse(yaml: "services: {} # changed", file: "r")
        #expect(a.fingerprint != b.fingerprint)
    }
}

/// The bundled sample log, folded by hand: see sample-logs/bank.jsonl.
@Suite struct BankSampleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func load() throws -> (ParsedLog, Fold) {
        let text = try String(contentsOf: Self.root.appendingPathComponent("sample-logs/bank.jsonl"), encoding: .utf8)
        let yaml = try String(contentsOf: Self.root.appendingPathComponent("sample-logs/bank.rules.yaml"), encoding: .utf8)
        return (ParsedLog(text: text), Fold(rules: try Rules.parse(yaml: yaml, file: "bank.rules.yaml")))
    }

    @Test func accounting() throws {
        let (log, _) = try load()
        #expect(log.ingest.accepted == 21)
        #expect(log.duplicates.map(\.line) == [11])
        #expect(log.rejected.isEmpty)
        #expect(log.backwardsLines == [13])
    }

    @Test func finalStateByHand() throws {
        let (log, fold) = try load()
        let timeline = log.timeline
        let h = try ReplayStrategy(source: timeline, fold: fold).hydrate(to: timeline.eventCount())
        #expect(h.issues.isEmpty)
        #expect(h.state.json == json("""
        {"accounts":{"account-A":{"owner":"Alice","balance":450},
                     "account-B":{"owner":"Bob","balance":700},
                     "account-fees":{"owner":"Bank fees","balance":50}},
         "transfers":{"transfer-1":{"from":"account-A","to":"account-B","amount":500,"commission":50,"status":"completed"},
                      "transfer-2":{"from":"account-A","to":"account-B","amount":300,"commission":50,"status":"compensated",
                                    "reason":"commission service unavailable"}},
         "notifications":{"customer-A":{"sent":["alice@example.com","alice@example.com"]}}}
        """))
    }

    @Test func midSagaStateByHand() throws {
        let (log, fold) = try load()
        let timeline = log.timeline
        // 09:14:05Z: A debited 500 and 50, fees credited, B not yet; the session refreshed (skewed line).
        let position = timeline.position(at: try Timestamp.parse("2026-03-02T09:14:05Z"))
        #expect(position == 11)
        let h = try ReplayStrategy(source: timeline, fold: fold).hydrate(to: position)
        #expect(h.state.document(service: "accounts", stream: "account-A") == json(#"{"owner":"Alice","balance":450}"#))
        #expect(h.state.document(service: "accounts", stream: "account-B") == json(#"{"owner":"Bob","balance":200}"#))
        #expect(h.state.document(service: "sessions", stream: "alice-web")
                == json(#"{"user":"alice","device":"web","lastSeen":"2026-03-02T09:14:05Z"}"#))
        #expect(h.state.document(service: "transfers", stream: "transfer-1")?["status"] == .string("requested"))
    }
}

@Suite struct StateDiffTests {
    @Test func addedRemovedAndChangedPaths() {
        let old = State(services: ["a": ["s": json(#"{"x":1,"y":{"z":2,"w":3},"list":[1]}"#), "gone": json("{}")]])
        let new = State(services: ["a": ["s": json(#"{"x":2,"y":{"z":2,"v":4},"list":[1,2]}"#), "new": json(#"{"k":true}"#)]])
        #expect(StateDiff.changes(from: old, to: new).map(\.description) == [
            "- a/gone: {}",
            "+ a/new: {\"k\":true}",
            "~ a/s/list: [1] → [1,2]",
            "~ a/s/x: 1 → 2",
            "+ a/s/y/v: 4",
            "- a/s/y/w: 3",
        ])
        #expect(StateDiff.changes(from: new, to: new).isEmpty)
    }
}
