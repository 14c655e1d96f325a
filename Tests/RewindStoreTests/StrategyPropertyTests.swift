import Foundation
import Testing
@testable import RewindCore
@testable import RewindStore

nonisolated(unsafe) var ignoredDiagnostics: [ImportDiagnostic] = []

@Suite struct StrategyPropertyTests {
    func openStore(seed: UInt64, lines: Int) throws -> (SQLiteStore, Fold) {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("r.jsonl").path
        FileManager.default.createFile(atPath: path, contents: Data(RandomLog.text(seed: seed, lines: lines).utf8))
        let store = try SQLiteStore(path: dir.appendingPathComponent("r.rewind").path)
        _ = try importFile(path, store: store)
        return (store, Fold(rules: try Rules.parse(yaml: RandomLog.rules, file: "r.rules.yaml")))
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func everyStrategyReturnsReplaysStateAtRandomTimes(seed: UInt64) throws {
        let (store, fold) = try openStore(seed: seed, lines: 400)
        let (derived, status) = try store.ensureDerived(fold: fold, minimumKeyframeInterval: 8)
        #expect(status != .upToDate)
        #expect(try derived.keyframePositions().count > 3)
        let replay = ReplayStrategy(source: store, fold: fold)
        // The in-memory index, with keyframes often enough that every path is taken.
        let index = try TimelineIndex(source: store, fold: fold, keyframeInterval: 8)
        #expect(index.dayCount > 3)
        let strategies: [any HydrationStrategy] = [
            DiffStrategy(derived: derived), UndoStrategy(derived: derived), SquashStrategy(derived: derived),
            CacheStrategy(derived: derived, source: store, fold: fold, cacheAfter: 5),
        ] + IndexedStrategy.names.map { name in
            IndexedStrategy(name: name, index: index, cache: IndexedStateCache(index: index, budget: 8 * 1024), source: store)!
        }
        let count = try store.eventCount()
        var times: [Timestamp] = [.min, Timestamp(nanoseconds: 0), .max]
        try store.forEachEvent(in: 0..<count) { e in
            times.append(e.ts)                                             // exactly at an event
            times.append(Timestamp(nanoseconds: e.ts.nanoseconds - 1))
        }
        var rng = SplitMix64(seed: seed * 977)
        let first = times[3].nanoseconds, last = times.last!.nanoseconds
        for _ in 0..<400 {
            times.append(Timestamp(nanoseconds: first - 10_000_000 + Int64(rng.next() % UInt64(last - first + 20_000_000))))
        }
        var checked = 0
        for t in times.shuffled(using: &rng).prefix(700) {
            let position = try store.position(at: t)
            let expected = try replay.hydrate(to: position)
            #expect(try replay.hydrate(to: position, partitions: 2).state == expected.state)
            for s in strategies {
                let h = try s.hydrate(to: position)
                #expect(h.state == expected.state, "\(s.name) at position \(position) of \(count) (seed \(seed))")
                #expect(h.state.hash == expected.state.hash)
                checked += 1
            }
        }
        #expect(checked == 700 * 8)
        #expect(try derived.cachedPositions().count > 0, "the cache strategy stored what it computed")
    }

    /// Many streams (a bank log, ids far past one map leaf), several UTC days, batches of
    /// thousands of diffs: the index's strategies still return replay's state.
    @Test func theIndexMatchesReplayOnABankLogWithManyStreams() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("bank.jsonl").path
        var text = ""
        BankScenario(events: 50_000, seed: 3).generate { text += $0 + "\n" }
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        let store = try SQLiteStore(path: dir.appendingPathComponent("bank.rewind").path)
        _ = try importFile(path, store: store)
        let fold = Fold(rules: try Rules.parse(yaml: BankScenario.rulesYAML, file: "bank.rules.yaml"))
        let index = try TimelineIndex(source: store, fold: fold, keyframeInterval: 5_000)
        #expect(index.dayCount >= 2)
        #expect(index.head.count > 2_000)
        let replay = ReplayStrategy(source: store, fold: fold)
        let cache = IndexedStateCache(index: index, budget: 512 * 1024)
        let strategies = IndexedStrategy.names.map { IndexedStrategy(name: $0, index: index, cache: cache, source: store)! }
        var rng = SplitMix64(seed: 8)
        let count = try store.eventCount()
        for position in [0, 1, count - 1, count, 5_000, 5_001, 4_999] + (0..<8).map({ _ in Int(rng.next() % UInt64(count + 1)) }) {
            let expected = try replay.hydrate(to: position).state
            for s in strategies {
                #expect(try s.hydrate(to: position).state == expected, "\(s.name) at \(position) of \(count)")
            }
        }
        #expect(cache.cachedPositions.count > 1)
        #expect(cache.bytes <= 512 * 1024)

        // Document text spilled, chunk by chunk, to an unlinked mapped file: the same states,
        // little text left in memory, and no file left behind.
        let spilled = try TimelineIndex(source: store, fold: fold, keyframeInterval: 5_000,
                                        spill: MappedTemporaryFile(directory: dir.path), documentChunkSize: 4_096)
        #expect(spilled.residentDocumentBytes <= 4_096)
        for position in [count, count / 3, 1] {
            #expect(spilled.state(spilled.diff(to: position).versions).materialized() == (try replay.hydrate(to: position)).state)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".rewind-documents") }.isEmpty)
    }

    /// A log that only grew extends its derived data; the result is the full build's.
    @Test func derivedDataExtendsWhenTheLogGrowsAtTheEnd() throws {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("g.jsonl").path
        var lines: [String] = []
        BankScenario(events: 3000, seed: 5, accounts: 20, duplicateRate: 0.01).generate { lines.append($0) }
        let fold = Fold(rules: try Rules.parse(yaml: BankScenario.rulesYAML, file: "bank.rules.yaml"))
        FileManager.default.createFile(atPath: path, contents: Data((lines[..<1700].joined(separator: "\n") + "\n").utf8))
        let store = try SQLiteStore(path: dir.appendingPathComponent("g.rewind").path)
        _ = try importFile(path, store: store)
        _ = try store.ensureDerived(fold: fold, minimumKeyframeInterval: 64)
        let h = FileHandle(forWritingAtPath: path)!
        try h.seekToEnd()
        h.write(Data((lines[1700...].joined(separator: "\n") + "\n").utf8))
        try h.close()
        _ = try importFile(path, store: store)
        let (derived, status) = try store.ensureDerived(fold: fold, minimumKeyframeInterval: 64)
        guard case .built(let reason) = status else { Issue.record("not rebuilt"); return }
        #expect(reason.hasPrefix("the log grew: extended by"), "\(reason)")

        let full = try SQLiteStore(path: dir.appendingPathComponent("full.rewind").path)
        _ = try importFile(path, store: full, quarantine: dir.appendingPathComponent("q.jsonl").path, diagnostics: &ignoredDiagnostics)
        _ = try full.ensureDerived(fold: fold, minimumKeyframeInterval: 64)
        #expect(try store.derivedDump() == full.derivedDump())

        let count = try store.eventCount()
        let replay = ReplayStrategy(source: store, fold: fold)
        var rng = SplitMix64(seed: 3)
        for _ in 0..<60 {
            let p = Int(rng.next() % UInt64(count + 1))
            let expected = try replay.hydrate(to: p).state
            for s in [DiffStrategy(derived: derived), UndoStrategy(derived: derived), SquashStrategy(derived: derived)] as [any HydrationStrategy] {
                #expect(try s.hydrate(to: p).state == expected, "\(s.name) at \(p)")
            }
        }
    }

    @Test func undoListsTheIrreversibleEventsItCrosses() throws {
        let (store, fold) = try openStore(seed: 9, lines: 300)
        let (derived, _) = try store.ensureDerived(fold: fold, minimumKeyframeInterval: 1_000_000)
        let count = try store.eventCount()
        #expect(try derived.keyframePositions() == [0, count])
        // From the head back to position 1: every event after the first is undone.
        let h = try UndoStrategy(derived: derived).hydrate(to: 1)
        var expected: [String] = []
        try store.forEachEvent(in: 1..<count) { if fold.isIrreversible($0) { expected.append($0.id) } }
        #expect(!expected.isEmpty)
        #expect(h.irreversibleCrossed.map(\.eventID) == expected.reversed(), "newest first, as crossed")
        #expect(h.applied == count - 1)
        // The same through the in-memory index, from its head.
        let index = try TimelineIndex(source: store, fold: fold, keyframeInterval: 1_000_000)
        let i = try IndexedStrategy(name: "undo", index: index, source: store)!.hydrate(to: 1)
        #expect(i.irreversibleCrossed.map(\.eventID) == expected.reversed())
        #expect(i.irreversibleCrossed.allSatisfy { index.isIrreversible($0.position) })
        #expect(i.applied == count - 1)
        #expect(i.state == h.state)
    }

    @Test func derivedDataIsRebuiltWhenTheRulesChangeAndCachesOfOtherRulesAreIgnored() throws {
        let (store, fold) = try openStore(seed: 11, lines: 200)
        let (derived, _) = try store.ensureDerived(fold: fold)
        let count = try store.eventCount()
        _ = try CacheStrategy(derived: derived, source: store, fold: fold, cacheAfter: 1).hydrate(to: count)
        #expect(try derived.cachedPositions() == [count])
        #expect(try store.ensureDerived(fold: fold).1 == .upToDate)

        let other = Fold(rules: try Rules.parse(yaml: "services: {}", file: "other.yaml"))
        let (rebuilt, status) = try store.ensureDerived(fold: other)
        #expect(status == .built(reason: "the rules changed"))
        #expect(try rebuilt.cachedPositions().isEmpty, "a cache written under other rules is never trusted")
        let h = try CacheStrategy(derived: rebuilt, source: store, fold: other).hydrate(to: count)
        #expect(h.state == (try ReplayStrategy(source: store, fold: other).hydrate(to: count)).state)
    }
}

/// The cache strategy over the index keeps its states in the store's `index_cache` table.
@Suite struct IndexCacheStoreTests {
    func bankStore(events: Int) throws -> (SQLiteStore, Fold) {
        let dir = temporaryDirectory()
        let path = dir.appendingPathComponent("bank.jsonl").path
        var text = ""
        BankScenario(events: events, seed: 4).generate { text += $0 + "\n" }
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        let store = try SQLiteStore(path: dir.appendingPathComponent("bank.rewind").path)
        _ = try importFile(path, store: store)
        return (store, Fold(rules: try Rules.parse(yaml: BankScenario.rulesYAML, file: "bank.rules.yaml")))
    }

