import RewindCore

/// A generated log: its lines, the rules that fold it, and the invariants that must hold
/// (SPEC §7, one per line, `#` comments saying what each protects).
public struct ScenarioLog: Sendable {
    public var lines: [String]
    public var rules: String
    public var invariants: String
    /// The invariants without their comments.
    public var invariantLines: [String] {
        invariants.split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }
    public var text: String { lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n" }
}

/// The scenarios `rewind simulate` runs.
public enum ScenarioName: String, CaseIterable, Sendable {
    case bank, video, game

    /// Runs the scenario: work is started until the log holds about `size` lines, then every
    /// piece of work in flight settles; the last line says so (`simulation/run`, `ScenarioSettled`).
    public func run(seed: UInt64, size: Int, faults: Faults) -> ScenarioLog {
        let world = World(seed: seed, faults: faults)
        let log: ScenarioLog
        switch self {
        case .bank: log = BankSimulation(world: world, size: size).run()
        case .video: log = VideoSimulation(world: world, size: size).run()
        case .game: log = GameSimulation(world: world, size: size).run()
        }
        return log
    }
}

extension World {
    /// The last line of every scenario: everything in flight has settled.
    func settle(_ data: [JSONKey: JSONValue] = [:]) {
        var d = data
        d["settled"] = .bool(true)
        // After every event, whatever clock wrote them.
        emit(service: "simulation", stream: "run", type: "ScenarioSettled", data: d, at: now + 1_000_000)
    }
}

extension JSONValue {
    static func text(_ s: String) -> JSONValue { .string(s) }
    static func number(_ n: Int64) -> JSONValue { .int(n) }
}
