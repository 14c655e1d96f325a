import Foundation
import RewindCore

/// One strategy's cost at the cursor, and whether it agrees with replay.
public struct StrategyOutcome: Sendable, Equatable {
    public var name: String
    public var applied: Int
    public var seconds: Double
    public var agrees: Bool
    public var irreversible: [StreamTransition]
}

public enum StrategyComparison {
    /// Runs each strategy to `position`; the first is the reference (replay).
    public static func run(_ strategies: [any HydrationStrategy], to position: Int) throws -> [StrategyOutcome] {
        var out: [StrategyOutcome] = []
        var reference: State?
        for s in strategies {
            let start = DispatchTime.now().uptimeNanoseconds
            let h = try s.hydrate(to: position)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if reference == nil { reference = h.state }
            out.append(StrategyOutcome(name: s.name, applied: h.applied, seconds: seconds, agrees: h.state == reference,
                                       irreversible: h.irreversibleCrossed))
        }
        return out
    }

    public static let names = ["replay", "diff", "undo", "squash", "cache"]
}
