import Foundation
import Testing
@testable import RewindCore
@testable import RewindExplorer
import RewindTestSupport

/// The bank sample, held in memory.
func bankExplorer(width: Int = 80, height: Int = 24) throws -> Explorer {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let text = try String(contentsOf: root.appendingPathComponent("sample-logs/bank.jsonl"), encoding: .utf8)
    let yaml = try String(contentsOf: root.appendingPathComponent("sample-logs/bank.rules.yaml"), encoding: .utf8)
    let log = ParsedLog(text: text)
    let data = try MemoryExplorerData(logName: "bank.jsonl", events: log.events, fold: Fold(rules: try Rules.parse(yaml: yaml, file: "r")))
    return try Explorer(data: data, width: width, height: height)
}

@Suite struct ExplorerUpdateTests {
    @Test func opensAtTheEndAndStepsEventByEvent() throws {
        let e = try bankExplorer()
        #expect(e.state.position == 21 && e.state.count == 21)
        try e.handle(.right)
        #expect(e.state.position == 21 && e.state.message == "at the last event")
        try e.handle(.left)
        try e.handle(.char("h"))
        #expect(e.state.position == 19)
        try e.handle(.char("l"))
        #expect(e.state.position == 20)
        try e.handle(.home)
        #expect(e.state.position == 0 && e.current.streamCount == 0)
        try e.handle(.end)
        #expect(e.state.position == 21)
    }

