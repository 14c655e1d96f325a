import Foundation
import Testing
@testable import RewindCore
@testable import RewindStore
import RewindTestSupport
import RewindSimulation

nonisolated(unsafe) var ignoredDiagnostics: [ImportDiagnostic] = []

/// Keyframes every 8 events, 4 documents per block, a commit every 50: a few hundred events
/// cross every boundary of the index.
let tinyLayout = IndexLayout(keyframeInterval: 8, docBlockEvents: 4, segmentEvents: 50, deltaFrom: 16)

/// A log file with its rules beside it, opened as the commands open it.
func writeLog(_ text: String, rules: String?, in dir: URL, name: String = "r") -> String {
    let path = dir.appendingPathComponent("\(name).jsonl").path
    FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    if let rules { FileManager.default.createFile(atPath: dir.appendingPathComponent("\(name).rules.yaml").path, contents: Data(rules.utf8)) }
    return path
}

func openLog(_ path: String, layout: IndexLayout = tinyLayout, notices: ((String) -> Void)? = nil) throws -> OpenedLog {
    var reporting = LogOpener.Reporting()
    if let notices { reporting.notice = notices }
    let opened = try LogOpener.open(path, reporting: reporting, layout: layout)
    opened.lock.unlock()
    return opened
}

@Suite struct StrategyPropertyTests {
    /// The property the SPEC asks of every strategy, through the persisted index reopened from
    /// disk by a second open (as a later process does: mapped, nothing folded).
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func everyStrategyReturnsReplaysStateAtRandomTimes(seed: UInt64) throws {
        let dir = temporaryDirectory()
        let path = writeLog(RandomLog.text(seed: seed, lines: 400), rules: RandomLog.rules, in: dir)
        _ = try openLog(path)
        var notices: [String] = []
        let opened = try openLog(path) { notices.append($0) }
        #expect(notices.isEmpty, "the second open maps the index: \(notices)")
        #expect(opened.importResult?.kind == .upToDate)
        let index = opened.index
        #expect(index.image.segmentCount > 3)
        #expect(index.dayCount > 3)
        let store = opened.store as! SQLiteStore
        let strategies = opened.strategies(cache: opened.cache(budget: 8 * 1024))
        let replay = ReplayStrategy(source: store, fold: opened.fold)
        let count = try store.eventCount()
        #expect(index.count == count)
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
            for name in Strategies.names {
                let h = try strategies.hydrate(name, to: position)
                #expect(try h.state.materialized() == expected.state, "\(name) at position \(position) of \(count) (seed \(seed))")
                #expect(try h.state.hash() == expected.state.hash)
                #expect(h.issues.map(\.line) == expected.issues.map(\.line), "\(name) reports replay's skipped ops")
                checked += 1
            }
        }
        #expect(checked == 700 * 5)
        #expect(try store.cachedStateCount() > 0, "the cache strategy stored what it computed")
    }

    /// Many streams (a bank log, ids far past one map leaf), several UTC days, batches of
    /// thousands of diffs, the standard layout: the index's strategies still return replay's state.
    @Test func theIndexMatchesReplayOnABankLogWithManyStreams() throws {
        let dir = temporaryDirectory()
        var text = ""
        BankLoad(events: 50_000, seed: 3).generate { text += $0 + "\n" }
        let path = writeLog(text, rules: BankLoad.rulesYAML, in: dir, name: "bank")
        let opened = try openLog(path, layout: .standard)
        let index = opened.index
        #expect(index.dayCount >= 2)
        #expect(index.head.existing > 2_000)
        let replay = ReplayStrategy(source: opened.store, fold: opened.fold)
        let strategies = opened.strategies(cache: opened.cache(budget: 512 * 1024))
        var rng = SplitMix64(seed: 8)
        let count = index.count
        for position in [0, 1, count - 1, count, 4_096, 4_097, 4_095] + (0..<8).map({ _ in Int(rng.next() % UInt64(count + 1)) }) {
            let expected = try replay.hydrate(to: position).state
            for name in Strategies.names.dropFirst() {
                #expect(try strategies.hydrate(name, to: position).state.materialized() == expected, "\(name) at \(position) of \(count)")
            }
        }
        #expect(strategies.cache.cachedPositions.count > 1)
        #expect(strategies.cache.bytes <= 512 * 1024)
    }

    /// A log that grows extends its index (segments appended, nothing refolded before them);
    /// the result answers as a build of the whole log does.
    @Test func theIndexExtendsWhenTheLogGrowsAtTheEnd() throws {
        let dir = temporaryDirectory()
        var lines: [String] = []
        BankLoad(events: 3000, seed: 5, accounts: 20, duplicateRate: 0.01).generate { lines.append($0) }
        let path = writeLog(lines[..<1700].joined(separator: "\n") + "\n", rules: BankLoad.rulesYAML, in: dir, name: "g")
        let before = try openLog(path)
        let segments = before.index.image.segmentCount
        let h = FileHandle(forWritingAtPath: path)!
        try h.seekToEnd()
        h.write(Data((lines[1700...].joined(separator: "\n") + "\n").utf8))
        try h.close()
        var notices: [String] = []
        let opened = try openLog(path) { notices.append($0) }
        #expect(notices.isEmpty, "extended, not rebuilt: \(notices)")
        guard case .resumed = opened.importResult?.kind else { Issue.record("the tail was not imported alone"); return }
        #expect(opened.index.image.segmentCount > segments)
        let full = try openLog(writeLog(lines.joined(separator: "\n") + "\n", rules: BankLoad.rulesYAML, in: dir, name: "full"))
        #expect(full.index.count == opened.index.count)
        let replay = ReplayStrategy(source: opened.store, fold: opened.fold)
        var rng = SplitMix64(seed: 3)
        for _ in 0..<60 {
            let p = Int(rng.next() % UInt64(opened.index.count + 1))
            let expected = try replay.hydrate(to: p).state
            for reach in [opened.index.diff(to:), opened.index.undo(to:), opened.index.squash(to:)] {
                #expect(try StateView(index: opened.index, versions: reach(p).versions, position: p).materialized() == expected, "at \(p)")
            }
        }
    }

    /// Followed a few lines at a time, the log's index keeps its segments a keyframe interval long
    /// (the small last one is built again with the new lines), and compacts what it left behind.
    @Test func extendingAFewEventsAtATimeKeepsSegmentsFewAndTheFileCompact() throws {
        let dir = temporaryDirectory()
        var lines: [String] = []
        BankLoad(events: 2_000, seed: 8, accounts: 10).generate { lines.append($0) }
        let path = writeLog(lines[..<100].joined(separator: "\n") + "\n", rules: BankLoad.rulesYAML, in: dir, name: "f")
        var opened = try openLog(path, layout: IndexLayout(keyframeInterval: 64, docBlockEvents: 16, segmentEvents: 1_024))
        for start in stride(from: 100, to: 2_000, by: 20) {
            let h = FileHandle(forWritingAtPath: path)!
            try h.seekToEnd()
            h.write(Data((lines[start..<(start + 20)].joined(separator: "\n") + "\n").utf8))
            try h.close()
            opened = try openLog(path, layout: IndexLayout(keyframeInterval: 64, docBlockEvents: 16, segmentEvents: 1_024))
        }
        #expect(opened.index.count == (try opened.store.eventCount()))
        #expect(opened.index.image.segmentCount <= opened.index.count / 64 + 1, "\(opened.index.image.segmentCount) segments")
        let replay = ReplayStrategy(source: opened.store, fold: opened.fold)
        for p in stride(from: 0, through: opened.index.count, by: 97) {
            #expect(try StateView(index: opened.index, versions: opened.index.squash(to: p).versions, position: p).materialized()
                    == (try replay.hydrate(to: p)).state)
        }
        // Compacted: the same answers from a file of its live records only.
        let before = opened.index.image.bytes.count
        try opened.maintenance.compact(opened.index.image)
        let compacted = try openLog(path, layout: .standard)
        #expect(compacted.index.image.bytes.count < before)
        #expect(try IndexVerifier(index: compacted.index, source: compacted.store, fold: compacted.fold, cache: nil).run().findings.isEmpty)
    }

    @Test func undoListsTheIrreversibleEventsItCrosses() throws {
        let dir = temporaryDirectory()
        let opened = try openLog(writeLog(RandomLog.text(seed: 9, lines: 300), rules: RandomLog.rules, in: dir), layout: .standard)
        let count = opened.index.count
        // From the head back to position 1: every event after the first is undone.
        let h = try opened.strategies().hydrate("undo", to: 1)
        var expected: [Int] = []
        var p = 1
        try opened.store.forEachEvent(in: 1..<count) { if opened.fold.isIrreversible($0) { expected.append(p) }; p += 1 }
        #expect(!expected.isEmpty)
        #expect(h.crossed == expected.reversed(), "newest first, as crossed")
        #expect(h.applied == count - 1)
        #expect(try h.state.materialized() == (try ReplayStrategy(source: opened.store, fold: opened.fold).hydrate(to: 1)).state)
    }

    @Test func theIndexIsRebuiltWhenTheRulesChangeAndCachesOfOtherRulesAreIgnored() throws {
        let dir = temporaryDirectory()
        let path = writeLog(RandomLog.text(seed: 11, lines: 200), rules: RandomLog.rules, in: dir)
        let opened = try openLog(path)
        let count = opened.index.count
        _ = try opened.strategies().hydrate("cache", to: count)
        #expect(try opened.store.loadCachedStates().map(\.position) == [count])

        FileManager.default.createFile(atPath: dir.appendingPathComponent("r.rules.yaml").path, contents: Data("services: {}\n".utf8))
        var notices: [String] = []
        let other = try openLog(path) { notices.append($0) }
        #expect(notices == ["building the timeline index (the rules changed)"])
        #expect(other.index.image.identity.rules == other.rules.fingerprint)
        let cache = other.cache()
        #expect(cache.cachedPositions.isEmpty, "a cache written under other rules is never trusted")
        #expect(cache.foreign == 1)
        let h = try other.strategies(cache: cache).hydrate("cache", to: count)
        #expect(try h.state.materialized() == (try ReplayStrategy(source: other.store, fold: other.fold).hydrate(to: count)).state)
    }
}