    @Test func statesKeptInOneRunAreServedInTheNextAndDamagedRowsNever() throws {
        let (store, fold) = try bankStore(events: 6_000)
        let table = SQLiteIndexCache(store: store, rules: fold.rules.fingerprint)
        let replay = ReplayStrategy(source: store, fold: fold)
        let count = try store.eventCount()
        let positions = [1_234, 2_500, 4_321, count]

        // First run: reaching these points keeps them, in memory and in the table.
        let first = IndexedStateCache(index: try TimelineIndex(source: store, fold: fold, keyframeInterval: 1_000), store: table)
        for p in positions { _ = first.reach(p, keep: true) }
        #expect(try table.rowCount() == positions.count)

        // Second run, a new index: the same states come back from the table, exactly replay's.
        let index = try TimelineIndex(source: store, fold: fold, keyframeInterval: 1_000)
        let second = IndexedStateCache(index: index, store: table)
        #expect(second.cachedPositions == positions)
        for p in positions {
            let r = second.reach(p)
            #expect(r.applied == 0, "served from the cached state at \(p)")
            #expect(index.state(r.versions).materialized() == (try replay.hydrate(to: p)).state)
        }

        // Bytes flipped on disk: the row is reported, dropped, and the state still right.
        try store.queue.write { db in
            try db.execute(sql: "UPDATE index_cache SET changes = CAST(zeroblob(LENGTH(changes)) AS BLOB) WHERE pos = 2500")
        }
        let third = IndexedStateCache(index: index, store: table)
        let r = third.reach(2_500)
        #expect(third.damaged == [2_500])
        #expect(r.applied == 2_500 - 1_234, "from the cached state before it")
        #expect(index.state(r.versions).materialized() == (try replay.hydrate(to: 2_500)).state)
        #expect(try table.rowCount() == positions.count - 1)

        // Rows of other rules are not read; a row whose timeline changed before it is dropped.
        let other = SQLiteIndexCache(store: store, rules: "other rules")
        #expect(try other.loadCachedStates().isEmpty)
        try store.queue.write { db in try db.execute(sql: "UPDATE index_cache SET last_id = 'gone' WHERE pos = 4321") }
        #expect(try table.loadCachedStates().map(\.position) == [1_234, count])
        #expect(try table.rowCount() == 2)
        // Values of the wrong type are a stale row, not a trap.
        try store.queue.write { db in
            try db.execute(sql: "UPDATE index_cache SET changes = 42, keyframe_interval = 'many' WHERE pos = 1234")
        }
        #expect(try table.loadCachedStates().map(\.position) == [count])
    }