    /// A log whose events lie at both ends of the representable range (a span wider than Int64
    /// nanoseconds): drawing, jumping by days, going to either end and clicking the scrubber work.
    @Test func aLogSpanningTheWholeTimeRange() throws {
        let lines = [#"{"id":"a","ts":"1677-09-21T00:12:43.145224192Z","service":"s","stream":"x","type":"T","data":{"v":1}}"#,
                     #"{"id":"b","ts":-9223372036854,"service":"s","stream":"x","type":"T","data":{"v":2}}"#,
                     #"{"id":"c","ts":"2026-01-01T00:00:00Z","service":"s","stream":"y","type":"T","data":{"v":3}}"#,
                     #"{"id":"d","ts":"2262-04-11T23:47:16.854775807Z","service":"s","stream":"y","type":"T","data":{"v":4}}"#]
        let data = try MemoryExplorerData(logName: "edges.jsonl", events: ParsedLog(text: lines.joined(separator: "\n")).events, fold: Fold())
        let e = try Explorer(data: data, width: 80, height: 24)
        #expect(e.state.position == 4)
        _ = try ExplorerView.render(e)
        try e.handle(.char(")"))
        #expect(e.state.position == 4)
        try e.handle(.home)
        try e.handle(.char("("))
        #expect(e.state.position == 0)
        try e.handle(.char(")"))
        #expect(e.state.position == 2, "the first day holds both of 1677's events")
        try e.handle(.char(")"))
        #expect(e.state.position == 3, "the next day with events is 2026's")
        try e.update(.clickedTimeline(x: 79))
        #expect(e.state.position == 4)
        #expect(try ExplorerView.render(e).text.contains("2262-04-11T23:47:16.854775807Z"))
        try e.update(.clickedTimeline(x: 0))
        #expect(e.state.position == 1)
        #expect(try ExplorerView.render(e).text.contains("1677-09-21T00:12:43.145224192Z"))
    }

    /// Field provenance: from a field of the document, `p` goes to the event that last set it,
    /// and again to the one that set it before; the stream stays selected.
    @Test func fieldProvenanceWalksBackThroughTheEventsThatSetAField() throws {
        let e = try bankExplorer()
        for _ in 0..<20 where e.state.selected != StreamKey(service: "accounts", stream: "account-A") { try e.handle(.char("k")) }
        #expect(e.state.selected == StreamKey(service: "accounts", stream: "account-A"))
        try e.handle(.tab)
        for _ in 0..<5 where try e.documentRows()[e.state.treeRow].pointer != "/balance" { try e.handle(.char("j")) }
        #expect(try e.documentRows()[e.state.treeRow].pointer == "/balance")
        var seen: [(Int, String)] = []
        for _ in 0..<8 {
            try e.handle(.char("p"))
            guard e.state.message?.hasPrefix("/balance: ") == true, e.state.message?.contains(" set by ") == true else { break }
            let ev = try e.data.event(at: e.state.position - 1)
            #expect(ev.service == "accounts" && ev.stream == "account-A")
            #expect(e.state.selected == StreamKey(service: "accounts", stream: "account-A"))
            seen.append((e.state.position, ev.type))
        }
        // Account A's balance, newest first: the compensation, transfer-2's debit, transfer-1's
        // commission and debit, the deposit, the opening.
        #expect(seen.map(\.1) == ["MoneyCredited", "MoneyDebited", "MoneyDebited", "MoneyDebited", "MoneyDeposited", "AccountOpened"], "\(seen)")
        #expect(seen.map(\.0) == seen.map(\.0).sorted(by: >))
        #expect(e.state.message == "no earlier event of accounts/account-A changed /balance")
        let text = try ExplorerView.render(e).text
        #expect(text.contains("no earlier event of accounts/account-A changed /balance"))
    }

    @Test func goToATimeAndAClearMessageForOneItCannotRead() throws {
        let e = try bankExplorer()
        for key in [Key.char("g")] + "2026-03-02T09:14:05Z".map { Key.char($0) } + [.enter] { try e.handle(key) }
        #expect(e.state.position == 11 && e.state.mode == .normal)
        #expect(e.state.message == "went to 2026-03-02T09:14:05Z")
        #expect(try e.cursorTime()?.rfc3339 == "2026-03-02T09:14:05Z")
        for key in [Key.char("g")] + "2026-02-30".map { Key.char($0) } + [.backspace, .char("1"), .enter] { try e.handle(key) }
        #expect(e.state.position == 11)
        #expect(e.state.message?.hasPrefix("cannot go there:") == true)
        try e.handle(.char("g"))
        try e.handle(.escape)
        #expect(e.state.mode == .normal && e.state.position == 11)
        // The words `state --at` takes.
        for key in [Key.char("g")] + "start".map { Key.char($0) } + [.enter] { try e.handle(key) }
        #expect(e.state.position == 1 && e.state.message == "went to the start, 2026-03-02T09:00:00Z", "\(e.state.message ?? "")")
        for key in [Key.char("g")] + "end".map { Key.char($0) } + [.enter] { try e.handle(key) }
        #expect(e.state.position == 21 && e.state.message == "went to the end")
    }

    @Test func jumpsByMinuteHourAndDay() throws {
        let e = try bankExplorer()
        try e.update(.goToStart)
        try e.handle(.char("]"))  // 09:00:00 + a minute: the four events up to 09:01:00
        #expect(e.state.position == 4)
        try e.handle(.char(")"))  // a day later: past every event
        #expect(e.state.position == 21)
        try e.handle(.char("("))  // 2026-03-03T08:00:05 − a day: before the first event
        #expect(e.state.position == 0)
        try e.handle(.char("}"))  // 09:00:00 + an hour: the whole first day (last event 09:30)
        #expect(e.state.position == 15)
    }

    @Test func selectionFollowsTheLastEventAndMovesWithKeys() throws {
        let e = try bankExplorer()
        #expect(e.state.selected == StreamKey(service: "notifications", stream: "customer-A"))
        try e.handle(.up)
        #expect(e.state.selected == StreamKey(service: "accounts", stream: "account-fees"))
        try e.handle(.char("j"))
        #expect(e.state.selected == StreamKey(service: "notifications", stream: "customer-A"))
    }

    @Test func aClickOnTheTimelineJumpsToThatTime() throws {
        let e = try bankExplorer(width: 80, height: 24)
        try e.handle(.mouseClick(x: 0, y: 1))
        #expect(e.state.position == 1, "the left edge is the first event's time")
        try e.handle(.mouseClick(x: 79, y: 2))
        #expect(e.state.position == 21, "the right edge is the last event's time")
        try e.handle(.mouseClick(x: 40, y: 1))
        #expect(e.state.position == 15, "mid-span is the night between the two days: the first day's 15 events")
        try e.handle(.mouseClick(x: 10, y: 12))
        #expect(e.state.position == 15, "clicks outside the scrubber do not move the cursor")
    }

    @Test func diffAgainstThePreviousEventAndAgainstAPinnedMark() throws {
        let e = try bankExplorer()
        try e.update(.goToStart)
        for _ in 0..<8 { try e.update(.stepForward) }            // after evt-008: A debited 500
        try e.handle(.char("d"))
        #expect(e.state.showDiff)
        #expect(try e.changes().map(\.description) == ["~ accounts/account-A/balance: 1000 → 500"])
        try e.handle(.char("m"))                                  // pin here
        #expect(e.state.mark == 8)
        for _ in 0..<5 { try e.handle(.right) }                   // through the rest of saga 1
        #expect(try e.changes().map(\.description) == [
            "~ accounts/account-A/balance: 500 → 450",
            "~ accounts/account-B/balance: 200 → 700",
            "~ accounts/account-fees/balance: 0 → 50",
            "+ sessions/alice-web/lastSeen: \"2026-03-02T09:14:05Z\"",
            "~ transfers/transfer-1/status: \"requested\" → \"completed\"",
        ])
        try e.update(.resized(width: 200, height: 40))
        let b = try ExplorerView.render(e)
        #expect(b.text.contains("changes since the mark (position 8)"))
        #expect(b.text.contains("~ accounts/account-B/balance: 200 → 700"))
        try e.update(.goToEnd)
        #expect(try ExplorerView.render(e).lines[2].contains("M"), "the mark is on the scrubber")
        try e.update(.goToStart)
        for _ in 0..<8 { try e.update(.stepForward) }
        try e.handle(.char("m"))                                  // same position again: unpinned
        #expect(e.state.mark == nil)
        try e.handle(.char("d"))
        #expect(!e.state.showDiff)
    }

    @Test func anInvariantMarksEveryBreakAndJumpsToTheFirst() throws {
        let e = try bankExplorer(width: 100, height: 30)
        try e.handle(.char("i"))
        for c in "accounts/account-A/balance != 450" { try e.handle(.char(c)) }
        try e.handle(.enter)
        #expect(e.state.breaks == [9, 19], "false after the commission, true during saga 2, false after its compensation")
        #expect(e.state.position == 9)
        #expect(e.state.message?.hasPrefix("breaks 2 times; first at position 9") == true)
        let b = try ExplorerView.render(e)
        #expect(b.lines[0].contains("BREAKS: accounts/ac"), "the header says the cursor is at a break")
        #expect(b.lines[3].contains("x"))
        try e.handle(.char("x"))
        #expect(e.state.position == 19)
        try e.handle(.char("x"))
        #expect(e.state.position == 19 && e.state.message == "no more breaks that way")
        try e.handle(.char("X"))
        #expect(e.state.position == 9)

        try e.handle(.char("i"))
        for _ in 0..<40 { try e.handle(.backspace) }
        for c in "sum(accounts/*/balance) = 1" { try e.handle(.char(c)) }
        try e.handle(.enter)
        #expect(e.state.message?.contains("column 25") == true)
        try e.handle(.char("i"))
        for _ in 0..<40 { try e.handle(.backspace) }
        try e.handle(.enter)
        #expect(e.state.invariant == nil && e.state.breaks.isEmpty)
    }

    @Test func searchFiltersByTypeAndTextAndStepsThroughMatches() throws {
        let e = try bankExplorer(width: 100, height: 30)
        try e.type("/type:MoneyDebited\n")
        #expect(e.state.matches == [7, 8, 16])
        #expect(e.state.position == 8, "no match after the end: the first match")
        #expect(e.state.message == "match 1 of 3; n / N: next / previous")
        try e.handle(.char("n"))
        #expect(e.state.position == 9 && e.state.message == "match 2 of 3")
        try e.handle(.char("n"))
        #expect(e.state.position == 17 && e.state.message == "match 3 of 3")
        try e.handle(.char("n"))
        #expect(e.state.position == 8 && e.state.message == "match 1 of 3 (wrapped to the first)")
        try e.handle(.char("N"))
        #expect(e.state.position == 17 && e.state.message == "match 3 of 3 (wrapped to the last)")
        try e.handle(.char("N"))
        #expect(e.state.position == 9)
        let b = try ExplorerView.render(e)
        #expect(b.lines[3].contains("*"), "matches are marked on the scrubber")
        #expect(b.lines[4].contains("* 3 matches"), "and counted in the legend")

        // The prompt starts with the last search selected: typing replaces it.
        try e.handle(.char("/"))
        #expect(e.state.prompt == Prompt(kind: .search, text: "type:MoneyDebited", selected: true))
        try e.type("service:notifications failed\n")
        #expect(e.state.search == "service:notifications failed")
        #expect(e.state.matches == [20], "words match inside the payload")

        // Smart case: all lower case ignores case; a capital letter makes it exact.
        try e.type("/moneydebited\n")
        #expect(e.state.matches == [7, 8, 16])
        try e.type("/Moneydebited\n")
        #expect(e.state.matches == [] && e.state.message == "no event matches Moneydebited")
        // Field terms match a part of the name.
        try e.type("/stream:account type:Money\n")
        #expect(e.state.matches == [3, 4, 7, 8, 9, 11, 16, 18])
    }

    /// The selected stream stays selected however time moves; `s` / `S` walk its events; a
    /// pinned stream stays at the top of the list.
    @Test func theSelectedStreamStaysAndItsEventsAreStepsAway() throws {
        let e = try bankExplorer(width: 100, height: 30)
        try e.type("faccount-a\n")
        #expect(e.state.selected == StreamKey(service: "accounts", stream: "account-A"))
        for key in [Key.right, .left, .char("]"), .char("g"), .enter, .home, .char("n"), .end] {
            try e.handle(key)
            #expect(e.state.selected == StreamKey(service: "accounts", stream: "account-A"), "after \(key)")
        }
        try e.handle(.home)
        #expect(try ExplorerView.render(e).text.contains("no document at this time"))
        try e.handle(.char("s"))
        #expect(e.state.position == 1 && e.state.message == "AccountOpened of accounts/account-A")
        try e.handle(.char("s"))
        #expect(e.state.position == 4, "A's next event: the deposit")
        try e.handle(.char("S"))
        #expect(e.state.position == 1)
        try e.handle(.char("S"))
        #expect(e.state.message == "no earlier event of accounts/account-A")
        try e.handle(.char("P"))
        #expect(e.state.pinned == [StreamKey(service: "accounts", stream: "account-A")])
        try e.handle(.escape)                      // the filter cleared
        #expect(e.state.filter == nil)
        try e.handle(.end)
        for _ in 0..<3 { try e.handle(.char("j")) }
        let rows = try e.streamRows(height: 20)
        #expect(Array(rows.prefix(2)) == [.heading("pinned (1)"), .stream(StreamKey(service: "accounts", stream: "account-A"), exists: true)])
        #expect(e.state.selected != StreamKey(service: "accounts", stream: "account-A"))
    }

    @Test func theStrategiesPaneShowsEveryStrategyAndUndosIrreversibleEvents() throws {
        let e = try bankExplorer(width: 120, height: 30)
        try e.handle(.char("g"))
        for c in "2026-03-02T09:14:05Z" { try e.handle(.char(c)) }
        try e.handle(.enter)
        try e.handle(.char("c"))
        #expect(e.state.showStrategies)
        let outcomes = try #require(e.state.strategyRuns?.runs)
        #expect(e.state.strategyRuns?.position == 11)
        #expect(outcomes.map(\.name) == ["replay", "diff", "undo", "squash", "cache"])
        #expect(outcomes.filter { !$0.agrees }.isEmpty)
        #expect(try outcomes[2].crossed.map { try e.data.event(at: $0).id } == ["evt-021", "evt-014"])
        let b = try ExplorerView.render(e)
        #expect(b.text.contains("strategies at position 11, diff drives"))
        #expect(try e.paneLines()?.contains("undo walked back 10 events from the head, position 21, crossing 2 irreversible events (rewound, not undone):") == true)
        #expect(b.text.contains("line 15: evt-014 notif"), "the irreversible events undo crossed, one a line")
        try e.handle(.char("t"))
        #expect(e.state.drivingStrategy == "undo" && e.data.drivingStrategy == "undo")
        try e.handle(.home)
        try e.handle(.end)
        #expect(e.state.position == 21, "undo now reaches the jumps, with the same result")
        try e.handle(.char("v"))
        // The pane compared again at 0 and at 21 as the cursor went there: the cache kept 11 and 21.
        #expect(e.state.message == "verified 2 cached states and 3 keyframes against a full replay of 21 events: 0 drifted, 0 damaged")
    }

    @Test func theDocumentIsACollapsibleTree() throws {
        let e = try bankExplorer(width: 120, height: 30)     // at the end: notifications/customer-A is selected
        #expect(try e.documentRows().map(\.label) == ["▾ {1 key}", "▾ \"sent\": [2 items]", "  \"0\": \"alice@example.com\"",
                                                  "  \"1\": \"alice@example.com\""])
        try e.handle(.tab)
        #expect(e.state.focusOnDocument)
        try e.handle(.down)                                   // onto "sent"
        try e.handle(.enter)                                  // fold it
        #expect(e.state.collapsed == ["/sent"])
        #expect(try e.documentRows().map(\.label) == ["▾ {1 key}", "▸ \"sent\": [2 items]"])
        let b = try ExplorerView.render(e)
        let row = try #require(b.lines.firstIndex { $0.contains("▸ \"sent\": [2 items]") })
        let x = try #require(b.lines[row].range(of: "▸")).lowerBound.utf16Offset(in: b.lines[row])
        #expect(b.cell(x, row).style == .selected, "the document cursor is on the folded row")
        try e.handle(.char(" "))                              // unfold
        #expect(try e.state.collapsed.isEmpty && e.documentRows().count == 4)
        try e.handle(.tab)
        try e.handle(.up)                                     // arrows move in the streams list again
        #expect(e.state.selected == StreamKey(service: "accounts", stream: "account-fees"))
    }

    @Test func helpAndQuit() throws {
        let e = try bankExplorer()
        try e.handle(.char("?"))
        #expect(e.state.mode == .help)
        try e.handle(.char("x"))
        #expect(e.state.mode == .normal)
        try e.handle(.char("q"))
        #expect(e.state.quit)
        let f = try bankExplorer()
        try f.handle(.ctrl("c"))
        #expect(f.state.quit)
    }
}

