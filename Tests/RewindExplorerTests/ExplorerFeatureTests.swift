import Foundation
import Testing
@testable import RewindCore
@testable import RewindExplorer
import RewindTestSupport
import RewindSimulation

/// A log of `n` events over a few streams, one a minute, each setting `balance` to its number.
func countingExplorer(_ n: Int, streams: Int = 3, width: Int = 100, height: Int = 30) throws -> Explorer {
    var lines: [String] = []
    for i in 0..<n {
        lines.append(#"{"id":"e\#(i)","ts":\#(1_767_225_600_000 + Int64(i) * 60_000),"service":"bank","stream":"acct-\#(i % streams)","type":"Set","data":{"balance":\#(i)}}"#)
    }
    let data = try MemoryExplorerData(logName: "counting.jsonl", events: ParsedLog(text: lines.joined(separator: "\n")).events, fold: Fold())
    return try Explorer(data: data, width: width, height: height)
}

@Suite struct TimeEntryTests {
    let cursor = try! Timestamp.parse("2026-03-02T09:14:05.250Z")

    func parsed(_ text: String) throws -> TimeEntry { try TimeEntry.parse(text, cursor: cursor) }

    @Test func everyFormTheGoToPromptTakes() throws {
        func at(_ s: String) throws -> TimeEntry { .time(try Timestamp.parse(s)) }
        #expect(try parsed("09:14:05") == at("2026-03-02T09:14:05Z"), "a time of day: on the cursor's day")
        #expect(try parsed("09:14") == at("2026-03-02T09:14:00Z"))
        #expect(try parsed("23:59:59.5") == at("2026-03-02T23:59:59.5Z"))
        #expect(try parsed("2026-01-02") == at("2026-01-02T00:00:00Z"), "a date: the start of the day")
        #expect(try parsed("2026-01-02T12:00Z") == at("2026-01-02T12:00:00Z"), "minutes without seconds")
        #expect(try parsed("2026-01-02T12:00") == at("2026-01-02T12:00:00Z"), "no zone: UTC")
        #expect(try parsed("2026-01-02 12:00:05") == at("2026-01-02T12:00:05Z"))
        #expect(try parsed("2026-01-02T12:00:05+02:00") == at("2026-01-02T10:00:05Z"))
        #expect(try parsed("1767225600000") == at("2026-01-01T00:00:00Z"), "epoch milliseconds")
        #expect(try parsed(" start ") == .start && parsed("END") == .end && parsed("now") == .end)
        #expect(try parsed("#120") == .position(120) && parsed("#0") == .position(0))
        #expect(try parsed("+5m") == .offset(nanoseconds: 300_000_000_000))
        #expect(try parsed("-1h") == .offset(nanoseconds: -3_600_000_000_000))
        #expect(try parsed("+1h30m") == .offset(nanoseconds: 5_400_000_000_000))
        #expect(try parsed("-2d") == .offset(nanoseconds: -172_800_000_000_000))
        #expect(try parsed("+250ms") == .offset(nanoseconds: 250_000_000))
    }

    @Test func clearErrorsForWhatItCannotRead() {
        func message(_ text: String) -> String {
            do { _ = try TimeEntry.parse(text, cursor: cursor); return "accepted" } catch { return error.message }
        }
        #expect(message("yesterday").contains("is not a time (try 09:14:05, 2026-01-02"))
        #expect(message("2026-02-30").contains("day 30 does not exist"), "\(message("2026-02-30"))")
        #expect(message("25:00").contains("hour"), "\(message("25:00"))")
        #expect(message("+5x") == "\"+5x\" is not a move: a unit expected after 5 (ms, s, m, h, d, w)")
        #expect(message("+99999999999d") == "\"+99999999999d\" is too far to move")
        #expect(message("#-3").contains("is not a position"))
        #expect(message("") .contains("type a time"))
        do { _ = try TimeEntry.parse("09:14", cursor: nil); Issue.record("accepted") } catch {
            #expect(error.message.contains("the log is empty"))
        }
    }

    /// `g` in the explorer: prefilled with the cursor's time (selected: typing replaces it).
    @Test func goToInTheExplorer() throws {
        let e = try bankExplorer()
        try e.handle(.char("g"))
        #expect(e.state.prompt == Prompt(kind: .goto, text: "2026-03-03T08:00:05Z", selected: true))
        try e.handle(.enter)
        #expect(e.state.position == 21, "Enter on the prefilled time stays there")
        try e.type("g09:14:05\n")
        #expect(e.state.position == 21 && e.state.message == "went to 2026-03-03T09:14:05Z, after the last event: position 21",
                "on the cursor's day, 2026-03-03")
        try e.type("g2026-03-02\n")
        #expect(e.state.position == 0)
        try e.type("g#11\n")
        #expect(e.state.position == 11 && e.state.message == "went to position 11")
        try e.type("g+2s\n")
        #expect(e.state.position == 11 && e.state.message == "went to 2026-03-02T09:14:07Z (+2s)", "\(e.state.message ?? "")")
        try e.type("g+3s\n")
        #expect(e.state.position == 14, "from 09:14:07, the time asked for (not 09:14:05, the event's), to 09:14:10")
        try e.type("g-1h\n")
        #expect(e.state.position == 0)
        try e.type("g2026-03-02T09:14\n")
        #expect(e.state.position == 7 && e.state.message == "went to 2026-03-02T09:14:00Z")
        try e.type("g#999\n")
        #expect(e.state.position == 21 && e.state.message == "went to the last position, 21")
    }
}