    @Test func verifyFindsDriftedAndDamagedIndexCacheRowsAndRebuildsThem() throws {
        let (store, fold) = try bankStore(events: 5_000)
        let table = SQLiteIndexCache(store: store, rules: fold.rules.fingerprint)
        let index = try TimelineIndex(source: store, fold: fold, keyframeInterval: 1_000)
        let cache = IndexedStateCache(index: index, store: table)
        for p in [1_500, 2_700, 3_900] { _ = cache.reach(p, keep: true) }
        let (derived, _) = try store.ensureDerived(fold: fold)
        #expect(try DerivedVerifier(store: store, derived: derived, fold: fold).run().findings.isEmpty)

        // Drift: a well-formed row (hash rewritten to match) that sets a stream to an older
        // version of itself — what a buggy fold would have written.
        var row = try table.loadCachedStates().first { $0.position == 2_700 }!
        let changes = row.changes
        let id = changes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt32.self) }
        let older = (0..<1_999).last { index.eventStream[$0] == UInt32(littleEndian: id) }.map { UInt32($0 + 1) } ?? 0
        row.changes.replaceSubrange(4..<8, with: withUnsafeBytes(of: older.littleEndian) { Array($0) })
        row.hash = PersistedCachedState.hash(position: row.position, keyframeInterval: row.keyframeInterval, changes: row.changes)
        try table.saveCachedState(row)
        // Damage: bytes flipped at 3 900, hash left as it was.
        try store.queue.write { db in
            try db.execute(sql: "UPDATE index_cache SET changes = CAST(zeroblob(LENGTH(changes)) AS BLOB) WHERE pos = 3900")
        }

