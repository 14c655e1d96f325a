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
        var problems = false
        var start = DispatchTime.now().uptimeNanoseconds
        let opened = try LogOptions.open(log, rules: nil, quiet: true, problems: &problems)
        let openSeconds = BenchCommand.seconds(since: start)
        opened.lock.unlock()
        // Opening the persisted index as a later process does: a map, not a fold.
        start = DispatchTime.now().uptimeNanoseconds
        guard let image = try IndexFile.open(opened.maintenance.path) else { throw UsageError(message: "no index was built") }
        let index = TimelineIndex(image: image)
        let mapSeconds = BenchCommand.seconds(since: start)
        let count = index.count
        var rng = SplitMix64(seed: seed)
        let positions = (0..<queries).map { _ in Int(rng.next() % UInt64(count + 1)) }
        Output.out("strategies: \(count) events, \(index.streamCount) streams, \(queries) random T per strategy (replay: \(max(3, queries / 10)))")
        Output.out(String(format: "  import + index (or reuse): %.2f s; opening the persisted index: %@", openSeconds, BenchCommand.duration(mapSeconds)))

        // The cache, warm: states reached at points spread over the log (each new one halfway
        // between earlier ones), until its memory budget is full (kept in memory here: writing
        // each to the store is what `rewind state --strategy cache` does, once per run).
        let cache = IndexCache(index: index, rules: opened.rules.fingerprint, budget: cacheBudget << 20, store: nil) { _ in "" }
        var warmed = 0
        while cache.evictions == 0 && warmed < 1 << 16 {
            warmed += 1
            _ = cache.reach(Int(Double(count) * BenchCommand.vanDerCorput(warmed)), keep: true)
        }
        let reaches: [(String, (Int) -> Reach)] = [
            ("diff", { index.diff(to: $0) }), ("undo", { index.undo(to: $0) }), ("squash", { index.squash(to: $0) }),
            ("cache", { cache.reach($0) }),
        ]
        var results: [(String, (Double, Double, Double))] = []
        for (name, reach) in reaches {
            results.append((name, BenchCommand.measure(positions) { reach($0).applied }))
        }
        try index.image.check()
        // One step back from the head, as the explorer's ← and undo's unit of work.
        var stepSeconds = Double.infinity
        for _ in 0..<3 {
            var versions = index.head
            let steps = min(count, 10_000)
            start = DispatchTime.now().uptimeNanoseconds
            for p in stride(from: count, to: count - steps, by: -1) { index.step(&versions, from: p, forward: false) }
            stepSeconds = min(stepSeconds, BenchCommand.seconds(since: start) / Double(max(steps, 1)))
        }
        let indexPeak = BenchCommand.peakMegabytes()
        // What a caller pays after reaching T to read the whole state as JSON documents (the same
        // for every strategy: proportional to the state, not to how T was reached).
        let (materialize, _, _) = try BenchCommand.measure(Array(positions.prefix(5))) { p in
            try StateView(index: index, versions: index.diff(to: p).versions, position: p).materialized().streamCount
        }

        // The baseline, in the same run: replay from the start (the store, both cores).
        let replay = ReplayStrategy(source: opened.store, fold: opened.fold)
        let replayTimes = try BenchCommand.measure(Array(positions.prefix(max(3, queries / 10)))) { try replay.hydrate(to: $0).applied }

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
        let logBytes = BenchCommand.fileSize(log)
        let storeBytes = BenchCommand.fileSize(opened.store.location) + BenchCommand.fileSize(opened.store.location + "-journal")
        let indexBytes = BenchCommand.fileSize(opened.maintenance.path)
        func perEvent(_ bytes: Int) -> String { String(format: "%.0f B/event", Double(bytes) / Double(max(count, 1))) }
        Output.out("  disk: log \(logBytes / 1_000_000) MB; store \(storeBytes / 1_000_000) MB (\(perEvent(storeBytes))), index \(indexBytes / 1_000_000) MB (\(perEvent(indexBytes))); "
                   + String(format: "together %.2f× the log", Double(storeBytes + indexBytes) / Double(max(logBytes, 1))))
        Output.out("  cache: \(cache.cachedPositions.count) states in \(cacheBudget) MB")
        Output.out("  peak memory: \(indexPeak) MB with the index and its queries; \(BenchCommand.peakMegabytes()) MB after the replay baseline")
    }
}
