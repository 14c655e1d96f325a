import ArgumentParser
import Foundation
import RewindCore
import RewindSimulation
import RewindStore

/// `rewind check SCENARIO --seeds A..B [fault options] [--json]` (SPEC §6).
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Simulate many seeds and check each log's invariants; name each break and how to reproduce it.",
        discussion: """
            Each seed's log goes through the same engine as `rewind bisect`: imported, indexed, and every invariant of its FILE.invariants bisected to the first event after which it is false. Exit 1 when any seed breaks one.

            Example: rewind check bank --seeds 1..200 --no-saga
            """
    )

    @Argument(help: "The scenario: bank, video or game.")
    var scenario: ScenarioChoice

    @Option(parsing: .unconditional, help: "The seeds to run: A..B (inclusive) or one seed.")
    var seeds: String = "1..20"

    @Option(name: [.customLong("size"), .customLong("events")], parsing: .unconditional, help: "About how many lines each log holds.")
    var size: Int = 2000

    @OptionGroup var faultOptions: FaultOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    @Flag(inversion: .prefixedNo, help: "Shrink the first break of each invariant to the smallest run that still breaks it.")
    var shrink = true

    func validate() throws {
        _ = try range()
        try faultOptions.check(for: scenario)
        guard (1...5_000_000).contains(size) else { throw ValidationError("--size is between 1 and 5000000") }
    }

    func range() throws -> ClosedRange<UInt64> {
        let parts = seeds.components(separatedBy: "..")
        guard (1...2).contains(parts.count), let a = UInt64(parts[0]), let b = UInt64(parts.last!), a <= b else {
            throw ValidationError("--seeds takes A..B with A ≤ B, or one seed (got '\(Output.safe(seeds))')")
        }
        guard b - a < 1_000_000 else { throw ValidationError("--seeds: at most a million seeds at once") }
        return a...b
    }

    struct Break {
        var seed: UInt64, invariant: String, position: Int, event: Event
    }

    func run() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rewind-check-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var breaks: [Break] = []
        var checked = 0
        var shrunk: [Int: Shrunk] = [:]
        // Seeds run on every core (each its own log and store); results are taken in seed order.
        let seeds = Array(try range())
        let results = try CheckCommand.inParallel(seeds) { seed in
            try check(seed: seed, size: size, faults: faultOptions.faults(seed: seed), in: dir)
        }
        for (seed, found) in zip(seeds, results) {
            breaks += found.keys.sorted().map { found[$0]! }
            // The first break of each invariant is shrunk: fewer events, fewer faults, the same invariant broken.
            for index in found.keys.sorted() where shrink && shrunk[index] == nil {
                shrunk[index] = try self.shrink(found[index]!, index: index, faults: faultOptions.faults(seed: seed), in: dir)
            }
            checked += 1
        }
        report(breaks, checked: checked, shrunk: shrunk.keys.sorted().map { shrunk[$0]! })
        if !breaks.isEmpty { throw ExitCode(1) }
    }

    /// `body` over `items` on every core, results in the items' order; the first error is rethrown.
    static func inParallel<T, R>(_ items: [T], _ body: @escaping (T) throws -> R) throws -> [R] {
        let work = ParallelWork(items: items, body: body)
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, items.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in work.run() }
        if let failure = work.failure { throw failure }
        return work.results.map { $0! }
    }

    /// A smaller run that breaks the same invariant (by its place in the invariants file).
    struct Shrunk {
        var seed: UInt64, size: Int, faults: Faults, broken: Break
    }

    /// Simulates one run and bisects each of its invariants: the breaks, by invariant index.
    func check(seed: UInt64, size: Int, faults: Faults, in dir: URL) throws -> [Int: Break] {
        let log = scenario.name.run(seed: seed, size: size, faults: faults)
        let path = dir.appendingPathComponent("\(scenario.rawValue)-\(seed)-\(size).jsonl").path
        try LogWriter.write(log, to: path)
        defer {
            let store = LogOpener.defaultStorePath(forLog: path)
            SQLiteStore.remove(at: store)
            for file in [path, LogWriter.sibling(path, ".rules.yaml"), LogWriter.sibling(path, ".invariants"), store + "-index", store + "-lock"] {
                try? FileManager.default.removeItem(atPath: file)
            }
        }
        let opened = try LogOpener.open(path, reporting: LogOpener.Reporting())
        var found: [Int: Break] = [:]
        for (index, text) in log.invariantLines.enumerated() {
            let invariant: Invariant
            do { invariant = try Invariant(text) } catch {
                throw UsageError(message: "seed \(seed): the scenario wrote an invariant rewind cannot read: \(text) (\(error))")
            }
            if let position = try Bisector(invariant: invariant).firstFailure(in: opened.index) {
                found[index] = Break(seed: seed, invariant: text, position: position, event: try opened.store.event(at: position - 1))
            }
        }
        return found
    }

    /// Shrinks a failing run: each fault switched off while the same invariant still breaks,
    /// then the size halved (and then cut by tenths) while it still does. At most 40 runs.
    func shrink(_ b: Break, index: Int, faults: Faults, in dir: URL) throws -> Shrunk {
        var best = Shrunk(seed: b.seed, size: size, faults: faults, broken: b)
        var runs = 0
        func tryRun(size: Int, faults: Faults) throws -> Bool {
            guard runs < 40 else { return false }
            runs += 1
            guard let broken = try check(seed: b.seed, size: size, faults: faults, in: dir)[index] else { return false }
            best = Shrunk(seed: b.seed, size: size, faults: faults, broken: broken)
            return true
        }
        let off: [WritableKeyPath<Faults, Double>] = [\.crash, \.relayCrash, \.lostAck, \.stall, \.down, \.duplicate, \.logDuplicate, \.skew]
        for key in off where best.faults[keyPath: key] > 0 {
            var f = best.faults
            f[keyPath: key] = 0
            _ = try tryRun(size: best.size, faults: f)
        }
        if best.faults.delayMs > 0 {
            var f = best.faults
            f.delayMs = 0
            _ = try tryRun(size: best.size, faults: f)
        }
        while best.size > 20, try tryRun(size: best.size / 2, faults: best.faults) {}
        while best.size > 20, try tryRun(size: best.size * 9 / 10, faults: best.faults) {}
        return best
    }

    func reproduce(_ seed: UInt64) -> String {
        let file = "/tmp/\(scenario.rawValue)-\(seed).jsonl"
        return (["rewind", "simulate", scenario.rawValue, "--seed", "\(seed)", "--size", "\(size)"] + faultOptions.arguments + ["--out", file])
            .joined(separator: " ")
    }

    func simulateCommand(seed: UInt64, size: Int, faults: Faults) -> String {
        (["rewind", "simulate", scenario.rawValue, "--seed", "\(seed)", "--size", "\(size)"] + FaultOptions.arguments(for: faults)
            + ["--out", "/tmp/\(scenario.rawValue)-\(seed).jsonl"]).joined(separator: " ")
    }

    func report(_ breaks: [Break], checked: Int, shrunk: [Shrunk]) {
        let seedsBroken = Set(breaks.map(\.seed)).count
        if json {
            let items: [JSONValue] = breaks.map { b in
                .object(["seed": .int(Int64(b.seed)), "invariant": .string(b.invariant), "position": .int(Int64(b.position)),
                         "event": b.event.jsonObject, "reproduce": .string(reproduce(b.seed)),
                         "explore": .string("rewind /tmp/\(scenario.rawValue)-\(b.seed).jsonl")])
            }
            let small: [JSONValue] = shrunk.map { s in
                .object(["seed": .int(Int64(s.seed)), "size": .int(Int64(s.size)), "invariant": .string(s.broken.invariant),
                         "position": .int(Int64(s.broken.position)), "event": s.broken.event.jsonObject,
                         "reproduce": .string(simulateCommand(seed: s.seed, size: s.size, faults: s.faults))])
            }
            Output.out(JSONValue.object(["scenario": .string(scenario.rawValue), "seeds": .int(Int64(checked)),
                                         "broken": .int(Int64(seedsBroken)), "breaks": .array(items), "shrunk": .array(small)]).jsonText)
            return
        }
        for b in breaks {
            let file = "/tmp/\(scenario.rawValue)-\(b.seed).jsonl"
            Output.out("seed \(b.seed): breaks \(b.invariant)")
            Output.out("  first false at position \(b.position), after \(b.event.id) (line \(b.event.line), \(b.event.ts.rfc3339), \(b.event.service)/\(b.event.stream) \(b.event.type))")
            Output.out("  reproduce: \(reproduce(b.seed))")
            Output.out("  then:      rewind bisect \(file) --invariant '\(b.invariant)'   # or open it: rewind \(file)")
        }
        for s in shrunk {
            Output.out("smallest reproduction of \(s.broken.invariant): seed \(s.seed), size \(s.size), first false at position \(s.broken.position) (\(s.broken.event.service)/\(s.broken.event.stream) \(s.broken.event.type))")
            Output.out("  \(simulateCommand(seed: s.seed, size: s.size, faults: s.faults))")
        }
        Output.out("\(scenario.rawValue): \(checked) seed\(checked == 1 ? "" : "s") checked, \(seedsBroken) broke an invariant")
    }
}

/// The shared state of `CheckCommand.inParallel`: items taken one at a time under a lock.
private final class ParallelWork<T, R>: @unchecked Sendable {
    let items: [T]
    let body: (T) throws -> R
    let lock = NSLock()
    var results: [R?]
    var failure: (any Error)?
    var next = 0

    init(items: [T], body: @escaping (T) throws -> R) {
        self.items = items
        self.body = body
        results = Array(repeating: nil, count: items.count)
    }

    func run() {
        while true {
            let i: Int? = lock.withLock {
                guard failure == nil, next < items.count else { return nil }
                next += 1
                return next - 1
            }
            guard let i else { return }
            do {
                let r = try body(items[i])
                lock.withLock { results[i] = r }
            } catch {
                lock.withLock { if failure == nil { failure = error } }
            }
        }
    }
}
