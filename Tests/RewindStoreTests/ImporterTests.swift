import Foundation
import Testing
import GRDB
@testable import RewindCore
@testable import RewindStore
import RewindTestSupport

@Suite struct ImporterBadInputTests {
    /// Every kind of bad line the spine issue names, each with the reason it must give.
    @Test func everyBadLineIsRejectedReportedQuarantinedAndCounted() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("bad.jsonl").path
        let tenMB = String(repeating: "x", count: 10 * 1024 * 1024)
        var lines: [[UInt8]] = [
            Array(line("a", "2026-01-01T00:00:00Z").utf8),                                  // 1 ok
            Array(#"{"id":"b","ts":"2026-01-01T00:00:01Z","service":"svc""#.utf8),          // 2 invalid JSON
            Array("[1,2,3]".utf8),                                                           // 3 not an object
            Array(#"{"id":"c","ts":"2026-01-01T00:00:02Z","service":"svc","type":"T"}"#.utf8), // 4 missing stream
            Array(#"{"id":7,"ts":"2026-01-01T00:00:02Z","service":"svc","stream":"s","type":"T"}"#.utf8), // 5 mistyped id
            Array(line("d", "2026-02-30T00:00:00Z").utf8),                                  // 6 impossible date
            Array(#"{"id":"e","ts":"2026-01-01T00:00:03Z","service":"svc","stream":"s","type":"T","data":{"x":""#.utf8)
                + [0xFF, 0xFE] + Array(#""}}"#.utf8),                                       // 7 invalid UTF-8
            Array(line("f", "2026-01-01T00:00:04Z", data: #"{"big":"\#(tenMB)"}"#).utf8),  // 8 a 10 MB line, valid
            Array(String(repeating: "[", count: 100_000).utf8)
                + Array(String(repeating: "]", count: 100_000).utf8),                      // 9 100 000 nested brackets
            [],                                                                              // 10 blank
            Array(#"{"id":"g","ts":"2026-01-01T00:00:05Z","service":"svc","stream":"s","type":"T","data":[1]}"#.utf8), // 11 data not object
            Array(line("a", "2026-01-01T00:00:06Z").utf8),                                  // 12 duplicate of 1
            Array(#"{"id":"h","ts":true,"service":"svc","stream":"s","type":"T"}"#.utf8),   // 13 ts mistyped
            Array(#"{"id":"i","ts":1.5,"service":"svc","stream":"s","type":"T"}"#.utf8),    // 14 ts not an integer
            Array((line("j", "2026-01-01T00:00:07Z") + "\r").utf8),                         // 15 CRLF, ok
            Array((line("k", "2026-01-01T00:00:08Z") + " trailing").utf8),                  // 16 text after the object
        ]
        let bytes = lines.reduce(into: [UInt8]()) { $0 += $1 + [0x0A] }
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let store = try SQLiteStore(path: dir.appendingPathComponent("bad.rewind").path)
        var diagnostics: [ImportDiagnostic] = []
        let result = try importFile(path, store: store, diagnostics: &diagnostics)

        var reasons: [Int: String] = [:]
        for d in diagnostics { if case .rejected(let l, let r) = d { reasons[l] = r } }
        #expect(reasons.keys.sorted() == [2, 3, 4, 5, 6, 7, 9, 11, 13, 14, 16])
        #expect(reasons[2]?.hasPrefix("invalid JSON") == true)
        #expect(reasons[3] == "not a JSON object (the line is a array)")
        #expect(reasons[4] == #"missing required field "stream""#)
        #expect(reasons[5] == #"field "id" must be a string, found a number"#)
        #expect(reasons[6]?.contains("day 30 does not exist") == true)
        #expect(reasons[7]?.contains("invalid UTF-8") == true)
        #expect(reasons[9]?.contains("nesting deeper than") == true)
        #expect(reasons[11] == #"field "data" must be an object, found an array"#)
        #expect(reasons[13]?.contains("RFC 3339 string or an integer") == true)
        #expect(reasons[14]?.contains("integer of epoch milliseconds") == true)
        #expect(reasons[16]?.contains("unexpected text") == true)

        let s = result.summary
        #expect(s.accepted == 3)       // a, f (10 MB) and j
        #expect(s.duplicates == 1)
        #expect(s.rejected == 11)
        #expect(s.blank == 1)
        #expect(s.linesRead == lines.count - 1)  // every non-blank line accounted for

        // The quarantine holds the rejected lines, byte for byte, in order.
        let quarantine = try Data(contentsOf: URL(fileURLWithPath: result.quarantinePath!))
        let expected = [2, 3, 4, 5, 6, 7, 9, 11, 13, 14, 16].reduce(into: [UInt8]()) { $0 += lines[$1 - 1] + [0x0A] }
        #expect([UInt8](quarantine) == expected)
        #expect(result.quarantinePath == dir.appendingPathComponent("bad.rejected.jsonl").path)

        let big = try store.event(at: 1)
        #expect(big.id == "f" && big.data["big"]?.stringValue?.utf8.count == tenMB.utf8.count)
        lines.removeAll()
    }

    @Test func emptyFileImportsNothing() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("empty.jsonl").path
        FileManager.default.createFile(atPath: path, contents: Data())
        let store = try SQLiteStore(path: dir.appendingPathComponent("e.rewind").path)
        let result = try importFile(path, store: store)
        #expect(result.summary == ImportSummary(accepted: 0, duplicates: 0, rejected: 0, blank: 0, backwards: 0))
        #expect(result.quarantinePath == nil)
        #expect(try store.eventCount() == 0)
    }

    /// A UTF-8 byte order mark starts line 1 without rejecting it; a rejected CRLF line keeps its
    /// CR in the quarantine file (it holds rejected lines exactly as they were written).
    @Test func aByteOrderMarkIsSkippedAndQuarantinedCRLFLinesKeepTheirCR() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("bom.jsonl").path
        let text = [0xEF, 0xBB, 0xBF] + Array((line("a", "2026-01-01T00:00:00Z") + "\r\nnot json\r\n" + line("b", "2026-01-01T00:00:01Z") + "\r\n").utf8)
        FileManager.default.createFile(atPath: path, contents: Data(text))
        let store = try SQLiteStore(path: dir.appendingPathComponent("bom.rewind").path)
        let result = try importFile(path, store: store)
        #expect(result.summary == ImportSummary(accepted: 2, duplicates: 0, rejected: 1, blank: 0, backwards: 0))
        #expect(try store.event(at: 0).id == "a")
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: result.quarantinePath!))) == Array("not json\r\n".utf8))
    }

    /// A line longer than the limit is rejected and streamed to the quarantine file unchanged,
    /// never held whole: one found in the buffer, one read past it, and a final one without a
    /// newline (read again once the file grows). Every line is still accounted for.
    @Test func overlongLinesAreRejectedAndQuarantinedWhole() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("long.jsonl").path
        let limit = 1_000
        let long = line("x", "2026-01-01T00:00:01Z", data: #"{"pad":""# + String(repeating: "p", count: 5_000) + #""}"#)
        let huge = line("y", "2026-01-01T00:00:02Z", data: #"{"pad":""# + String(repeating: "q", count: 3_000_000) + #""}"#)
        let fits = line("f", "2026-01-01T00:00:03Z", data: #"{"pad":""# + String(repeating: "f", count: limit - 120) + #""}"#)
        #expect(fits.utf8.count <= limit)
        let text = line("a", "2026-01-01T00:00:00Z") + "\n" + long + "\n" + huge + "\r\n" + fits + "\n" + huge
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        let store = try SQLiteStore(path: dir.appendingPathComponent("long.rewind").path)
        let importer = JSONLImporter(path: path, store: store, quarantinePath: LogOpener.quarantinePath(forLog: path))
        importer.maxLineBytes = limit
        var rejected: [Int] = []
        importer.onDiagnostic = { if case .rejected(let n, let why) = $0 { rejected.append(n); #expect(why.contains("longer than 1000 bytes")) } }
        let result = try importer.run()
        #expect(rejected == [2, 3, 5])
        #expect(result.summary == ImportSummary(accepted: 2, duplicates: 0, rejected: 3, blank: 0, backwards: 0))
        #expect(try store.event(at: 1).id == "f")
        let quarantined = try String(contentsOfFile: result.quarantinePath!, encoding: .utf8)
        #expect(quarantined == long + "\n" + huge + "\r\n" + huge + "\n")
        // The final line grows a newline and one more event: it is read again, still rejected once.
        let h = FileHandle(forWritingAtPath: path)!
        try h.seekToEnd()
        h.write(Data(("\n" + line("g", "2026-01-01T00:00:04Z") + "\n").utf8))
        try h.close()
        let again = JSONLImporter(path: path, store: store, quarantinePath: LogOpener.quarantinePath(forLog: path))
        again.maxLineBytes = limit
        let grown = try again.run()
        #expect(grown.summary == ImportSummary(accepted: 3, duplicates: 0, rejected: 3, blank: 0, backwards: 0))
        #expect(try String(contentsOfFile: result.quarantinePath!, encoding: .utf8) == quarantined)
    }

    /// What is not a regular file — a device that never ends, a FIFO with no writer — is refused
    /// before anything is created beside it; so is a loop of symbolic links, by its name.
    @Test func devicesFIFOsAndLinkLoopsAreRefused() throws {
        let dir = temporaryDirectory()
        func refusal(_ path: String) -> String {
            do { _ = try LogOpener.open(path); return "opened" } catch { return "\(error)" }
        }
        #expect(refusal("/dev/zero").contains("a device, not a regular file"))
        let fifo = dir.appendingPathComponent("pipe.jsonl").path
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(refusal(fifo).contains("a FIFO"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("pipe.rewind").path))
        let loop = dir.appendingPathComponent("loop.jsonl").path
        try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: loop)
        #expect(refusal(loop).contains("a loop of symbolic links"))
        let dangling = dir.appendingPathComponent("gone.jsonl").path
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: dir.appendingPathComponent("nothing").path)
        #expect(refusal(dangling).contains("a symbolic link to a file that does not exist"))
        // A rules file is held to the same, and read with a bound.
        let log = dir.appendingPathComponent("ok.jsonl").path
        FileManager.default.createFile(atPath: log, contents: Data((line("a", "2026-01-01T00:00:00Z") + "\n").utf8))
        #expect(mkfifo(dir.appendingPathComponent("ok.rules.yaml").path, 0o600) == 0)
        #expect(refusal(log).contains("ok.rules.yaml: a FIFO"))
        #expect(throws: OpenError.self) { try LogOpener.loadRules(explicit: "/dev/zero", besideLog: nil) }
    }

    @Test func missingFileAndDirectoryAreOpenErrors() throws {
        let dir = temporaryDirectory()
        #expect(throws: OpenError.self) { try LogOpener.open(dir.appendingPathComponent("nope.jsonl").path) }
        #expect(throws: OpenError.self) { try LogOpener.open(dir.path) }
        #expect(throws: OpenError.self) { try LogOpener.open("postgres://localhost/db") }
    }
}

@Suite struct ImporterIncrementalTests {
    func write(_ path: String, _ text: String) {
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    }

    func append(_ path: String, _ text: String) throws {
        let h = FileHandle(forWritingAtPath: path)!
        try h.seekToEnd()
        h.write(Data(text.utf8))
        try h.close()
    }

    func fullImportDump(_ text: String) throws -> String {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("full.jsonl").path
        write(path, text)
        let store = try SQLiteStore(path: dir.appendingPathComponent("full.rewind").path)
        _ = try importFile(path, store: store)
        return try store.dump()
    }

    @Test func unchangedFileIsReusedAndAGrownFileImportsOnlyItsTail() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("log.jsonl").path
        let first = (1...5).map { line("e\($0)", "2026-01-01T00:00:0\($0)Z") + "\n" }.joined()
        let second = (6...9).map { line("e\($0)", "2026-01-01T00:00:0\($0)Z") + "\n" }.joined() + line("e1", "2026-01-01T00:00:09Z") + "\n"
        write(path, first)
        let store = try SQLiteStore(path: dir.appendingPathComponent("log.rewind").path)
        #expect(try importFile(path, store: store).kind == .full)
        #expect(try importFile(path, store: store).kind == .upToDate)
        try append(path, second)
        let grown = try importFile(path, store: store)
        #expect(grown.kind == .resumed(fromLine: 6))
        #expect(grown.summary.accepted == 9 && grown.summary.duplicates == 1)
        #expect(try store.dump() == (try fullImportDump(first + second)))
    }

    @Test func anUnterminatedLastLineIsReReadWhenTheFileGrows() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("log.jsonl").path
        let complete = line("e1", "2026-01-01T00:00:01Z") + "\n"
        let partial = #"{"id":"e2","ts":"2026-01-01T00:00:02Z","serv"#
        write(path, complete + partial)
        let store = try SQLiteStore(path: dir.appendingPathComponent("log.rewind").path)
        let before = try importFile(path, store: store)
        #expect(before.summary.rejected == 1 && before.summary.accepted == 1)
        let rest = #"ice":"svc","stream":"s","type":"T"}"# + "\n" + line("e3", "2026-01-01T00:00:03Z") + "\n"
        try append(path, rest)
        let after = try importFile(path, store: store)
        #expect(after.summary.rejected == 0 && after.summary.accepted == 3)
        #expect(after.quarantinePath == nil)
        #expect(try store.dump() == (try fullImportDump(complete + partial + rest)))
    }

    @Test func aRewrittenFileIsImportedAgainFromScratch() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("log.jsonl").path
        write(path, line("e1", "2026-01-01T00:00:01Z") + "\n")
        let store = try SQLiteStore(path: dir.appendingPathComponent("log.rewind").path)
        _ = try importFile(path, store: store)
        let replaced = line("x1", "2026-01-01T00:00:05Z") + "\n" + line("x2", "2026-01-01T00:00:06Z") + "\n"
        write(path, replaced)
        let result = try importFile(path, store: store)
        #expect(result.kind == .full)
        #expect(try store.event(at: 0).id == "x1")
        #expect(try store.dump() == (try fullImportDump(replaced)))
    }

    @Test func backwardsTimestampsAreReportedAndOrderedByTimeThenLine() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("log.jsonl").path
        write(path, [line("a", "2026-01-01T00:00:05Z"), line("b", "2026-01-01T00:00:03Z"),
                     line("c", "2026-01-01T00:00:05Z"),
                     #"{"id":"d","ts":1767225604000,"service":"svc","stream":"s","type":"T"}"#].joined(separator: "\n"))
        let store = try SQLiteStore(path: dir.appendingPathComponent("log.rewind").path)
        var diagnostics: [ImportDiagnostic] = []
        let result = try importFile(path, store: store, diagnostics: &diagnostics)
        #expect(result.summary.backwards == 2)
        let backwardsLines = diagnostics.compactMap { d -> Int? in if case .backwards(let l, _, _) = d { return l }; return nil }
        #expect(backwardsLines == [2, 4])
        var ids: [String] = []
        try store.forEachEvent(in: 0..<4) { ids.append($0.id) }
        #expect(ids == ["b", "d", "a", "c"])
    }

    @Test func smallBatchesGiveTheSameStore() throws {
        let text = (1...50).map { line("e\($0 % 40)", "2026-01-01T00:00:\(String(format: "%02d", 59 - $0))Z") }.joined(separator: "\n") + "\nnot json\n"
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("log.jsonl").path
        write(path, text)
        let store = try SQLiteStore(path: dir.appendingPathComponent("small.rewind").path)
        let importer = JSONLImporter(path: path, store: store, quarantinePath: dir.appendingPathComponent("q.jsonl").path)
        importer.batchLines = 3
        _ = try importer.run()
        #expect(try store.dump() == (try fullImportDump(text)))
    }
}

@Suite struct FormatConversionTests {
    func importLines(_ lines: [String], format: LogFormat) throws -> (SQLiteStore, ImportResult) {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("f.jsonl").path
        FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
        let store = try SQLiteStore(path: dir.appendingPathComponent("f.rewind").path)
        let importer = JSONLImporter(path: path, store: store, quarantinePath: dir.appendingPathComponent("f.rejected.jsonl").path)
        importer.format = format
        return (store, try importer.run())
    }

    @Test func kcatEnvelopesBecomeEvents() throws {
        let (store, result) = try importLines([
            #"{"topic":"accounts","partition":2,"offset":7,"tstype":"create","ts":1767225600000,"broker":1,"key":"account-A","payload":"{\"type\":\"MoneyDeposited\",\"amount\":5}"}"#,
            #"{"topic":"accounts","partition":2,"offset":8,"ts":1767225601000,"key":"account-A","payload":"{\"id\":\"evt-9\",\"ts\":\"2026-01-01T00:00:01Z\",\"service\":\"accounts\",\"stream\":\"account-A\",\"type\":\"Closed\"}"}"#,
            #"{"topic":"accounts","partition":2,"offset":7,"ts":1767225600000,"key":"account-A","payload":"{\"type\":\"MoneyDeposited\",\"amount\":5}"}"#,
            #"{"no":"envelope"}"#,
            #"{"topic":"accounts","partition":2,"offset":9,"ts":1767225602000,"key":"account-B","headers":["traceparent","00-ab","retry","2"],"payload":"{\"type\":\"Opened\"}"}"#,
            #"{"topic":"accounts","partition":2,"offset":10,"ts":1767225603000,"key":"account-B","headers":["odd"],"payload":"{}"}"#,
        ], format: .kcat)
        #expect(result.summary.accepted == 3 && result.summary.duplicates == 1 && result.summary.rejected == 2)
        #expect(try store.event(at: 2).meta?["headers"] == .object(["traceparent": .string("00-ab"), "retry": .string("2")]), "headers are kept in meta")
        let first = try store.event(at: 0)
        #expect(first.id == "accounts-2-7" && first.service == "accounts" && first.stream == "account-A")
        #expect(first.type == "MoneyDeposited" && first.data["amount"] == .int(5))
        #expect(first.meta?["offset"] == .int(7))
        #expect(try store.event(at: 1).id == "evt-9")
    }

    @Test func outboxRowsAndTheOutboxRoutersRecordsBecomeTheirEvents() throws {
        // Debezium reading a transactional outbox table: each inserted row is the event it carries;
        // the relay publishing it twice is a duplicate (same outbox id); the cleanup delete is refused.
        let insert = #"{"payload":{"before":null,"after":{"id":"ev-1","aggregatetype":"accounts","aggregateid":"account-A","type":"MoneyDebited","payload":"{\"amount\":5}"},"source":{"table":"outbox","ts_ms":1767225600000,"lsn":1},"op":"c"}}"#
        let (store, result) = try importLines([
            insert, insert.replacingOccurrences(of: #""lsn":1"#, with: #""lsn":2"#),
            #"{"before":{"id":"ev-1","aggregatetype":"accounts","aggregateid":"account-A","type":"MoneyDebited","payload":"{}"},"after":null,"source":{"table":"outbox","ts_ms":1767225601000},"op":"d"}"#,
        ], format: .debezium)
        #expect(result.summary.accepted == 1 && result.summary.duplicates == 1 && result.summary.rejected == 1)
        let e = try store.event(at: 0)
        #expect(e.id == "ev-1" && e.service == "accounts" && e.stream == "account-A" && e.type == "MoneyDebited" && e.data["amount"] == .int(5))
        // What the outbox event router publishes: key = aggregate id, headers carry the outbox id and type.
        let routed = #"{"topic":"outbox.event.accounts","partition":0,"offset":3,"ts":1767225600000,"key":"account-A","headers":["id","ev-1","eventType","MoneyDebited"],"payload":"{\"amount\":5}"}"#
        let (kafka, r2) = try importLines([routed, routed.replacingOccurrences(of: #""offset":3"#, with: #""offset":4"#)], format: .kcat)
        #expect(r2.summary.accepted == 1 && r2.summary.duplicates == 1, "the router's redelivery is a duplicate by the outbox id")
        let k = try kafka.event(at: 0)
        #expect(k.id == "ev-1" && k.type == "MoneyDebited" && k.stream == "account-A" && k.service == "outbox.event.accounts")
    }

    @Test func aDebeziumRowImageReplacesTheDocumentEverywhere() throws {
        // A column dropped between two changes is gone from the document (it is the row after the
        // change, not a patch); the index, the strategies and replay agree.
        let (store, _) = try importLines([
            #"{"after":{"id":"A","balance":10,"note":"x"},"source":{"table":"accounts","ts_ms":1767225600000,"lsn":1},"op":"c"}"#,
            #"{"before":{"id":"A","balance":10,"note":"x"},"after":{"id":"A","balance":3},"source":{"table":"accounts","ts_ms":1767225601000,"lsn":2},"op":"u"}"#,
            #"{"before":{"id":"A","balance":3},"after":null,"source":{"table":"accounts","ts_ms":1767225602000,"lsn":3},"op":"d"}"#,
            #"{"after":{"id":"A","balance":1},"source":{"table":"accounts","ts_ms":1767225603000,"lsn":4},"op":"c"}"#,
        ], format: .debezium)
        let replay = ReplayStrategy(source: store, fold: Fold())
        #expect(try replay.hydrate(to: 2).state.document(service: "accounts", stream: "A") == .object(["id": .string("A"), "balance": .int(3)]))
        #expect(try replay.hydrate(to: 3).state.document(service: "accounts", stream: "A") == nil)
        #expect(try replay.hydrate(to: 4).state.document(service: "accounts", stream: "A") == .object(["id": .string("A"), "balance": .int(1)]))
        let maintenance = IndexMaintenance(store: store, fold: Fold())
        let index = TimelineIndex(image: try maintenance.update())
        for p in 0...4 {
            #expect(try StateView(index: index, versions: index.diff(to: p).versions, position: p).materialized() == (try replay.hydrate(to: p)).state)
        }
    }

    @Test func debeziumChangeEventsBecomeEvents() throws {
        let (store, result) = try importLines([
            #"{"payload":{"before":null,"after":{"id":"A","balance":10},"source":{"db":"bank","table":"accounts","ts_ms":1767225600000,"lsn":100},"op":"c","ts_ms":1767225600100}}"#,
            #"{"before":{"id":"A","balance":10},"after":{"id":"A","balance":7},"source":{"db":"bank","table":"accounts","ts_ms":1767225601000,"lsn":101},"op":"u"}"#,
            #"{"before":{"id":"A","balance":7},"after":null,"source":{"db":"bank","table":"accounts","ts_ms":1767225602000,"lsn":102},"op":"d"}"#,
        ], format: .debezium)
        #expect(result.summary.accepted == 3)
        let replay = ReplayStrategy(source: store, fold: Fold())
        #expect(try replay.hydrate(to: 2).state.document(service: "accounts", stream: "A") == .object(["id": .string("A"), "balance": .int(7)]))
        #expect(try replay.hydrate(to: 3).state.document(service: "accounts", stream: "A") == nil, "a delete removes the document")
        #expect(try store.event(at: 1).type == "Updated")
    }
}

@Suite struct StoreSearchTests {
    @Test func searchBindsItsTextAndNeverRunsItAsSQL() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("s.jsonl").path
        let lines = [line("a", "2026-01-01T00:00:01Z", type: "Paid", data: #"{"note":"it's fine"}"#),
                     line("b", "2026-01-01T00:00:02Z", stream: "t", type: "Paid"),
                     line("c", "2026-01-01T00:00:03Z", type: "Refunded", data: #"{"note":"x'); DROP TABLE events; --"}"#)]
        FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
        let store = try SQLiteStore(path: dir.appendingPathComponent("s.rewind").path)
        _ = try importFile(path, store: store)
        #expect(try store.search(EventQuery("type:Paid")) == [0, 1])
        #expect(try store.search(EventQuery("type:Paid stream:t")) == [1])
        #expect(try store.search(EventQuery("it's")) == [0])
        #expect(try store.search(EventQuery("'); DROP TABLE events; --")) == [2], "matched as text, in c's payload")
        #expect(try store.search(EventQuery("DROP")) == [2])
        #expect(try store.eventCount() == 3, "the table is still there")
        // A word also matches the type, service or stream name, in part — the same as in memory.
        #expect(try store.search(EventQuery("Refund")) == [2])
        #expect(try store.search(EventQuery("Paid")) == [0, 1])
        #expect(try store.search(EventQuery("sv")) == [0, 1, 2], "service svc")
        let events = ParsedLog(text: lines.joined(separator: "\n")).events
        #expect(events.indices.filter { EventQuery("Refund").matches(events[$0]) } == [2])
    }
}

/// SQLite's failures reach the user as what failed and on which file, never as raw SQLite text.
@Suite struct StoreFailureMessageTests {
    @Test func failuresNameTheStoreAndSayWhatFailed() {
        func message(_ code: ResultCode) -> StoreError {
            StoreError.from(DatabaseError(resultCode: code, message: "sqlite says"), location: "/data/l.rewind", doing: "write the store")
        }
        #expect(message(.SQLITE_FULL).message == "/data/l.rewind: cannot write the store: the disk is full (sqlite says)")
        #expect(message(.SQLITE_READONLY).message.hasPrefix("/data/l.rewind: cannot write the store: the store is read-only"))
        #expect(message(ResultCode(rawValue: 8 | (2 << 8))).message.contains("read-only"), "extended codes map by their primary code")
        #expect(message(.SQLITE_IOERR).message == "/data/l.rewind: cannot write the store: an I/O error (sqlite says)")
        #expect(message(.SQLITE_CORRUPT).isDamage && !message(.SQLITE_FULL).isDamage)
    }
}
