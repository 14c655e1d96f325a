import Foundation
import GRDB
import Testing
@testable import RewindCore
@testable import RewindStore
import RewindTestSupport

/// A store made for one test, with a way to change its tables behind its back (SQL run on the
/// backend's own connection, the tables unqualified) and to open it a second time.
struct StoreFixture {
    let store: any EventStore
    let tamper: (String) throws -> Void
    let second: () throws -> any EventStore
}

/// The one suite every `EventStore` backend must pass, unchanged: an SQLite file and a
/// PostgreSQL schema (on the server `TestPostgres` gives). Add a backend to `factories`.
@Suite struct StoreConformanceTests {
    static let factories: [(String, @Sendable () throws -> StoreFixture)] = [
        ("sqlite-file", {
            let path = temporaryDirectory().appendingPathComponent("s.rewind").path
            return StoreFixture(store: try SQLiteStore(path: path),
                                tamper: { sql in try DatabaseQueue(path: path).write { try $0.execute(sql: sql) } },
                                second: { try SQLiteStore(path: path) })
        }),
        ("postgres", {
            let url = TestPostgres.freshURL()
            let store = try PostgresStore(url: url, create: true)
            return StoreFixture(store: store, tamper: { sql in
                let parsed = try PostgresURL(url)
                let c = try PGConnection(parsed)
                try c.execute("SET search_path TO \"\(parsed.schema)\"; " + sql)
            }, second: { try PostgresStore(url: url, create: false) })
        }),
    ]

    static var names: [String] { factories.map(\.0) }

    func fixture(_ name: String) throws -> StoreFixture {
        try Self.factories.first { $0.0 == name }!.1()
    }

    func make(_ name: String) throws -> any EventStore { try fixture(name).store }