/// The cache strategy keeps its states in the store's `cached_states` table, and the next
/// process reads them back.
@Suite struct CachedStatesTests {
    func bank(events: Int) throws -> String {
        let dir = temporaryDirectory()
        var text = ""
        BankLoad(events: events, seed: 4).generate { text += $0 + "\n" }
        return writeLog(text, rules: BankLoad.rulesYAML, in: dir, name: "bank")
    }

    @Test func statesKeptInOneProcessAreServedInTheNextAndDamagedRowsNever() throws {
        let path = try bank(events: 6_000)
        let positions = [1_234, 2_500, 4_321, 5_900]
        // First process: reaching these points keeps them, in memory and in the store.
        let first = try openLog(path, layout: .standard)
        for p in positions { _ = try first.strategies().hydrate("cache", to: p) }
        #expect(try first.store.cachedStateCount() == positions.count)

        // Second process: the same states come back from the store, exactly replay's.
        let opened = try openLog(path, layout: .standard)
        let replay = ReplayStrategy(source: opened.store, fold: opened.fold)
        let second = opened.cache()
        #expect(second.cachedPositions == positions)
        for p in positions {
            let r = second.reach(p)
            #expect(r.applied == 0, "served from the cached state at \(p)")
            #expect(try StateView(index: opened.index, versions: r.versions, position: p).materialized() == (try replay.hydrate(to: p)).state)
        }

        // A flipped byte in any column of a row — the key columns included — is damage:
        // reported, dropped, never served; the state is still right.
        let store = opened.store as! SQLiteStore
        for (column, sql) in [("changes", "changes = CAST(zeroblob(LENGTH(changes)) AS BLOB)"), ("rules", "rules = rules || 'x'"),
                              ("version", "version = version + 1"), ("last_id", "last_id = last_id || 'x'")] {
            try store.queue.write { db in try db.execute(sql: "UPDATE cached_states SET \(sql) WHERE pos = 2500") }
            let cache = opened.cache()
            let r = cache.reach(2_500)
            #expect(cache.damaged == [2_500], "a changed \(column) is reported")
            #expect(r.applied == 2_500 - 1_234, "from the cached state before it")
            #expect(try StateView(index: opened.index, versions: r.versions, position: 2_500).materialized() == (try replay.hydrate(to: 2_500)).state)
            #expect(try store.cachedStateCount() == positions.count - 1)
            _ = try opened.strategies().hydrate("cache", to: 2_500)  // written again, whole
            #expect(try store.cachedStateCount() == positions.count)
        }
        // A row whose position was changed is damage too (the hash covers it).
        try store.queue.write { db in try db.execute(sql: "UPDATE cached_states SET pos = 2501 WHERE pos = 2500") }
        #expect(opened.cache().cachedPositions == [1_234, 4_321, 5_900])
        // A row whose timeline changed before it (its hash made to match) is dropped as stale.
        var row = try store.loadCachedStates().first { $0.position == 4_321 }!
        row = CachedStateRow(position: row.position, rules: row.rules, version: row.version, lastEventID: "gone", changes: row.changes)
        try store.saveCachedState(row)
        let cache = opened.cache()
        #expect(cache.cachedPositions == [1_234, 5_900] && cache.stale == 1)
        // Values of the wrong type are damage, not a trap.
        try store.queue.write { db in try db.execute(sql: "UPDATE cached_states SET changes = 42, version = 'many' WHERE pos = 1234") }
        #expect(opened.cache().cachedPositions == [5_900])
    }