        let report = try DerivedVerifier(store: store, derived: derived, fold: fold).run()
        let drifted = report.findings.filter { $0.kind == "index cache" && !$0.damaged }
        #expect(drifted.map(\.position) == [2_700])
        #expect(drifted.first?.streams == [index.streamKey(UInt32(littleEndian: id))])
        #expect(drifted.first?.firstEvent != nil)
        #expect(report.findings.filter { $0.kind == "index cache" && $0.damaged }.map(\.position) == [3_900])
        #expect(report.indexCached == 3)
        #expect(report.rebuilt == 2)
        let again = try DerivedVerifier(store: store, derived: derived, fold: fold).run()
        #expect(again.findings.isEmpty, "rebuilt rows agree with replay: \(again.summary)")
    }

    @Test func theCacheStaysWithinItsMemoryBudget() throws {
        let (store, fold) = try bankStore(events: 6_000)
        let index = try TimelineIndex(source: store, fold: fold, keyframeInterval: 1_000)
        let cache = IndexedStateCache(index: index, budget: 6_000)
        for p in stride(from: 100, through: 5_900, by: 100) { _ = cache.reach(p, keep: true) }
        #expect(cache.bytes <= 6_000)
        #expect(cache.evictions > 0)
        #expect(cache.cachedPositions.last == 5_900, "the most recent stays")
    }
}