@Suite struct PromptTests {
    @Test func editingKeysAndHistory() throws {
        let e = try bankExplorer()
        try e.type("/alice bob\n")
        #expect(e.state.search == "alice bob")
        try e.handle(.char("/"))
        #expect(e.state.prompt?.selected == true && e.state.prompt?.text == "alice bob")
        try e.handle(.backspace)
        #expect(e.state.prompt?.text == "", "Backspace on the selected text clears it")
        try e.type("transfer-2 type:Comm")
        try e.handle(.ctrl("w"))
        #expect(e.state.prompt?.text == "transfer-2 ")
        try e.handle(.ctrl("u"))
        #expect(e.state.prompt?.text == "")
        try e.type("evt-019")
        try e.handle(.enter)
        #expect(e.state.position == 19, "evt-019 is line 20, the 19th event (line 9 is a duplicate)")
        // ↑ walks back through what was searched, newest first; ↓ forward, then to an empty line.
        try e.handle(.char("/"))
        #expect(e.state.prompt?.text == "evt-019")
        try e.handle(.up)
        #expect(e.state.prompt?.text == "alice bob", "the prompt shows the newest already: ↑ goes to the one before")
        try e.handle(.up)
        #expect(e.state.prompt?.text == "alice bob")
        try e.handle(.down)
        #expect(e.state.prompt?.text == "evt-019")
        try e.handle(.down)
        #expect(e.state.prompt?.text == "")
        try e.handle(.escape)
        #expect(e.state.mode == .normal && e.state.search == "evt-019")
        #expect(e.state.history[.search] == ["alice bob", "evt-019"])
        // The prompt shows the selected text reversed; the footer shows the label.
        try e.handle(.char("/"))
        let b = try ExplorerView.render(e)
        let footer = b.lines[b.height - 1]
        #expect(footer.hasPrefix("search (words"))
        let x = try #require(footer.range(of: "evt-019")).lowerBound.utf16Offset(in: footer)
        #expect(b.cell(x, b.height - 1).style == .selected)
    }

    @Test func unknownKeysAndEscapeSayWhatToDo() throws {
        let e = try bankExplorer()
        try e.handle(.char("Q"))
        #expect(e.state.message == "Q does nothing here — ? for keys")
        try e.handle(.escape)
        #expect(e.state.message == "nothing to cancel — ? for keys")
        try e.handle(.char("d"))
        try e.handle(.escape)
        #expect(e.state.pane == .document, "Escape closes a view")
    }
}

@Suite struct LongWorkTests {
    /// The driver runs a search on its own thread: the key loop answers meanwhile (the cursor
    /// moves), the status says how far it got, and the result lands when it is fed back.
    @Test func aSearchRunsOffTheKeyLoopAndLandsWhenDone() throws {
        let e = try countingExplorer(300_000)
        let driver = ExplorerDriver(explorer: e)
        try driver.handle(.char("/"))
        for c in "balance\":29999" { try driver.handle(.char(c)) }
        try driver.handle(.enter)
        #expect(e.state.work?.request == .search(EventQuery("balance\":29999")))
        #expect(try ExplorerView.render(e).lines[29].hasPrefix("searching balance\":29999:"), "the status line, at once")
        try driver.handle(.left)
        #expect(e.state.position == 299_999, "keys are answered while the search runs")
        try driver.settle()
        #expect(e.state.work == nil)
        #expect(e.state.matches == [29_999] + (0..<10).map { 299_990 + $0 }, "\(e.state.matches)")
        #expect(e.state.position == 300_000 && e.state.message == "match 11 of 11; n / N: next / previous", "the first match at or after the cursor")
    }

    @Test func escapeCancelsLongWorkAndItsResultIsDropped() throws {
        let e = try countingExplorer(300_000)
        let driver = ExplorerDriver(explorer: e)
        try driver.handle(.char("/"))
        for c in "no-such-word" { try driver.handle(.char(c)) }
        try driver.handle(.enter)
        let id = try #require(e.state.work?.id)
        try driver.handle(.escape)
        #expect(e.state.work == nil && e.state.message == "cancelled: searching no-such-word")
        try driver.settle()
        // A result that arrives for cancelled work changes nothing.
        try e.update(.workFinished(id: id, .matches([1, 2, 3])))
        #expect(e.state.matches.isEmpty && e.state.message == nil)
    }

    /// The reducer, stated exactly: submitting a search starts work; progress and the result
    /// come back as actions.
    @Test func workIsAnEffectAndComesBackAsActions() throws {
        let e = try bankExplorer()
        try e.update(.openSearch)
        for c in "evt-019" { try e.update(.typed(c)) }
        let effects = try e.update(.submitted)
        #expect(effects == [.start(id: 1, .search(EventQuery("evt-019")))])
        #expect(e.state.work == Work(id: 1, request: .search(EventQuery("evt-019")), text: "evt-019"))
        try e.update(.workProgressed(id: 1, done: 10, total: 21, seconds: 0.5))
        #expect(e.state.work?.status == "searching evt-019: 47% (10 of 21 events) 0.5 s, about 0.5 s left — Esc cancels")
        // A new search cancels the running one.
        try e.update(.openSearch)
        try e.update(.typed("x"))
        #expect(try e.update(.submitted) == [.cancel(id: 1), .start(id: 2, .search(EventQuery("x")))])
        try e.update(.workFinished(id: 1, .matches([5])))
        #expect(e.state.matches.isEmpty, "the cancelled search's result is dropped")
        try e.update(.workFinished(id: 2, .matches([19])))
        #expect(e.state.matches == [19] && e.state.position == 20 && e.state.work == nil)
    }