@Suite struct ExplorerViewTests {
    static let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("golden")

    /// Compares a screen with its golden file; REWIND_UPDATE_GOLDEN=1 rewrites the file.
    func expectGolden(_ buffer: ScreenBuffer, _ name: String) throws {
        let url = Self.goldenDirectory.appendingPathComponent(name + ".screen")
        // The text, then each cell's style as a letter (`CellStyle.letter`: T title, S selected,
        // f faint, C changed, W warning, M marker, u match, H header).
        func trimmed(_ lines: [String]) -> String {
            lines.map { $0.replacingOccurrences(of: " +$", with: "", options: .regularExpression) }.joined(separator: "\n") + "\n"
        }
        let text = trimmed(buffer.lines) + "--- styles ---\n" + trimmed(buffer.styleLines)
        if ProcessInfo.processInfo.environment["REWIND_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: Self.goldenDirectory, withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let golden = try String(contentsOf: url, encoding: .utf8)
        #expect(text == golden, "screen \(name) differs from its golden file:\n\(text)")
    }

    @Test func mainLayoutAt80x24() throws {
        let e = try bankExplorer(width: 80, height: 24)
        try e.type("falice\n")
        try e.handle(.escape)
        #expect(e.state.selected == StreamKey(service: "sessions", stream: "alice-web") && e.state.filter == nil)
        try e.update(.goToStart)
        for _ in 0..<11 { try e.update(.stepForward) }
        let b = try ExplorerView.render(e)
        try expectGolden(b, "main-80x24")
        #expect(b.lines[0].contains("2026-03-02T09:14:05Z") && b.lines[0].contains("position 11/21"))
        // The current event is highlighted; the field the last step changed is marked.
        let row = try #require(b.lines.firstIndex { $0.contains("09:14:05 SessionR") })
        let x = try #require(b.lines[row].range(of: "09:14:05 SessionR")).lowerBound.utf16Offset(in: b.lines[row])
        #expect(b.cell(x, row).style == .selected)
        let changedRow = try #require(b.lines.firstIndex { $0.contains("\"lastSeen\": \"2026-03-0") })
        let cx = try #require(b.lines[changedRow].range(of: "\"lastSeen\"")).lowerBound.utf16Offset(in: b.lines[changedRow])
        #expect(b.cell(cx, changedRow).style == .changed)
    }

    @Test func mainLayoutAt200x60() throws {
        let e = try bankExplorer(width: 200, height: 60)
        let b = try ExplorerView.render(e)
        try expectGolden(b, "main-200x60")
        #expect(b.lines[2].contains("!"), "irreversible e-mails are marked on the scrubber")
    }

    /// The causation view on the simulated bank sample: the e-mail of a compensated transfer,
    /// the five events that led to it (root first, each named by the next one's
    /// `meta.causationId`), and nothing after it; from the request, its consequences.
    @Test func theCausationViewShowsWhatCausedAnEventAndWhatItCaused() throws {
        let e = try simulatedExplorer("bank", width: 80)
        func go(to id: String) throws {
            for key in [Key.char("/")] + id.map { Key.char($0) } + [.enter] { try e.handle(key) }
        }
        try go(to: "evt-0000447")
        #expect(try e.data.event(at: e.state.position - 1).id == "evt-0000447")
        try e.handle(.char("o"))
        let chain = try e.causation()
        #expect(chain.map(\.event.id) == ["evt-0000294", "evt-0000296", "evt-0000374", "evt-0000385", "evt-0000402", "evt-0000447"])
        #expect(chain.map(\.depth) == [0, 1, 2, 3, 4, 5] && chain.last?.isCursor == true)
        try expectGolden(try ExplorerView.render(e), "causation-80x24")
        // From the request: what it caused, generation by generation (at most three).
        try e.handle(.char("o"))
        try go(to: "evt-0000294 type:TransferRequested")
        try e.handle(.char("o"))
        let down = try e.causation()
        #expect(down.first?.event.id == "evt-0000294" && down.first?.isCursor == true)
        #expect(down.dropFirst().first?.event.id == "evt-0000296" && down.allSatisfy { $0.depth <= 3 })
    }

    /// The saga view on the simulated bank sample: transfer-000046's steps in order, its
    /// compensation, its outcome; `A` goes to the next saga; without the saga pattern, a transfer
    /// cut off by a crash is flagged stuck and half-applied.
    @Test func theSagaViewShowsStepsCompensationsAndHalfAppliedSagas() throws {
        let e = try simulatedExplorer("bank")
        for key in [Key.char("/")] + "evt-0000374 type:CommissionFailed".map { Key.char($0) } + [.enter] { try e.handle(key) }
        try e.handle(.char("a"))
        let saga = try #require(try e.saga())
        #expect(saga.id == "transfer-000046" && saga.outcome == "compensated")
        #expect(saga.steps.map(\.event.id) == ["evt-0000294", "evt-0000296", "evt-0000374", "evt-0000385", "evt-0000402", "evt-0000447"])
        #expect(saga.steps.filter(\.isCompensation).map(\.event.type) == ["MoneyCredited", "TransferCompensated"])
        #expect(!saga.flags.contains { $0.hasPrefix("half-applied") || $0.hasPrefix("never ended") })
        try expectGolden(try ExplorerView.render(e), "saga-100x24")
        try e.handle(.char("A"))
        let next = try #require(try e.saga())
        #expect(next.id != "transfer-000046" && next.steps.first?.position == e.state.position - 1, "at the next saga's first event")
    }

    func simulatedExplorer(_ name: String, width: Int = 100, height: Int = 24) throws -> Explorer {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.appendingPathComponent("sample-logs/simulated")
        let text = try String(contentsOf: dir.appendingPathComponent("\(name).jsonl"), encoding: .utf8)
        let yaml = try String(contentsOf: dir.appendingPathComponent("\(name).rules.yaml"), encoding: .utf8)
        let data = try MemoryExplorerData(logName: "\(name).jsonl", events: ParsedLog(text: text).events, fold: Fold(rules: try Rules.parse(yaml: yaml, file: "r")))
        return try Explorer(data: data, width: width, height: height)
    }

    /// The deliveries view on the video sample: video-000003's job was delivered twice; the
    /// first delivery applied it, the second was suppressed by the dedup store.
    @Test func theDeliveriesViewShowsEachDeliveryAndWhatItDid() throws {
        let e = try simulatedExplorer("video", width: 120)
        for key in [Key.char("/")] + "stream:video-000003 type:DuplicateSuppressed".map { Key.char($0) } + [.enter] { try e.handle(key) }
        try e.handle(.char("w"))
        let report = try #require(try e.deliveries())
        #expect(report.rows.map(\.outcome) == ["applied", "suppressed by dedup"])
        #expect(report.rows.map(\.attempt) == [1, 2] && report.applied == 1)
        try expectGolden(try ExplorerView.render(e), "deliveries-120x24")
    }

    /// The projection-lag view on the bank sample: every BalanceProjected's lag, largest per column.
    @Test func theLagViewShowsTheReadModelsLagOverTime() throws {
        let e = try simulatedExplorer("bank", width: 120)
        try e.handle(.char("L"))
        let report = try e.lag(width: 60)
        #expect(report.events == 310 && report.max == 3935 && report.median > 0)
        #expect(report.buckets.compactMap { $0 }.max() == 3935)
        try expectGolden(try ExplorerView.render(e), "lag-120x24")
    }

    /// More events reporting a lag than the view reads: an even sample, and the screen says so.
    @Test func theLagViewSamplesALongLog() throws {
        let lines = (0..<9_000).map { i in
            #"{"id":"\#(i)","ts":\#(1_767_225_600_000 + i),"service":"view","stream":"s","type":"Projected","data":{"lagMs":\#(i % 97)}}"#
        }
        let data = try MemoryExplorerData(logName: "lag.jsonl", events: ParsedLog(text: lines.joined(separator: "\n")).events, fold: Fold())
        let e = try Explorer(data: data, width: 160, height: 24)
        try e.handle(.char("L"))
        let report = try e.lag(width: 60)
        #expect(report.found == 9_000 && report.events == 3_000, "every third event read")
        #expect(report.max == 96 && report.buckets.allSatisfy { $0 != nil })
        #expect(try ExplorerView.render(e).text.contains("3000 of 9000 events (sampled) report lagMs"))
    }

    @Test func aHalfAppliedSagaIsFlagged() throws {
        // Debited, never credited, never ended.
        let lines = [
            #"{"id":"1","ts":"2026-01-01T00:00:00Z","service":"transfers","stream":"t-1","type":"TransferRequested","data":{"amount":5},"meta":{"sagaId":"t-1","commandId":"t-1-request"}}"#,
            #"{"id":"2","ts":"2026-01-01T00:00:01Z","service":"accounts","stream":"a","type":"MoneyDebited","data":{"amount":5},"meta":{"sagaId":"t-1","commandId":"t-1-debit","attempt":2}}"#,
        ]
        let data = try MemoryExplorerData(logName: "t.jsonl", events: ParsedLog(text: lines.joined(separator: "\n")).events, fold: Fold())
        let e = try Explorer(data: data, width: 200, height: 24)
        try e.handle(.char("a"))
        let saga = try #require(try e.saga())
        #expect(saga.outcome == "stuck")
        #expect(saga.flags == ["never ended: no completion, compensation or rejection in the log",
                               "half-applied: 5 left an account and arrived nowhere",
                               "1 step delivered more than once (handled idempotently)"])
        #expect(try ExplorerView.render(e).text.contains("! half-applied: 5 left an account and arrived nowhere"))
    }

    @Test func helpIsGeneratedFromTheBindings() throws {
        let e = try bankExplorer()
        try e.update(.toggleHelp)
        let b = try ExplorerView.render(e)
        try expectGolden(b, "help-80x24")
        // Every binding's keys and text, on one line of the overlay (at 80×24, scrolled).
        var lines = b.lines
        for _ in 0..<3 {
            try e.handle(.pageDown)
            lines += try ExplorerView.render(e).lines
        }
        #expect(e.state.mode == .help)
        for binding in KeyBindings.all {
            let key = binding.keys[0].description
            let text = binding.group ?? binding.help
            #expect(lines.contains { $0.contains(key) && $0.contains(text) }, "help lacks \(key): \(text)")
        }
        try e.handle(.char("x"))
        #expect(e.state.mode == .normal)
    }

    @Test func asciiFallbackAndTinyWindows() throws {
        let e = try bankExplorer()
        e.ascii = true
        let b = try ExplorerView.render(e)
        #expect(b.text.unicodeScalars.allSatisfy { $0.value < 0x80 })
        try e.update(.resized(width: 10, height: 5))
        #expect(try ExplorerView.render(e).lines[0].hasPrefix("too small"))
    }

    @Test func textFromTheLogIsDrawnAsData() throws {
        var b = ScreenBuffer(width: 40, height: 2)
        b.put(0, 0, "a\u{1B}[31mred\u{7}\u{9B}x")
        #expect(b.lines[0].hasPrefix("a\\u{1b}[31mred\\u{7}\\u{9b}x"))
        #expect(!b.text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
        // Invisible and direction-changing characters are shown, not obeyed.
        b.put(0, 1, "evil\u{202E}txt\u{200B}.\u{2028}")
        #expect(b.lines[1].hasPrefix("evil\\u{202e}txt\\u{200b}.\\u{2028}"))
    }

    /// CJK and emoji take two columns (the second a continuation cell), combining marks none;
    /// a wide character that does not fit is left out, and one whose half is written over goes.
    @Test func wideCharactersTakeTwoColumns() throws {
        var b = ScreenBuffer(width: 10, height: 3)
        #expect(b.put(0, 0, "口座A😀e\u{301}|") == 9)
        #expect(b.lines[0] == "口座A😀e\u{301}| ")
        #expect(b.cell(1, 0).isContinuation && b.cell(6, 0).isContinuation && !b.cell(7, 0).isContinuation)
        #expect(b.cell(7, 0).character == "e\u{301}")
        #expect(ScreenBuffer.columns("口座A😀e\u{301}|") == 9)
        // Clipped in the middle of a wide character: it is not drawn by half.
        #expect(b.put(0, 1, "ab口座", maxWidth: 3) == 2)
        #expect(b.lines[1] == "ab        ")
        // Writing over either half leaves no orphaned half behind.
        b.put(0, 2, "口座口座")
        b.put(1, 2, "x")
        b.put(4, 2, "y")
        #expect(b.lines[2] == " x座y 座  ")
        #expect(!b.cell(5, 2).isContinuation)
        // In ASCII mode, one `?` per character.
        var a = ScreenBuffer(width: 10, height: 1, ascii: true)
        a.put(0, 0, "口座😀")
        #expect(a.lines[0] == "???       ")
    }

    /// A log whose stream names are CJK: the streams pane draws them at their width, aligned.
    @Test func cjkStreamNamesAreDrawnReadably() throws {
        let lines = ["口座-甲", "口座-乙", "😀-stream"].enumerated().map { i, name in
            #"{"id":"\#(i)","ts":"2026-01-01T00:00:0\#(i)Z","service":"銀行","stream":"\#(name)","type":"T","data":{"v":\#(i)}}"#
        }
        let data = try MemoryExplorerData(logName: "cjk.jsonl", events: ParsedLog(text: lines.joined(separator: "\n")).events, fold: Fold())
        let e = try Explorer(data: data, width: 80, height: 24)
        let screen = try ExplorerView.render(e)
        let text = screen.text
        #expect(text.contains("口座-甲") && text.contains("口座-乙") && text.contains("😀-stream") && text.contains("銀行"), "\(text)")
        // The panes' borders stay in their columns on every row.
        let borders = (5...8).map { y in (0..<80).filter { screen.cell($0, y).character == "│" } }
        #expect(Set(borders).count == 1 && borders[0].count == 2, "\(borders)")
    }
}

