import Foundation
import RewindCore
import RewindStore

/// `rewind bench strategies`: time to reach the state at random T, per strategy, with replay
/// measured in the same run as the baseline.
extension BenchCommand {
    static func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

    static func percentile(_ xs: [Double], _ p: Double) -> Double {
        let sorted = xs.sorted()
        return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p + 0.5))]
    }

    static func peakMegabytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss / 1024
    }

    static func duration(_ s: Double) -> String {
        s < 0.001 ? String(format: "%7.1f µs", s * 1e6) : s < 1 ? String(format: "%7.2f ms", s * 1e3) : String(format: "%7.2f s ", s)
    }

    /// Times `reach` at each position: (p50, p99, applied at p50).
    static func measure(_ positions: [Int], _ reach: (Int) throws -> Int) rethrows -> (Double, Double, Double) {
        var times: [Double] = [], applied: [Double] = []
        for p in positions {
            let start = DispatchTime.now().uptimeNanoseconds
            let n = try reach(p)
            times.append(seconds(since: start))
            applied.append(Double(n))
        }
        return (percentile(times, 0.5), percentile(times, 0.99), percentile(applied, 0.5))
    }

    /// 1/2, 1/4, 3/4, 1/8, 5/8, …: each point halfway into the largest gap left.
    static func vanDerCorput(_ n: Int) -> Double {
        var n = n, q = 0.5, r = 0.0
        while n > 0 {
            if n & 1 == 1 { r += q }
            n >>= 1
            q /= 2
        }
        return r
    }

    func benchStrategies(_ log: String) throws {
        let opened = try LogOpener.open(log)
        let store = opened.store
        let fold = Fold(rules: opened.rules)
        let count = try store.eventCount()
        var rng = SplitMix64(seed: seed)
        let positions = (0..<queries).map { _ in Int(rng.next() % UInt64(count + 1)) }
        Output.out("strategies: \(count) events, \(queries) random T per strategy (replay: \(max(3, queries / 10)))")

        // The in-memory index: one forward fold, then every strategy reaches T through it.
        let progress = ProgressBar(label: "indexing")
        var start = DispatchTime.now().uptimeNanoseconds
        let index = try TimelineIndex(source: store, fold: fold, keyframeInterval: keyframeInterval,
                                      spill: MappedTemporaryFile(directory: URL(fileURLWithPath: log).deletingLastPathComponent().path)) { done, total in
            progress.update(Int64(done), of: Int64(total))
        }
        progress.finish()
        let indexSeconds = BenchCommand.seconds(since: start)
        // The cache, warm: states reached at points spread over the log (each new one halfway
        // between earlier ones), until its memory budget is full.
        let cache = IndexedStateCache(index: index, budget: cacheBudget << 20)
        var warmed = 0
        while cache.evictions == 0 && warmed < 1 << 16 {
            warmed += 1
            _ = cache.reach(Int(Double(count) * BenchCommand.vanDerCorput(warmed)), keep: true)
        }
        let reaches: [(String, (Int) -> IndexedReach)] = [
            ("diff", index.diff(to:)), ("undo", index.undo(to:)), ("squash", index.squash(to:)), ("cache", { cache.reach($0) }),
        ]
        var results: [(String, (Double, Double, Double))] = []
        for (name, reach) in reaches {
            results.append((name, BenchCommand.measure(positions) { reach($0).applied }))
        }
        // One step back from the head, as the explorer's ← and undo's unit of work.
        var stepSeconds = Double.infinity
        for _ in 0..<3 {
            var versions = index.head
            let steps = min(count, 10_000)
            start = DispatchTime.now().uptimeNanoseconds
            for p in stride(from: count, to: count - steps, by: -1) { index.stepBack(&versions, from: p) }
            stepSeconds = min(stepSeconds, BenchCommand.seconds(since: start) / Double(max(steps, 1)))
        }
        let indexPeak = BenchCommand.peakMegabytes()
        // What a caller pays after reaching T to read the whole state as JSON documents (the same
        // for every strategy: proportional to the state, not to how T was reached).
        let (materialize, _, _) = BenchCommand.measure(Array(positions.prefix(5))) { p in
            index.state(index.diff(to: p).versions).materialized().streamCount
        }

        // The baseline, in the same run: replay from the start (the store, both cores).
        let replay = ReplayStrategy(source: store, fold: fold)
        let replayTimes = try BenchCommand.measure(Array(positions.prefix(max(3, queries / 10)))) { try replay.hydrate(to: $0).applied }

        let memory = index.memoryBytes()
        func perEvent(_ bytes: Int) -> String { String(format: "%.0f B", Double(bytes) / Double(max(count, 1))) }
        Output.out("  in-memory index: built in \(String(format: "%.2f", indexSeconds)) s, keyframe every \(keyframeInterval) events, \(index.dayCount) days")
        Output.out("  strategy          p50          p99   applied(p50)   vs replay p50   vs replay p99")
        func row(_ name: String, _ r: (Double, Double, Double)) -> String {
            "  " + name.padding(toLength: 10, withPad: " ", startingAt: 0) + BenchCommand.duration(r.0) + "   " + BenchCommand.duration(r.1)
                + String(format: " %14.0f", r.2)
                + (name == "replay" ? "" : String(format: "   %10.0f× faster %8.0f× faster", replayTimes.0 / r.0, replayTimes.1 / r.1))
        }
        Output.out(row("replay", replayTimes))
        for (name, r) in results { Output.out(row(name, r)) }
        Output.out(String(format: "  undo near the head: %.2f µs per step (%d steps back from the newest state, best of 3)",
                          stepSeconds * 1e6, min(count, 10_000)))
        Output.out("  reading a reached state whole as JSON documents: \(BenchCommand.duration(materialize)) (p50 of 5; any strategy)")
        Output.out("  memory per event: diff \(perEvent(memory.events + memory.documents + memory.keyframes)) "
                   + "(events \(perEvent(memory.events)), documents \(perEvent(memory.documents)) of which \(perEvent(memory.residentDocuments)) in memory, the rest in a mapped file, keyframes \(perEvent(memory.keyframes))); "
                   + "undo shares diff's; squash adds \(perEvent(memory.days)); "
                   + "cache (\(cache.cachedPositions.count) states, budget \(cacheBudget) MB) adds \(perEvent(index.addedBytes(cache.cachedPositions.compactMap { cache.cached(at: $0) })))")
        Output.out("  peak memory: \(indexPeak) MB with the index and its queries; \(BenchCommand.peakMegabytes()) MB after the replay baseline")

        if !indexOnly { try benchStoreStrategies(store: store, fold: fold, count: count, positions: positions, replayP50: replayTimes.0) }
    }

    /// The strategies over the store's derived data, which one-shot commands (`rewind state`,
    /// `compare`) read without building an index.
    func benchStoreStrategies(store: SQLiteStore, fold: Fold, count: Int, positions: [Int], replayP50: Double) throws {
        var start = DispatchTime.now().uptimeNanoseconds
        _ = try store.ensureDerived(fold: fold, forceReason: "bench")
        let buildSeconds = BenchCommand.seconds(since: start)
        let (derived, _) = try store.ensureDerived(fold: fold)
        // The cache strategy keeps what it computes; warm it with a spread of positions first.
        let warming = CacheStrategy(derived: derived, source: store, fold: fold)
        for i in 1...SQLiteDerivedData.cacheCapacity { _ = try warming.hydrate(to: count * i / SQLiteDerivedData.cacheCapacity) }
        // Measured: reaching T from the warm cache, without writing what it computed.
        let strategies: [any HydrationStrategy] = [
            DiffStrategy(derived: derived), UndoStrategy(derived: derived), SquashStrategy(derived: derived),
            CacheStrategy(derived: derived, source: store, fold: fold, cacheAfter: .max),
        ]
        Output.out("  store's derived data (one-shot commands): built in \(String(format: "%.2f", buildSeconds)) s")
        for s in strategies {
            let r = try BenchCommand.measure(positions) { try s.hydrate(to: $0).applied }
            Output.out("  " + s.name.padding(toLength: 10, withPad: " ", startingAt: 0) + BenchCommand.duration(r.0) + "   "
                       + BenchCommand.duration(r.1) + String(format: " %14.0f   %10.1f× faster", r.2, replayP50 / r.0))
        }
        // Undo near the head without the head keyframe's load (done once, untimed).
        if count > 10_000 {
            let (head, _) = try derived.keyframe(at: count)
            var best = Double.infinity
            for _ in 0..<3 {
                var state = head
                start = DispatchTime.now().uptimeNanoseconds
                try derived.forEachTransition(in: (count - 10_000)..<count, backward: true) { state.revert($0) }
                best = min(best, BenchCommand.seconds(since: start))
            }
            Output.out(String(format: "  undo near the head: %.1f µs per step (keyframe already loaded)", best / 10_000 * 1e6))
        }
        let bytes = try store.derivedBytes()
        let perEvent = { (k: String) in String(format: "%.0f", Double(bytes[k] ?? 0) / Double(max(count, 1))) }
        Output.out("  storage per event: diff (transitions + keyframes) \(perEvent("diff")) B, squash \(perEvent("squash")) B, cache \(perEvent("cache")) B; undo shares diff's")
        Output.out("  peak memory: \(BenchCommand.peakMegabytes()) MB")
    }
}