    /// The strategies of a position that the cursor left land where they belong: shown again
    /// when the cursor comes back, and a new comparison starts for the new position.
    @Test func lateStrategiesLandAtTheirPosition() throws {
        let e = try bankExplorer()
        var effects = try e.update(.toggleStrategies)
        #expect(effects == [.start(id: 1, .strategies(position: 21))])
        effects = try e.update(.stepBackward)
        #expect(effects == [.cancel(id: 1), .start(id: 2, .strategies(position: 20))])
        try e.update(.workFinished(id: 2, .strategies([])))
        #expect(e.state.strategyRuns?.position == 20)
        #expect(try ExplorerView.render(e).text.contains("strategies at position 20"))
        effects = try e.update(.stepForward)
        #expect(effects == [.start(id: 3, .strategies(position: 21))])
        #expect(try ExplorerView.render(e).text.contains("comparing the five"))
    }

    /// Follow mode reads the log's end off the key loop: a tick asks for it (once at a time),
    /// and the grown timeline is taken when it comes back; the cursor at the head stays there.
    @Test func followReadsTheLogsEndAsAnEffect() throws {
        let e = try countingExplorer(10)
        let data = e.data as! MemoryExplorerData
        #expect(try e.update(.toggleFollow) == [.readAppended])
        #expect(e.state.reading && e.state.follow)
        #expect(try e.update(.ticked) == [], "one read at a time")
        try e.update(.followed(nil, error: nil))
        #expect(!e.state.reading && e.state.count == 10)
        data.append(ParsedLog(text: #"{"id":"x","ts":1767226300000,"service":"bank","stream":"acct-9","type":"Set","data":{"balance":-1}}"#).events)
        try e.handle(.char("F"))                  // off
        try e.handle(.char("F"))                  // on again: reads at once (inline driver)
        #expect(e.state.count == 11 && e.state.position == 11 && e.state.message == "following: 1 new event")
        #expect(e.state.selected == StreamKey(service: "bank", stream: "acct-0"), "the selection stays")
        // On the driver's own thread.
        data.append(ParsedLog(text: #"{"id":"y","ts":1767226400000,"service":"bank","stream":"acct-9","type":"Set","data":{"balance":-2}}"#).events)
        let driver = ExplorerDriver(explorer: e)
        try driver.send(.ticked)
        try driver.settle()
        #expect(e.state.count == 12 && e.state.position == 12 && !e.state.reading)
    }

    /// Every break is counted and marked, past the thousand the explorer once stopped at.
    @Test func everyInvariantBreakIsCounted() throws {
        let e = try countingExplorer(9_000, streams: 2, width: 120)
        let text = "bank/acct-0/balance > bank/acct-1/balance"
        try e.type("i\(text)\n")
        // acct-0 takes the even numbers, acct-1 the odd ones: false after every odd one. The
        // breaks, by a fold of every event and the invariant evaluated after each:
        let invariant = try Invariant(text)
        var state = State(), issues: [FoldIssue] = [], holding = true, expected: [Int] = []
        for (i, event) in (e.data as! MemoryExplorerData).source.timeline.events.enumerated() {
            Fold().apply(event, to: &state, issues: &issues)
            let holds = invariant.holds(in: state)
            if !holds && holding { expected.append(i + 1) }
            holding = holds
        }
        #expect(expected.count > 4_000)
        #expect(e.state.breaks == expected)
        #expect(e.state.message == "breaks \(expected.count) times; first at position \(expected[0]) (x / X: next / previous)")
        try e.handle(.home)
        try e.handle(.char("x"))
        try e.handle(.char("x"))
        #expect(e.state.position == expected[1] && e.state.message == "invariant breaks here (break 2 of \(expected.count))")
        try e.handle(.end)
        try e.handle(.char("X"))
        #expect(e.state.message == "invariant breaks here (break \(expected.count - 1) of \(expected.count))")
        #expect(try ExplorerView.render(e).lines[4].contains("x \(expected.count) breaks"))
    }
}

@Suite struct StreamsAndViewsTests {
    @Test func theFilterNarrowsTheStreamsAsYouType() throws {
        let e = try bankExplorer(width: 100, height: 30)
        try e.handle(.char("f"))
        for c in "acc" { try e.handle(.char(c)) }
        #expect(e.state.filter == "acc")
        #expect(try e.streamRows(height: 20) == [.heading("filter acc: 3"),
                                                .stream(StreamKey(service: "accounts", stream: "account-A"), exists: true),
                                                .stream(StreamKey(service: "accounts", stream: "account-B"), exists: true),
                                                .stream(StreamKey(service: "accounts", stream: "account-fees"), exists: true)])
        #expect(e.state.selected == StreamKey(service: "accounts", stream: "account-A"), "the selection moves to the first match")
        for c in "-f" { try e.handle(.char(c)) }
        #expect(try e.streamRows(height: 20).count == 2, "acc-f: account-fees only")
        try e.handle(.ctrl("u"))
        for c in "ntfcA" { try e.handle(.char(c)) }       // fuzzy: the letters in order, with a capital: exact case
        #expect(try e.streamRows(height: 20).dropFirst().map { if case .stream(let k, _) = $0 { return k.stream }; return "" } == ["customer-A"])
        try e.handle(.enter)
        #expect(e.state.message == "1 stream matches ntfcA (Esc clears the filter)")
        #expect(e.state.selected == StreamKey(service: "notifications", stream: "customer-A"))
        try e.handle(.escape)
        #expect(e.state.filter == nil && e.state.selected == StreamKey(service: "notifications", stream: "customer-A"))
    }

    /// With many streams the filter runs off the key loop: the list says it is finding them,
    /// and the matches land when the work is fed back (narrowing the last result as you type).
    @Test func aFilterOverManyStreamsRunsAsLongWork() throws {
        let e = try bankExplorer(width: 100, height: 30)
        e.filterInline = 2
        try e.update(.openFilter)
        let effects = try e.update(.typed("a"))
        #expect(effects == [.start(id: 1, .filter("a", narrowing: nil))])
        #expect(try e.streamRows(height: 20).contains(.heading("filter a: finding…")))
        let more = try e.update(.typed("c"))
        #expect(more == [.cancel(id: 1), .start(id: 2, .filter("ac", narrowing: nil))])
        try e.update(.workFinished(id: 2, .streams([0, 1])))
        #expect(try e.streamRows(height: 20).first == .heading("filter ac: 2"))
        // The real thing, on the driver's thread.
        let driver = ExplorerDriver(explorer: e)
        try driver.send(.typed("c"))
        #expect(e.state.work?.request == .filter("acc", narrowing: FilterBase(("ac", [0, 1]))))
        try driver.settle()
        #expect(e.filterPending == false)
        #expect(try e.streamRows(height: 20).dropFirst().map { if case .stream(let k, _) = $0 { return k.stream }; return "" } == ["account-A", "account-B"])
    }

    @Test func pagesWheelAndClicksMoveThroughTheStreams() throws {
        let e = try countingExplorer(2_000, streams: 500, width: 100, height: 30)
        try e.handle(.home)
        try e.handle(.end)
        let first = try #require(e.state.selected)
        try e.handle(.pageDown)
        let layout = Explorer.Layout(width: 100, height: 30)
        let page = layout.bottom - layout.top
        let ids = e.directory.sorted.map { try! e.data.index.streamKey($0) }
        #expect(ids.firstIndex(of: e.state.selected!)! - ids.firstIndex(of: first)! == page)
        try e.handle(.pageUp)
        #expect(e.state.selected == first)
        try e.handle(.wheelDown)
        #expect(ids.firstIndex(of: e.state.selected!)! - ids.firstIndex(of: first)! == 3)
        // A click on a stream's row selects it.
        let rows = try e.streamRows(height: layout.bottom - layout.top + 1)
        let row = try #require(rows.firstIndex { if case .stream(let k, _) = $0 { return k != e.state.selected }; return false })
        try e.handle(.mouseClick(x: 3, y: layout.top + row))
        guard case .stream(let clicked, _) = rows[row] else { return }
        #expect(e.state.selected == clicked)
    }

    /// The event view: every field of the event at the cursor as written, extra fields too, and
    /// a value copied to the clipboard (and printed on exit).
    @Test func theEventViewShowsEveryFieldAndCopiesAValue() throws {
        let e = try bankExplorer(width: 120, height: 30)
        try e.type("/evt-019\n")
        try e.handle(.enter)
        #expect(e.state.pane == .event)
        let rows = try e.documentRows()
        #expect(rows.map(\.pointer) == ["", "/data", "/data/amount", "/data/compensates", "/id", "/line", "/meta", "/meta/causationId",
                                        "/meta/commandId", "/meta/sagaId", "/position", "/service", "/stream", "/ts", "/type"])
        let text = try ExplorerView.render(e).text
        #expect(text.contains("\"compensates\": \"evt-017\""))
        #expect(text.contains("event 19 of 21, line 20"))
        try e.handle(.tab)
        for _ in 0..<3 { try e.handle(.down) }
        let driver = ExplorerDriver(explorer: e, inline: true)
        var copied: [String] = []
        driver.copyToClipboard = { copied.append($0) }
        try driver.handle(.char("y"))
        try driver.handle(.char("Y"))
        #expect(copied == ["\"evt-017\"", "/data/compensates"] && e.state.copied == copied)
        #expect(e.state.message == "copied the path /data/compensates")
        // A long value opens whole.
        try e.handle(.enter)
        #expect(e.state.expanded == "/data/compensates = \"evt-017\"")
        try e.handle(.char("x"))
        #expect(e.state.expanded == nil)
        try e.handle(.tab)
        try e.handle(.enter)
        #expect(e.state.pane == .document)
    }