    func add(_ batch: inout ImportBatch, _ line: Int, _ seconds: Int64, registry: inout NameRegistry) {
        batch.addEvent(line: line, ts: Timestamp(nanoseconds: seconds * 1_000_000_000), id: "e\(line)",
                       service: "svc", stream: "s\(line % 3)", type: "T", tsRaw: "\(seconds * 1000)",
                       data: #"{"n":\#(line)}"#, registry: &registry)
    }

    @Test(arguments: names) func appendsAndReadsTheTimelineInOrder(_ name: String) throws {
        let store = try make(name)
        var batch = ImportBatch()
        var registry = NameRegistry()
        for i in 1...5 { add(&batch, i, Int64(i * 10), registry: &registry) }
        try store.append(batch, checkpoint: ImportCheckpoint(sourcePath: "/x", line: 5))
        #expect(try store.eventCount() == 5)
        #expect(try store.position(at: Timestamp(nanoseconds: 0)) == 0)
        #expect(try store.position(at: Timestamp(nanoseconds: 30_000_000_000)) == 3)
        #expect(try store.position(at: Timestamp(nanoseconds: 30_000_000_001)) == 3)
        #expect(try store.position(at: .max) == 5)
        var lines: [Int] = []
        let bytes = try store.forEachEvent(in: 1..<4) { lines.append($0.line) }
        #expect(lines == [2, 3, 4])
        // Per event: its id (2), the ts as written ("20000": 5), data ({"n":2}: 7), plus 24 for
        // the numbers: 38 each.
        #expect(bytes == 3 * 38)
        let e = try store.event(at: 4)
        #expect(e.id == "e5" && e.data == .object(["n": .int(5)]) && e.tsRaw == .int(50_000))
        #expect(try store.checkpoint()?.line == 5)
    }

    @Test(arguments: names) func restoresOrderAfterOutOfOrderRows(_ name: String) throws {
        let store = try make(name)
        var batch = ImportBatch()
        var registry = NameRegistry()
        for (l, t) in [(1, 10), (2, 30), (3, 20), (4, 20), (5, 5)] { add(&batch, l, Int64(t), registry: &registry) }
        try store.append(batch, checkpoint: ImportCheckpoint(sourcePath: "/x"))
        let identity = try store.identity()
        try store.restoreTimelineOrder()
        #expect(try store.identity() != identity, "positions moved: a new identity")
        var order: [Int] = []
        try store.forEachEvent(in: 0..<5) { order.append($0.line) }
        #expect(order == [5, 1, 3, 4, 2])  // by ts, equal ts by line
        #expect(try store.position(at: Timestamp(nanoseconds: 20_000_000_000)) == 4)
    }

    @Test(arguments: names) func discardsLinesAfterACheckpoint(_ name: String) throws {
        let store = try make(name)
        var batch = ImportBatch()
        var registry = NameRegistry()
        for i in 1...4 { add(&batch, i, Int64(i), registry: &registry) }
        batch.duplicates = [(5, "e1", 1)]
        batch.rejected = [(6, "bad")]
        try store.append(batch, checkpoint: ImportCheckpoint(sourcePath: "/x"))
        try store.discardLines(after: 3)
        let s = try store.summary()
        #expect(s.accepted == 3 && s.duplicates == 0 && s.rejected == 0)
        #expect(try store.acceptedIDs() == [EventID("e1"): 1, EventID("e2"): 2, EventID("e3"): 3])
    }

    @Test(arguments: names) func resetDropsEverything(_ name: String) throws {
        let store = try make(name)
        var batch = ImportBatch()
        var registry = NameRegistry()
        add(&batch, 1, 1, registry: &registry)
        try store.append(batch, checkpoint: ImportCheckpoint(sourcePath: "/x"))
        let identity = try store.identity()
        try store.reset()
        #expect(try store.identity() != identity)
        #expect(try store.registry().streams.isEmpty)
        #expect(try store.eventCount() == 0)
        #expect(try store.checkpoint() == nil)
    }

    @Test(arguments: names) func numbersStreamsAndTypesAndKeepsItsIdentityWhileItGrows(_ name: String) throws {
        let store = try make(name)
        var registry = NameRegistry()
        var batch = ImportBatch()
        for i in 1...4 { add(&batch, i, Int64(i), registry: &registry) }
        try store.append(batch, checkpoint: ImportCheckpoint(sourcePath: "/x"))
        let identity = try store.identity()
        var next = ImportBatch()
        next.addEvent(line: 5, ts: Timestamp(nanoseconds: 9_000_000_000), id: "e5", service: "other", stream: "s1", type: "U",
                      tsRaw: #""1970-01-01T00:00:09Z""#, data: nil, registry: &registry)
        try store.append(next, checkpoint: ImportCheckpoint(sourcePath: "/x"))
        #expect(try store.identity() == identity, "appending keeps the identity")
        let names = try store.registry()
        #expect(names.streams.map { "\($0.service)/\($0.stream)" } == ["svc/s1", "svc/s2", "svc/s0", "other/s1"])
        #expect(names.types == ["T", "U"])
        var numbered: [UInt32] = []
        try store.forEachNumberedEvent(in: 0..<5) { _, id in numbered.append(id) }
        #expect(numbered == [0, 1, 2, 0, 3])
        let e = try store.event(at: 4)
        #expect(e.service == "other" && e.type == "U" && e.tsText == #""1970-01-01T00:00:09Z""#, "a canonical ts is given back as written")
        #expect(try store.streamNames(from: 2).map(\.service) == ["svc", "other"])
    }

    @Test(arguments: names) func keepsCachedStatesWhateverTheirRules(_ name: String) throws {
        let store = try make(name)
        let a = CachedStateRow(position: 3, rules: "r1", version: 1, lastEventID: "e3", changes: [1, 2, 3, 4, 5, 6, 7, 8])
        let b = CachedStateRow(position: 1, rules: "r2", version: 1, lastEventID: "e1", changes: [])
        try store.saveCachedState(a)
        try store.saveCachedState(b)
        #expect(try store.loadCachedStates() == [b, a])
        try store.removeCachedStates(at: [1])
        #expect(try store.loadCachedStates() == [a])
    }

    @Test(arguments: names) func checkpointRoundTrips(_ name: String) throws {
        let store = try make(name)
        var hash = ContentHash()
        hash.update("abc def ghi")
        var c = ImportCheckpoint(sourcePath: "/log.jsonl", sourceSize: 99, sourceModified: 123, sourceInode: 7, offset: 11,
                                 line: 2, hash: hash, quarantineLength: 4, latest: Timestamp(nanoseconds: -5),
                                 sorted: false, blankLines: 1, tail: true, complete: true)
        c.format = "kcat"
        try store.append(ImportBatch(), checkpoint: c)
        #expect(try store.checkpoint() == c)
    }

    func batch(_ rows: [(line: Int, seconds: Int64, service: String, stream: String, type: String, id: String, data: String?)],
               registry: inout NameRegistry) -> ImportBatch {
        var batch = ImportBatch()
        for r in rows {
            batch.addEvent(line: r.line, ts: Timestamp(nanoseconds: r.seconds * 1_000_000_000), id: r.id, service: r.service,
                           stream: r.stream, type: r.type, tsRaw: "\(r.seconds * 1000)", data: r.data, registry: &registry)
        }
        return batch
    }

    @Test(arguments: names) func keepsAnyNameAndIdExactlyAndSearchesThem(_ name: String) throws {
        let store = try make(name)
        var registry = NameRegistry()
        // A NUL, a backslash, a tab, canonically equivalent spellings (é as one code point and as e + ◌́).
        let b = batch([(1, 1, "svc\u{0}a", "s\\1", "T\tx", "id\u{0}1", #"{"note":"Balance \\ due\ttab"}"#),
                       (2, 2, "caf\u{E9}", "x", "Opened", "e2", #"{"n":1}"#),
                       (3, 3, "cafe\u{301}", "x", "opened", "E3", nil)], registry: &registry)
        try store.append(b, checkpoint: ImportCheckpoint(sourcePath: "/x", line: 3))
        let names = try store.registry()
        #expect(names.streams.map(\.service).map { Array($0.unicodeScalars) } == [Array("svc\u{0}a".unicodeScalars), Array("caf\u{E9}".unicodeScalars), Array("cafe\u{301}".unicodeScalars)])
        #expect(names.streams[0].stream.utf8.elementsEqual("s\\1".utf8))
        let first = try store.event(at: 0)
        #expect(first.id.utf8.elementsEqual("id\u{0}1".utf8) && first.type.utf8.elementsEqual("T\tx".utf8))
        #expect(first.data == .object(["note": .string("Balance \\ due\ttab")]))
        #expect(try store.acceptedIDs()[EventID("id\u{0}1")] == 1)
        // Code points, not canonical equivalence; ASCII case folded only when the query is all lower case.
        #expect(try store.search(EventQuery("service:caf\u{E9}")) == [1])
        #expect(try store.search(EventQuery("service:cafe\u{301}")) == [2])
        #expect(try store.search(EventQuery("opened")) == [1, 2])
        #expect(try store.search(EventQuery("Opened")) == [1])
        #expect(try store.search(EventQuery("e3")) == [2])
        #expect(try store.search(EventQuery("due")) == [0])
        #expect(try store.search(EventQuery("\\")) == [0])
        #expect(try store.search(EventQuery("stream:s\\")) == [0])
        #expect(try store.search(EventQuery("x"), in: 1..<2, limit: 10) == [1])
        #expect(try store.search(EventQuery("x"), in: nil, limit: 1) == [0])
        #expect(try store.search(EventQuery("'; DROP TABLE events; --")) == [])
        #expect(try store.eventCount() == 3, "a search is data, never SQL")
    }

    @Test(arguments: names) func bookkeepingAccountsForEveryLine(_ name: String) throws {
        let store = try make(name)
        var registry = NameRegistry()
        var b = batch([(1, 1, "s", "a", "T", "e1", "{}"), (3, 2, "s", "b", "T", "e3", "{}")], registry: &registry)
        b.duplicates = [(2, "e1", 1), (5, "e3", 3)]
        b.rejected = [(4, "line 4: not JSON: \u{1B}[31m")]
        b.backwards = [(3, Timestamp(nanoseconds: 2), Timestamp(nanoseconds: 5))]
        try store.append(b, checkpoint: ImportCheckpoint(sourcePath: "/x", line: 5, blankLines: 2))
        #expect(try store.summary() == ImportSummary(accepted: 2, duplicates: 2, rejected: 1, blank: 2, backwards: 1))
        #expect(try store.duplicateLines(limit: 1).map(\.line) == [2])
        #expect(try store.rejectedLines(limit: 9).map(\.reason) == ["line 4: not JSON: \u{1B}[31m"])
        #expect(try store.backwardsLines(limit: 9).map(\.latest) == [Timestamp(nanoseconds: 5)])
        let marked = try store.markedLines()
        #expect(marked.backwards == [3] && marked.duplicated == [1, 3])
    }

    @Test(arguments: names) func aChangedRowIsDamageNeverServed(_ name: String) throws {
        let f = try fixture(name)
        var registry = NameRegistry()
        let b = batch((1...3).map { ($0, Int64($0), "s", "a", "T", "e\($0)", #"{"n":\#($0)}"#) }, registry: &registry)
        try f.store.append(b, checkpoint: ImportCheckpoint(sourcePath: "/x", line: 3))
        #expect(try f.store.event(at: 1).data == .object(["n": .int(2)]))
        try f.tamper(#"UPDATE events SET data = '{"n":9}' WHERE pos = 1"#)
        #expect(throws: StoreError.self) { try f.second().event(at: 1) }
        do { _ = try f.second().forEachEvent(in: 0..<3) { _ in } } catch let e as StoreError { #expect(e.isDamage) }
        try f.tamper("UPDATE streams SET service = 'x' WHERE id = 0")
        do { _ = try f.second().registry(); Issue.record("a changed name was served") } catch let e as StoreError { #expect(e.isDamage) }
        try f.tamper("DELETE FROM events WHERE pos = 1")
        do { _ = try f.second().forEachEvent(in: 0..<3) { _ in }; Issue.record("a gap was served") } catch let e as StoreError { #expect(e.isDamage) }
    }

    @Test(arguments: names) func aReaderNeverSeesHalfABatch(_ name: String) throws {
        let f = try fixture(name)
        let reader = try f.second()
        let writer = f.store
        let done = Locked(false)
        let seen = Locked<[Int]>([])
        let thread = Thread {
            while !done.value {
                if let n = try? reader.eventCount() { seen.mutate { $0.append(n) } }
                if let s = try? reader.summary() { seen.mutate { $0.append(s.accepted) } }
            }
        }
        thread.start()
        var registry = NameRegistry()
        for k in 0..<20 {
            let b = batch((1...50).map { (k * 50 + $0, Int64(k * 50 + $0), "s", "a\($0 % 7)", "T", "e\(k * 50 + $0)", "{}") }, registry: &registry)
            try writer.append(b, checkpoint: ImportCheckpoint(sourcePath: "/x", line: k * 50 + 50))
        }
        done.mutate { $0 = true }
        while !thread.isFinished { usleep(1000) }
        #expect(seen.value.allSatisfy { $0 % 50 == 0 }, "\(seen.value.filter { $0 % 50 != 0 })")
        #expect(try reader.eventCount() == 1000)
    }

    @Test(arguments: names) func cachedStatesWrittenByOneAreReadWholeByAnother(_ name: String) throws {
        let f = try fixture(name)
        let other = try f.second()
        let big = [UInt8]((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let done = Locked(false)
        let bad = Locked(0)
        let thread = Thread {
            while !done.value {
                for row in (try? other.loadCachedStates()) ?? [] where row.hash != row.computedHash { bad.mutate { $0 += 1 } }
            }
        }
        thread.start()
        for i in 0..<30 {
            try f.store.saveCachedState(CachedStateRow(position: i % 5, rules: "r", version: i, lastEventID: "e\(i)", changes: big.shuffled()))
        }
        done.mutate { $0 = true }
        while !thread.isFinished { usleep(1000) }
        #expect(bad.value == 0)
        #expect(try other.cachedStateCount() == 5)
        try f.tamper("UPDATE cached_states SET rules = 'other' WHERE pos = 2")
        let rows = try other.loadCachedStates()
        #expect(rows.filter { $0.hash != $0.computedHash }.map(\.position) == [2], "the hash covers the key columns too")
    }

    @Test(arguments: names) func compactionReplacesThePrefix(_ name: String) throws {
        let store = try make(name)
        var registry = NameRegistry()
        let b = batch((1...4).map { ($0, Int64($0), "s", "a", "T", "e\($0)", "{}") }, registry: &registry)
        try store.append(b, checkpoint: ImportCheckpoint(sourcePath: "/x", line: 4))
        let identity = try store.identity()
        try store.replaceEvents([0, 1, 2], with: [SquashedEvent(line: 3, ts: 3_000_000_000, id: "rewind-squash:1970-01-01:s/a", stream: 0,
                                                                data: #"{"k":1}"#, meta: #"{"rewind":"squashed"}"#)])
        #expect(try store.identity() != identity)
        #expect(try store.eventCount() == 2)
        #expect(try store.event(at: 0).type == "Squashed" && store.event(at: 1).id == "e4")
        #expect(try store.acceptedIDs().keys.map(\.text).sorted() == ["e1", "e2", "e3", "e4", "rewind-squash:1970-01-01:s/a"])
    }
}

/// A value shared between a test and a thread it starts.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T { lock.withLock { stored } }
    func mutate(_ body: (inout T) -> Void) { lock.withLock { body(&stored) } }
}
