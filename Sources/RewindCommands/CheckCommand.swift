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
            Each seed's log goes through the same engine as `rewind bisect`: imported, indexed, and every invariant of \
            its FILE.invariants bisected to the first event after which it is false. Exit 1 when any seed breaks one.

            Example: rewind check bank --seeds 1..200 --no-saga
            """
    )

    @Argument(help: "The scenario: bank, video or game.")
    var scenario: ScenarioChoice

    @Option(help: "The seeds to run: A..B (inclusive) or one seed.")
    var seeds: String = "1..20"

    @Option(name: [.customLong("size"), .customLong("events")], help: "About how many lines each log holds.")
    var size: Int = 2000

    @OptionGroup var faultOptions: FaultOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        _ = try range()
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
        for seed in try range() {
            let log = scenario.name.run(seed: seed, size: size, faults: faultOptions.faults(seed: seed))
            let path = dir.appendingPathComponent("\(scenario.rawValue)-\(seed).jsonl").path
            try LogWriter.write(log, to: path)
            try check(seed, log, path, &breaks)
            checked += 1
        }
        report(breaks, checked: checked)
        if !breaks.isEmpty { throw ExitCode(1) }
    }

    /// Bisects every invariant of one seed's log, then removes the log and its store.
    func check(_ seed: UInt64, _ log: ScenarioLog, _ path: String, _ breaks: inout [Break]) throws {
        do {
            let opened = try LogOpener.open(path, reporting: LogOpener.Reporting())
            for text in log.invariantLines {
                let invariant: Invariant
                do { invariant = try Invariant(text) } catch {
                    throw UsageError(message: "seed \(seed): the scenario wrote an invariant rewind cannot read: \(text) (\(error))")
                }
                if let position = try Bisector(invariant: invariant).firstFailure(in: opened.index) {
                    breaks.append(Break(seed: seed, invariant: text, position: position, event: try opened.store.event(at: position - 1)))
                }
            }
        }
        let store = LogOpener.defaultStorePath(forLog: path)
        SQLiteStore.remove(at: store)
        for file in [path, LogWriter.sibling(path, ".rules.yaml"), LogWriter.sibling(path, ".invariants"), store + "-index", store + "-lock"] {
            try? FileManager.default.removeItem(atPath: file)
        }
    }

    func reproduce(_ seed: UInt64) -> String {
        let file = "/tmp/\(scenario.rawValue)-\(seed).jsonl"
        return (["rewind", "simulate", scenario.rawValue, "--seed", "\(seed)", "--size", "\(size)"] + faultOptions.arguments + ["--out", file])
            .joined(separator: " ")
    }

    func report(_ breaks: [Break], checked: Int) {
        let seedsBroken = Set(breaks.map(\.seed)).count
        if json {
            let items: [JSONValue] = breaks.map { b in
                .object(["seed": .int(Int64(b.seed)), "invariant": .string(b.invariant), "position": .int(Int64(b.position)),
                         "event": b.event.jsonObject, "reproduce": .string(reproduce(b.seed)),
                         "explore": .string("rewind /tmp/\(scenario.rawValue)-\(b.seed).jsonl")])
            }
            Output.out(JSONValue.object(["scenario": .string(scenario.rawValue), "seeds": .int(Int64(checked)),
                                         "broken": .int(Int64(seedsBroken)), "breaks": .array(items)]).jsonText)
            return
        }
        for b in breaks {
            let file = "/tmp/\(scenario.rawValue)-\(b.seed).jsonl"
            Output.out("seed \(b.seed): breaks \(b.invariant)")
            Output.out("  first false at position \(b.position), after \(b.event.id) (line \(b.event.line), \(b.event.ts.rfc3339), \(b.event.service)/\(b.event.stream) \(b.event.type))")
            Output.out("  reproduce: \(reproduce(b.seed))")
            Output.out("  then:      rewind bisect \(file) --invariant '\(b.invariant)'   # or open it: rewind \(file)")
        }
        Output.out("\(scenario.rawValue): \(checked) seed\(checked == 1 ? "" : "s") checked, \(seedsBroken) broke an invariant")
    }
}