    @Test func theOverviewShowsEveryServiceAtTheCursor() throws {
        let e = try bankExplorer(width: 120, height: 30)
        try e.type("g#11\n")
        try e.handle(.char("O"))
        #expect(try e.overview().map(\.text) == [
            "sessions: 1 stream",
            "  alice-web  09:14:05.000 SessionRefreshed  {\"device\":\"web\",\"lastSeen\":\"2026-03-02T09:14:05Z\",\"user\":\"alice\"}",
            "accounts: 3 streams",
            "  account-fees  09:14:02.500 MoneyCredited  {\"balance\":50,\"owner\":\"Bank fees\"}",
            "  account-A  09:14:02.000 MoneyDebited  {\"balance\":450,\"owner\":\"Alice\"}",
            "  account-B  09:01:30.000 MoneyDeposited  {\"balance\":200,\"owner\":\"Bob\"}",
            "transfers: 1 stream",
            "  transfer-1  09:14:00.000 TransferRequested  {\"amount\":500,\"commission\":50,\"from\":\"account-A\",\"status\":\"requested\",\"to\":\"account-B\"}",
        ])
    }

    @Test func zoomNarrowsTheTimelineAndComesBack() throws {
        // One event a minute: a quarter of the time is a quarter of the events.
        let e = try countingExplorer(10_000, width: 100)
        try e.type("g#5000\n")
        try e.handle(.char("z"))
        // The cursor's event is 4999 minutes in; the quarter is 2499.75 minutes around it:
        // from 3749.125 to 6248.875 minutes, the events 3750 … 6248.
        #expect(e.state.zoom == 3750..<6249)
        #expect(e.state.message == "timeline zoomed to 2026-01-03T14:29:07.5Z … 2026-01-05T08:08:52.5Z, positions 3750…6249 (z: closer, Z: back out)",
                "\(e.state.message ?? "")")
        let b = try ExplorerView.render(e)
        #expect(b.lines[4].hasPrefix("zoomed to positions 3750…6249 (Z: out)"))
        #expect(b.lines[2].contains("▲"), "the cursor is inside the zoomed stretch")
        try e.update(.clickedTimeline(x: 0))
        #expect(e.state.position == 3751, "a click maps over the zoomed stretch: its first event")
        try e.handle(.char("z"))
        #expect(e.state.zoom == 3750..<4375, "around the cursor, which the click moved, kept inside the stretch")
        try e.handle(.char("Z"))
        #expect(e.state.zoom == 3750..<6249, "back to the stretch shown before")
        try e.handle(.char("Z"))
        #expect(e.state.zoom == nil && e.state.message == "the timeline shows the whole log")
    }

    /// Zooming goes by time: a burst of events spread over a minute in a day-long log gets the
    /// timeline to itself after a few presses.
    @Test func zoomGoesByTime() throws {
        var lines: [String] = []
        for i in 0..<100 { lines.append(#"{"id":"a\#(i)","ts":\#(1_767_225_600_000 + Int64(i) * 864_000),"service":"s","stream":"x","type":"T","data":{"n":\#(i)}}"#) }
        for i in 0..<900 { lines.append(#"{"id":"b\#(i)","ts":\#(1_767_268_800_000 + Int64(i) * 60),"service":"s","stream":"y","type":"T","data":{"n":\#(i)}}"#) }
        let sorted = lines.sorted { a, b in a.components(separatedBy: "\"ts\":")[1] < b.components(separatedBy: "\"ts\":")[1] }
        let data = try MemoryExplorerData(logName: "burst.jsonl", events: ParsedLog(text: sorted.joined(separator: "\n")).events, fold: Fold())
        let e = try Explorer(data: data, width: 100, height: 30)
        let burst = try #require(data.source.timeline.events.firstIndex { $0.id == "b450" })
        try e.type("g#\(burst + 1)\n")
        for _ in 0..<3 { try e.handle(.char("z")) }
        let z = try #require(e.state.zoom)
        let ids = z.map { data.source.timeline.events[$0].id }
        // Three presses: a 64th of the day (22.5 minutes) around the burst — all of its 900
        // events, and at most the one or two others of those minutes.
        #expect(ids.filter { $0.hasPrefix("b") }.count == 900 && ids.filter { $0.hasPrefix("a") }.count <= 2, "\(z)")
    }

    /// The export command writes the state at the cursor exactly as `rewind state --json`.
    @Test func exportWritesTheStateAtTheCursor() throws {
        let e = try bankExplorer()
        try e.type("g#11\n")
        let path = TestFolders.root.appendingPathComponent("rewind-export-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try e.type(":export \(path)\n")
        #expect(e.state.message?.hasPrefix("exported the state at position 11") == true, "\(e.state.message ?? "")")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix(#"{"at":"2026-03-02T09:14:05Z","position":11,"services":{"accounts":{"account-A":{"balance":450,"owner":"Alice"}"#))
        try e.type(":pin accounts/account-B\n")
        #expect(e.state.pinned == [StreamKey(service: "accounts", stream: "account-B")])
        try e.type(":nope\n")
        #expect(e.state.message?.hasPrefix(":nope? commands: goto T") == true)
    }

    /// Markers of rare kinds are not hidden by frequent ones, and the legend counts each kind.
    @Test func rareMarkersShowAmongFrequentOnes() throws {
        let e = try bankExplorer(width: 80)
        let data = e.data as! MemoryExplorerData
        _ = data
        let b = try ExplorerView.render(e)
        #expect(b.lines[4].hasPrefix("! 2 irreversible"))
        // The same log with a duplicate and a backwards timestamp marked.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("sample-logs/bank.jsonl"), encoding: .utf8)
        let yaml = try String(contentsOf: root.appendingPathComponent("sample-logs/bank.rules.yaml"), encoding: .utf8)
        let marked = try MemoryExplorerData(logName: "bank.jsonl", events: ParsedLog(text: text).events, fold: Fold(rules: try Rules.parse(yaml: yaml, file: "r")),
                                            markers: [TimelineMarker(index: 5, kind: .duplicate), TimelineMarker(index: 12, kind: .backwards)])
        let m = try Explorer(data: marked, width: 80, height: 24)
        let mb = try ExplorerView.render(m)
        #expect(mb.lines[4].contains("! 2 irreversible") && mb.lines[4].contains("< 1 backwards") && mb.lines[4].contains("= 1 duplicate"))
        #expect(mb.lines[2].contains("!") && mb.lines[3].contains("=") && mb.lines[3].contains("<"),
                "irreversible events have a row of their own, so none hides another kind: \(mb.lines[2]) / \(mb.lines[3])")
    }
}

/// Every pane as a golden screen (text and styles) at 80×24 and 200×60.
@Suite struct PaneGoldenTests {
    func screen(_ name: String, width: Int, height: Int, _ setup: (Explorer) throws -> Void) throws {
        let e = try bankExplorer(width: width, height: height)
        try setup(e)
        try ExplorerViewTests().expectGolden(try ExplorerView.render(e), "\(name)-\(width)x\(height)")
    }

    static let sizes = [(80, 24), (200, 60)]

    @Test(arguments: sizes) func theEventView(width: Int, height: Int) throws {
        try screen("event", width: width, height: height) { e in
            try e.type("/evt-019\n")
            try e.handle(.enter)
            try e.handle(.tab)
            try e.handle(.down)
        }
    }

    @Test(arguments: sizes) func theDiffWithAMark(width: Int, height: Int) throws {
        try screen("diff", width: width, height: height) { e in
            try e.type("g#8\nm")
            try e.type("g#13\n")
        }
    }

    @Test(arguments: sizes) func theStrategies(width: Int, height: Int) throws {
        try screen("strategies", width: width, height: height) { e in
            try e.type("g#11\nc")
            // Wall times differ run to run: the golden holds the same numbers every time.
            if var runs = e.state.strategyRuns?.runs {
                for i in runs.indices { runs[i].seconds = Double(i + 1) / 1000 }
                e.state.strategyRuns = StrategyRuns(position: 11, runs: runs)
            }
        }
    }

    @Test(arguments: sizes) func theOverview(width: Int, height: Int) throws {
        try screen("overview", width: width, height: height) { e in try e.type("g#11\nO") }
    }

    @Test(arguments: sizes) func theFilterWhileTyping(width: Int, height: Int) throws {
        try screen("filter", width: width, height: height) { e in
            try e.type("P")          // notifications/customer-A pinned
            try e.type("facc")
        }
    }

    @Test(arguments: sizes) func longWorkShowsItsStatus(width: Int, height: Int) throws {
        try screen("status", width: width, height: height) { e in
            try e.update(.openSearch)
            for c in "balance" { try e.update(.typed(c)) }
            try e.update(.submitted)
            try e.update(.workProgressed(id: 1, done: 7, total: 21, seconds: 1.5))
        }
    }

    @Test(arguments: sizes) func theHelp(width: Int, height: Int) throws {
        try screen("help", width: width, height: height) { e in try e.update(.toggleHelp) }
    }

    @Test(arguments: sizes) func aLineOpenedWhole(width: Int, height: Int) throws {
        try screen("expanded", width: width, height: height) { e in
            try e.type("g#12\nd")
            try e.handle(.tab)
            try e.handle(.enter)
        }
    }

    /// The pattern views on the simulated samples.
    func simulated(_ name: String, _ log: String, width: Int, height: Int, _ keys: String) throws {
        let e = try ExplorerViewTests().simulatedExplorer(log, width: width, height: height)
        try e.type(keys)
        try ExplorerViewTests().expectGolden(try ExplorerView.render(e), "\(name)-\(width)x\(height)")
    }

    @Test(arguments: sizes) func theCausationView(width: Int, height: Int) throws {
        try simulated("causation", "bank", width: width, height: height, "/evt-0000447\no")
    }

    @Test(arguments: sizes) func theSagaView(width: Int, height: Int) throws {
        try simulated("saga", "bank", width: width, height: height, "/evt-0000374 type:CommissionFailed\na")
    }

    @Test(arguments: sizes) func theDeliveriesView(width: Int, height: Int) throws {
        try simulated("deliveries", "video", width: width, height: height, "/stream:video-000003 type:DuplicateSuppressed\nw")
    }

    @Test(arguments: sizes) func theLagView(width: Int, height: Int) throws {
        try simulated("lag", "bank", width: width, height: height, "L")
    }
}

/// What a new user found, each stated as it now behaves.
@Suite struct TrialFindingsTests {
    /// ↑ / ↓ from a stream with no document at the cursor go to its neighbours, none skipped.
    @Test func stepsFromAStreamWithNoDocumentSkipNothing() throws {
        let e = try bankExplorer(width: 120, height: 30)
        try e.type("g2026-03-02T09:20\n")
        try e.type("falice\n")
        try e.handle(.escape)
        try e.handle(.end)
        try e.type("g2026-03-02T09:03\n")           // before SessionStarted: alice-web has no document
        #expect(e.state.selected == StreamKey(service: "sessions", stream: "alice-web"))
        try e.handle(.char("j"))
        #expect(e.state.selected == StreamKey(service: "sessions", stream: "alice-web"), "no stream after it exists at 09:03: it stays")
        try e.handle(.char("k"))
        #expect(e.state.selected == StreamKey(service: "accounts", stream: "account-fees"), "the one just before it in order")
        try e.type("g2026-03-02T09:20\n")
        try e.type("ftransfer-2\n")
        try e.handle(.escape)
        #expect(e.state.selected == StreamKey(service: "transfers", stream: "transfer-2"))
        try e.handle(.char("k"))
        #expect(e.state.selected == StreamKey(service: "transfers", stream: "transfer-1"), "the one just before, not two before")
    }

    @Test func pinnedRowsAreReachedWithTheArrows() throws {
        let e = try bankExplorer(width: 120, height: 30)
        try e.type("ftransfer-2\n")
        try e.handle(.escape)
        try e.handle(.char("P"))
        try e.type("fcustomer\n")
        try e.handle(.escape)
        try e.handle(.char("P"))
        #expect(e.state.pinned.map(\.stream) == ["transfer-2", "customer-A"])
        for _ in 0..<12 { try e.handle(.char("k")) }        // up the list, then into the pins
        #expect(e.state.inPins && e.state.selected?.stream == "transfer-2")
        try e.handle(.char("j"))
        #expect(e.state.inPins && e.state.selected?.stream == "customer-A")
        try e.handle(.char("j"))
        #expect(!e.state.inPins && e.state.selected == StreamKey(service: "accounts", stream: "account-A"), "down out of the pins: the list's first")
        let text = try ExplorerView.render(e)
        let row = try #require(text.lines.firstIndex { $0.contains("  account-A") })
        #expect(text.cell(3, row).style == .selected)
    }

    @Test func anInvariantWhosePathsSelectNothingSaysSo() throws {
        let e = try bankExplorer()
        try e.type("iall(acounts/*/balance >= 0)\n")
        #expect(e.state.message == "holds at every position — but no stream matches acounts/*: check the path")
        try e.type("iall(accounts/*/balanc >= 0)\n")
        #expect(e.state.message == "holds at every position — but no stream matching accounts/* has accounts/*/balanc at the end of the log: check the path")
        try e.type("iall(accounts/*/balance >= 0)\n")
        #expect(e.state.message == "holds at every position")
    }

    @Test func longWorkOfAnotherKindWaitsItsTurn() throws {
        let e = try bankExplorer()
        #expect(try e.update(.verifyCache) == [.start(id: 1, .verify)])
        try e.update(.openSearch)
        try e.update(.typed("q"))
        #expect(try e.update(.submitted) == [], "the search waits for the verification")
        #expect(e.state.queue.map(\.request) == [.search(EventQuery("q"))])
        #expect(try ExplorerView.render(e).lines[23].contains("; then searching q"))
        let next = try e.update(.workFinished(id: 1, .summary("verified")))
        #expect(next == [.start(id: 2, .search(EventQuery("q")))] && e.state.message == "verified")
        try e.update(.verifyCache)
        try e.update(.cancelWork)
        #expect(e.state.message == "cancelled: searching q and 1 waiting after it" && e.state.queue.isEmpty)
    }

    @Test func theFilterSelectsItsBestMatchAsYouType() throws {
        let e = try countingExplorer(300, streams: 300, width: 120, height: 30)
        try e.handle(.char("f"))
        for c in "acct-29" { try e.handle(.char(c)) }
        let typed = try e.streamRows(height: 28)
        #expect(e.state.selected == StreamKey(service: "bank", stream: "acct-29"))
        try e.handle(.escape)
        try e.update(.openFilter)
        try e.update(.typed("a"))
        try e.update(.erasedLine)
        for c in "acct-29" { try e.update(.typed(c)) }
        e.caches.filter = nil                        // pasted at once: a fresh scan
        #expect(try e.streamRows(height: 28) == typed, "typing key by key finds what a fresh scan finds")
    }

    @Test func goToReadsWhatItShouldAndRefusesWhatIsAmbiguous() throws {
        let cursor = try Timestamp.parse("2026-03-02T09:14:05Z")
        func message(_ text: String) -> String {
            do { _ = try TimeEntry.parse(text, cursor: cursor); return "accepted" } catch { return error.message }
        }
        #expect(message("120") == "\"120\" is ambiguous: #120 is a position, +120m a move, epoch milliseconds have 13 digits")
        #expect(message("-5") == "\"-5\" is not a move: a unit expected after 5 (ms, s, m, h, d, w), e.g. -5m")
        #expect(try TimeEntry.parse("9:14", cursor: cursor) == .time(try Timestamp.parse("2026-03-02T09:14:00Z")))
        #expect(try TimeEntry.parse("-9223372036854", cursor: cursor) == .time(try Timestamp.parse("-9223372036854")))
        let e = try bankExplorer()
        try e.handle(.home)
        try e.handle(.char("g"))
        #expect(e.state.prompt?.text == "#0", "before the first event the prompt holds position 0")
        try e.handle(.enter)
        #expect(e.state.position == 0)
        try e.handle(.char("g"))
        try e.handle(.right)                          // keeps the text: typing adds to it
        try e.type("1\n")
        #expect(e.state.position == 1)
    }

    @Test func narrowScreensShowWhatIsTypedAndCutWithAnEllipsis() throws {
        let e = try bankExplorer(width: 80, height: 24)
        try e.type("g2026-03-02T09:14:05")
        let footer = try ExplorerView.render(e).lines[23]
        #expect(footer.hasPrefix("go to: 2026-03-02T09:14:05_"), "\(footer)")
        try e.handle(.escape)
        try e.type("/" + String(repeating: "word ", count: 20) + "end")
        let long = try ExplorerView.render(e).lines[23]
        #expect(long.hasPrefix("search: …") && long.contains("word end_"), "\(long)")
        try e.handle(.escape)
        let e2 = try bankExplorer(width: 60, height: 24)
        #expect(try ExplorerView.render(e2).lines[0].hasSuffix("…"), "a header cut short ends in …")
    }

    @Test func aClickOnAnEventGoesThere() throws {
        let e = try bankExplorer(width: 100, height: 30)
        let layout = Explorer.Layout(width: 100, height: 30)
        let rows = try e.eventRows(height: layout.bottom - layout.top + 1)
        let row = try #require(rows.firstIndex(of: .event(3)))
        try e.handle(.mouseClick(x: layout.left + 2, y: layout.top + row))
        #expect(e.state.position == 4)
    }
}

/// The deliveries view over a log with the bus's delivery log: every attempt, lost acks and
/// crashes included, and no footnote saying they are missing.
@Suite struct DeliveryLogViewTests {
    @Test func theDeliveriesViewShowsEveryAttempt() throws {
        var faults = Faults()
        faults.deliveryLog = true
        faults.lostAck = 0.2
        let log = ScenarioName.video.run(seed: 3, size: 600, faults: faults)
        let events = ParsedLog(text: log.text).events
        let data = try MemoryExplorerData(logName: "video.jsonl", events: events, fold: Fold(rules: try Rules.parse(yaml: log.rules, file: "r")))
        let e = try Explorer(data: data, width: 160, height: 40)
        let lost = try #require(events.firstIndex { $0.type == "AckLost" })
        try e.type("g#\(lost + 1)\nw")
        let report = try #require(try e.deliveries())
        #expect(report.hasBusLog)
        let outcomes = report.rows.map(\.outcome)
        #expect(outcomes.contains("delivered") && outcomes.contains("ack lost: delivered again after the visibility timeout"), "\(outcomes)")
        #expect(report.rows.filter { $0.outcome == "delivered" }.map(\.attempt) == Array(1...report.rows.filter { $0.outcome == "delivered" }.count),
                "each delivery with its attempt number")
        let text = try ExplorerView.render(e).text
        #expect(text.contains("AckLost") && !text.contains("simulate with --delivery-log"))
        #expect(try e.paneLines()?.contains { $0.contains("AckLost  ack lost: delivered again after the visibility timeout") } == true)
    }
}

/// What the second trial found, each stated as it now behaves.
@Suite struct SecondTrialTests {
    @Test func promptsHaveACursor() throws {
        let e = try bankExplorer()
        try e.type("g#1")
        try e.handle(.left)
        try e.handle(.char("2"))
        #expect(e.state.prompt?.text == "#21" && e.state.prompt?.cursor == 2)
        try e.handle(.ctrl("a"))
        try e.handle(.char(" "))
        try e.handle(.ctrl("e"))
        try e.handle(.backspace)
        #expect(e.state.prompt?.text == " #2")
        try e.handle(.right)                       // at the end already
        try e.handle(.home)
        try e.handle(.ctrl("f"))
        try e.handle(.ctrl("u"))                   // erases what is before the cursor
        #expect(e.state.prompt?.text == "#2" && e.state.prompt?.cursor == 0)
        let b = try ExplorerView.render(e)
        let footer = b.lines[23]
        let x = try #require(footer.range(of: "#2")).lowerBound.utf16Offset(in: footer)
        #expect(b.cell(x, 23).style == .selected, "the cursor is the reversed cell")
        try e.handle(.enter)
        #expect(e.state.position == 2)
        // The cursor's time, kept and edited in its middle.
        try e.handle(.char("g"))
        for _ in 0..<4 { try e.handle(.left) }        // before ":00Z" … of 09:00:00Z
        #expect(e.state.prompt?.selected == false && e.state.prompt?.text == "2026-03-02T09:00:01Z")
    }

    @Test func relativeMovesCountFromTheTimeAskedFor() throws {
        let e = try bankExplorer()
        try e.type("g#5\n")                              // 09:01:30
        try e.type("g+5m\n")
        #expect(e.state.message == "went to 2026-03-02T09:06:30Z (+5m)")
        try e.type("g-5m\n")
        #expect(e.state.message == "went to 2026-03-02T09:01:30Z (-5m)", "from 09:06:30, asked for, not 09:05:00, the event's")
        #expect(e.state.position == 5)
    }

    @Test func aCancelledInvariantCheckSetsNoInvariant() throws {
        let e = try bankExplorer()
        try e.update(.openInvariant)
        for c in "accounts/account-A/balance >= 0" { try e.update(.typed(c)) }
        try e.update(.submitted)
        #expect(e.state.invariant != nil && e.state.work != nil)
        try e.update(.cancelWork)
        #expect(e.state.invariant == nil && e.state.message == "cancelled: checking the invariant accounts/account-A/balance >= 0 (no invariant is set)")
        #expect(!(try ExplorerView.render(e).lines[0].contains("invariant")))
    }

    @Test func theSelectionLeavesThePinsWhenItIsNoPinnedStream() throws {
        let e = try bankExplorer(width: 120, height: 30)
        try e.handle(.char("P"))                         // notifications/customer-A
        for _ in 0..<12 { try e.handle(.char("k")) }
        #expect(e.state.inPins)
        try e.type("g#3\n@")
        #expect(!e.state.inPins && e.state.selected == StreamKey(service: "accounts", stream: "account-fees"))
    }

    @Test func aChangeKeepsItsValuesInANarrowPane() throws {
        let e = try bankExplorer(width: 80, height: 24)
        try e.type("g#12\nd")
        let text = try ExplorerView.render(e).text
        #expect(text.contains("200 → 700"), "the values of a long path stay in view")
    }

    @Test func theCursorDoesNotHideAnIrreversibleEvent() throws {
        let e = try bankExplorer(width: 80, height: 24)
        let b = try ExplorerView.render(e)                // at the end: the last event is an e-mail
        #expect(b.lines[2].filter { $0 == "!" }.count == 2 && !b.lines[2].contains("▲"))
        let x = try #require(b.lines[2].lastIndex(of: "!")).utf16Offset(in: b.lines[2])
        #expect(b.cell(x, 2).style == .selected)
    }

    @Test func messagesForWhatIsNotQuiteRight() throws {
        func message(_ text: String) -> String {
            do { _ = try TimeEntry.parse(text, cursor: nil); return "accepted" } catch { return error.message }
        }
        #expect(message("+5") == "\"+5\" is not a move: a unit expected after 5 (ms, s, m, h, d, w), e.g. +5m")
        let e = try bankExplorer()
        try e.type(":strategy bogus\n")
        #expect(e.state.message == "no strategy bogus: the view is driven by diff, undo, squash or cache (replay reaches no versions to draw)")
    }
}

/// Enter on a row of a list that stands for an event goes to it; the cursor moves over the
/// rows the pane draws (flags and summaries included).
@Suite struct PaneRowTests {
    @Test func enterOnASagaStepGoesThere() throws {
        let e = try bankExplorer(width: 120, height: 30)
        try e.type("/evt-019\na")
        let rows = try #require(try e.paneRows())
        #expect(try ExplorerView.render(e).text.contains(rows[0].text.prefix(30)), "the pane draws these rows")
        let request = try #require(rows.firstIndex { $0.text.contains("TransferRequested") })
        try e.handle(.tab)
        for _ in 0..<request { try e.handle(.down) }
        try e.handle(.enter)
        #expect(e.state.position == rows[request].position! + 1 && e.state.message?.hasPrefix("went to evt-0") == true)
    }

    @Test func enterInTheOverviewSelectsTheStream() throws {
        let e = try bankExplorer(width: 120, height: 30)
        try e.type("g#11\nO")
        try e.handle(.tab)
        try e.handle(.down)                          // sessions/alice-web
        try e.handle(.enter)
        #expect(e.state.pane == .document && e.state.selected == StreamKey(service: "sessions", stream: "alice-web"))
    }

    @Test func enterOnAChangeShowsItWhole() throws {
        let e = try bankExplorer(width: 80, height: 24)
        try e.type("g#12\nd")
        try e.handle(.tab)
        try e.handle(.enter)
        #expect(e.state.expanded == "~ accounts/account-B/balance: 200 → 700")
    }
}