/// The streams list stays sorted and in step with the state as the cursor moves (kept up
/// incrementally), and the streams pane draws only its window — the same rows as drawing them all.
@Suite struct StreamsListTests {
    /// Three services, hundreds of streams, deletes and re-creations.
    func manyStreamsExplorer(height: Int = 24) throws -> Explorer {
        var rng = SplitMix64(seed: 21)
        var lines: [String] = []
        for i in 0..<3_000 {
            let service = ["alpha", "beta", "gamma"][Int(rng.next() % 3)]
            let stream = "s\(rng.next() % 400)"
            let type = rng.next() % 9 == 0 ? "Gone" : "Set"
            lines.append(#"{"id":"e\#(i)","ts":\#(1_767_225_600_000 + i * 1000),"service":"\#(service)","stream":"\#(stream)","type":"\#(type)","data":{"n":\#(i)}}"#)
        }
        let rules = try Rules.parse(yaml: "services:\n  alpha:\n    Gone:\n      ops:\n        - delete: true\n  beta:\n    Gone:\n      ops:\n        - delete: true\n", file: "r")
        let data = try MemoryExplorerData(logName: "many.jsonl", events: ParsedLog(text: lines.joined(separator: "\n")).events, fold: Fold(rules: rules),
                                          layout: IndexLayout(keyframeInterval: 64, docBlockEvents: 16, segmentEvents: 500))
        return try Explorer(data: data, width: 100, height: height)
    }

    @Test func serviceCountsFollowStepsAndJumps() throws {
        let e = try manyStreamsExplorer()
        func check() throws {
            let state = try e.current.materialized()
            #expect(e.serviceCount == state.services.count, "at \(e.state.position)")
            #expect(e.directory.streamCount == state.streamCount)
            for (i, s) in e.directory.services.enumerated() { #expect(e.directory.existing[i] == state.services[JSONKey(s.name)]?.count ?? 0) }
        }
        try check()
        #expect(e.current.streamCount > 500)
        for _ in 0..<300 {
            try e.handle(.left)
            try check()
        }
        try e.handle(.home)
        #expect(e.current.streamCount == 0)
        #expect(try e.streamRows(height: 10).allSatisfy { if case .stream(_, let exists) = $0 { return !exists }; return true },
                "only the selected stream is listed, as having no document here")
        for _ in 0..<300 { try e.handle(.right) }
        try check()
        try e.handle(.char("}"))
        try check()
        try e.handle(.end)
        try check()
    }

    @Test func thePaneDrawsTheSameRowsAsDrawingThemAll() throws {
        let e = try manyStreamsExplorer(height: 30)
        let h = 20
        for step in 0..<400 {
            try e.handle(step % 97 == 0 ? .left : .down)  // walk the list, now and then step the cursor
            var mine = ScreenBuffer(width: 40, height: h)
            try ExplorerView.streamsPane(e, &mine, x: 0, y: 0, w: 40, h: h)
            // The former drawing: every row built, then the window around the selection (which
            // stays listed, where it would be, when it has no document at the cursor).
            var rows: [(String, CellStyle)] = []
            let state = try e.current.materialized()
            var keys = state.services.keys.sorted().flatMap { service in
                state.services[service]!.keys.sorted().map { StreamKey(service: service.string, stream: $0.string) }
            }
            if let selected = e.state.selected, !keys.contains(selected) {
                keys.append(selected)
                keys.sort { ($0.service, $0.stream) < ($1.service, $1.stream) }
            }
            var lastService: String?
            for key in keys {
                if key.service != lastService { rows.append(("\(key.service) (\(state.services[JSONKey(key.service)]?.count ?? 0))", .title)) }
                lastService = key.service
                rows.append(("  " + key.stream, key == e.state.selected ? .selected : .plain))
            }
            let selectedRow = rows.firstIndex { $0.1 == .selected } ?? 0
            let offset = max(0, min(selectedRow - h / 2, rows.count - h))
            var all = ScreenBuffer(width: 40, height: h)
            for (i, row) in rows.dropFirst(offset).prefix(h).enumerated() {
                if row.1 == .selected { all.fill(0, i, 40, " ", .selected) }
                all.put(0, i, row.0, row.1, maxWidth: 40)
            }
            #expect(mine.lines == all.lines, "step \(step), selected \(String(describing: e.state.selected))")
            #expect(mine.cells == all.cells)
        }
    }
}

/// The document pane draws a window of the tree: for any document, folds and range, the window
/// is exactly that slice of the whole tree's rows, and the count is their number.
@Suite struct DocumentTreeWindowTests {
    @Test func aWindowIsTheSliceOfTheWholeTree() throws {
        var rng = SplitMix64(seed: 3)
        func value(_ depth: Int) -> JSONValue {
            switch rng.next() % (depth > 3 ? 3 : 6) {
            case 0: return .int(Int64(rng.next() % 100))
            case 1: return .string("s\(rng.next() % 10)")
            case 2: return .null
            case 3: return .array((0..<Int(rng.next() % 5)).map { _ in value(depth + 1) })
            default:
                var o: [JSONKey: JSONValue] = [:]
                for _ in 0..<Int(rng.next() % 6) { o[JSONKey("k\(rng.next() % 40)/~x")] = value(depth + 1) }
                return .object(o)
            }
        }
        for _ in 0..<200 {
            let doc = value(0)
            let all = DocumentTree.rows(doc, collapsed: [])
            // Fold a few containers.
            let folds = Set(all.filter { $0.isContainer && rng.next() % 3 == 0 }.map { JSONKey($0.pointer) })
            let whole = DocumentTree.rows(doc, collapsed: folds)
            #expect(DocumentTree.count(doc, pointer: "", collapsed: folds) == whole.count)
            for _ in 0..<5 {
                let a = Int(rng.next() % UInt64(whole.count + 2)), n = Int(rng.next() % 8)
                let w = DocumentTree.window(doc, collapsed: folds, rows: a..<(a + n))
                #expect(w.count == whole.count)
                #expect(w.rows == Array(whole.dropFirst(a).prefix(n)))
            }
        }
    }
}
