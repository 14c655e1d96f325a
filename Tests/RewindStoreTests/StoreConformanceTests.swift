import Foundation
import Testing
@testable import RewindCore
@testable import RewindStore

/// The one suite every `EventStore` backend must pass. Add a backend to `factories`.
@Suite struct StoreConformanceTests {
    static let factories: [(String, @Sendable () throws -> any EventStore)] = [
        ("sqlite-file", { try SQLiteStore(path: temporaryDirectory().appendingPathComponent("s.rewind").path) }),
    ]

    static var names: [String] { factories.map(\.0) }

    func make(_ name: String) throws -> any EventStore {
        try Self.factories.first { $0.0 == name }!.1()
    }

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
}