    @Test func verifyFindsDriftedAndDamagedCachedStatesAndKeyframes() throws {
        let path = try bank(events: 5_000)
        let opened = try openLog(path, layout: .standard)
        for p in [1_500, 2_700, 3_900] { _ = try opened.strategies().hydrate("cache", to: p) }
        let clean = try IndexVerifier(index: opened.index, source: opened.store, fold: opened.fold, cache: opened.cache()).run()
        #expect(clean.findings.isEmpty && clean.cachedStates == 3 && clean.events == opened.index.count)
        #expect(clean.maps == opened.index.image.maps.count + opened.index.image.days.count)

        // Drift: a well-formed row (its hash matching) that sets a stream to an older version of
        // itself — what a buggy fold would have written.
        let store = opened.store as! SQLiteStore
        var row = try store.loadCachedStates().first { $0.position == 2_700 }!
        let id = row.changes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) }
        // The version the stream had before the last event the state includes.
        let last = try #require(opened.index.previousEvent(of: id, before: 2_700))
        let older = opened.index.previousEvent(of: id, before: last).map { StreamVersion.make(position: $0, hasDocument: true) } ?? 0
        var changes = row.changes
        changes.replaceSubrange(4..<8, with: withUnsafeBytes(of: older.littleEndian) { Array($0) })
        row = CachedStateRow(position: row.position, rules: row.rules, version: row.version, lastEventID: row.lastEventID, changes: changes)
        try store.saveCachedState(row)
        // Damage: bytes flipped at 3 900, hash left as it was.
        try store.queue.write { db in
            try db.execute(sql: "UPDATE cached_states SET changes = CAST(zeroblob(LENGTH(changes)) AS BLOB) WHERE pos = 3900")
        }
        let report = try IndexVerifier(index: opened.index, source: store, fold: opened.fold, cache: opened.cache()).run()
        let drifted = report.findings.filter { $0.kind == "cached state" && !$0.damaged }
        #expect(drifted.map(\.position) == [2_700])
        #expect(drifted.first?.streams == [try opened.index.streamKey(id)])
        #expect(drifted.first?.firstEvent == opened.index.previousEvent(of: id, before: 2_700))
        #expect(report.findings.filter { $0.kind == "cached state" && $0.damaged }.map(\.position) == [3_900])
        #expect(!report.indexBad)
    }

    @Test func theCacheStaysWithinItsMemoryBudget() throws {
        let opened = try openLog(try bank(events: 6_000), layout: .standard)
        let cache = IndexCache(index: opened.index, rules: opened.rules.fingerprint, budget: 64_000, store: nil) { _ in "" }
        for p in stride(from: 100, through: 5_900, by: 100) { _ = cache.reach(p, keep: true) }
        #expect(cache.bytes <= 64_000)
        #expect(cache.evictions > 0)
        #expect(cache.cachedPositions.last == 5_900, "the most recent stays")
    }
}
