import Foundation

/// The five ways of reaching a point in time (SPEC §5), by name: replay folds the store's
/// events from the start; diff, undo, squash and cache go through the timeline index.
public final class Strategies {
    public static let names = ["replay", "diff", "undo", "squash", "cache"]
    /// What `rewind state` uses unless told otherwise: the fastest measured (`rewind bench
    /// strategies`: undo p50 / p99 57 / 92 µs at 1M events, diff 72 / 144, cache 98 / 187 — the
    /// keyframe after T and at most 4 096 inverses, nothing to warm up, nothing written).
    public static let fastest = "undo"
    /// What drives the explorer's jumps unless the user switches (`t`): diff, the strategy a
    /// reader of the log expects — the keyframe before T, then the events after it.
    public static let defaultName = "diff"

    public let index: TimelineIndex
    public let cache: IndexCache
    public let replay: ReplayStrategy

    public init(index: TimelineIndex, cache: IndexCache, replay: ReplayStrategy) {
        self.index = index
        self.cache = cache
        self.replay = replay
    }

    /// Reaches the state after the first `position` events with strategy `name`.
    public func hydrate(_ name: String, to position: Int, control: WorkControl? = nil) throws -> Hydration {
        let reach: Reach
        switch name {
        case "replay":
            let r = try replay.hydrate(to: position, control: control)
            return Hydration(name: name, position: position, applied: r.applied, bytesRead: r.bytesRead,
                             state: .replayed(r.state), crossed: [], issues: r.issues)
        case "diff": reach = index.diff(to: position)
        case "undo": reach = index.undo(to: position)
        case "squash": reach = index.squash(to: position)
        case "cache": reach = cache.reach(position, keep: true)
        default: throw StrategyError.unknown(name)
        }
        try index.image.check()
        let issues = index.image.issues(in: 0..<reach.position).map(\.issue)
        try index.image.check()
        return Hydration(name: name, position: reach.position, applied: reach.applied, bytesRead: reach.bytesRead,
                         state: .indexed(StateView(index: index, versions: reach.versions, position: reach.position)),
                         crossed: reach.crossed, issues: issues)
    }
}

public enum StrategyError: Error, CustomStringConvertible, Equatable {
    case unknown(String)
    public var description: String {
        switch self {
        case .unknown(let name): return "unknown strategy '\(name)' (available: \(Strategies.names.joined(separator: ", ")))"
        }
    }
}

/// The result of reaching a point in time.
public struct Hydration: Sendable {
    public var name: String
    public var position: Int
    /// Events, diffs or days applied.
    public var applied: Int
    /// Bytes read from the store or the index.
    public var bytesRead: Int
    public var state: ReachedState
    /// Irreversible events crossed backwards, newest first (undo): the state is rewound, but
    /// their effect outside the store stays.
    public var crossed: [Int]
    /// Ops the fold skipped on the way (events before the position).
    public var issues: [FoldIssue]
}

/// A reached state: replay's documents, or the index's versions (documents read on demand).
public enum ReachedState: Sendable {
    case replayed(State)
    case indexed(StateView)

    public func materialized(service: String? = nil, stream: String? = nil) throws -> State {
        switch self {
        case .replayed(let s): return s.narrowed(service: service, stream: stream)
        case .indexed(let v): return try v.materialized(service: service, stream: stream)
        }
    }

    /// The services object's canonical JSON text, written in pieces.
    /// `{"at": …, "position": …, "services": {…}}` and a newline, as `rewind state --json` prints
    /// it: sorted keys, documents copied as the index keeps them (canonical text, never parsed).
    /// Assembled whole: a damaged record found halfway must not leave half an object anywhere.
    public func specJSON(service: String? = nil, stream: String? = nil, at time: Timestamp, position: Int) throws -> [UInt8] {
        var out: [UInt8] = Array(#"{"at":"#.utf8)
        JSONValue.writeString(time.rfc3339, to: &out)
        out.append(contentsOf: #","position":\#(position),"services":"#.utf8)
        try writeJSON(service: service, stream: stream) { out.append(contentsOf: $0) }
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    public func writeJSON(service: String? = nil, stream: String? = nil, _ out: ([UInt8]) throws -> Void) throws {
        switch self {
        case .replayed(let s):
            var bytes: [UInt8] = []
            s.narrowed(service: service, stream: stream).json.write(to: &bytes)
            try out(bytes)
        case .indexed(let v): try v.writeJSON(service: service, stream: stream, out)
        }
    }

    public func hash() throws -> String {
        switch self {
        case .replayed(let s): return s.hash
        case .indexed(let v): return try v.hash()
        }
    }

    public var view: StateView? {
        if case .indexed(let v) = self { return v }
        return nil
    }
}

/// One strategy's run to a point in time, as `rewind compare` and the explorer's `c` show it.
public struct StrategyRun: Sendable, Equatable {
    public var name: String
    public var applied: Int
    /// Wall time to reach the state (hashing it is not counted).
    public var seconds: Double
    public var bytesRead: Int
    public var hash: String
    /// The state hashes as replay's does.
    public var agrees: Bool
    /// Irreversible events crossed backwards (undo), newest first.
    public var crossed: [Int]
}

extension Strategies {
    /// Every strategy at `position`, replay first (the reference).
    /// With a `control`, replay reports its progress and stops when cancelled.
    public func compare(at position: Int, control: WorkControl? = nil) throws -> [StrategyRun] {
        var runs: [StrategyRun] = []
        var hashed: [(VersionMap, String)] = []
        for name in Strategies.names {
            let start = DispatchTime.now().uptimeNanoseconds
            let h = try hydrate(name, to: position, control: control)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let hash: String
            if let view = h.state.view {
                // Strategies that reached the same versions have the same state: hash it once.
                if let known = hashed.first(where: { known in
                    var differs = false
                    view.versions.forEachDifference(from: known.0) { _, _, _ in differs = true }
                    return !differs
                }) {
                    hash = known.1
                } else {
                    hash = try view.hash()
                    hashed.append((view.versions, hash))
                }
            } else {
                hash = try h.state.hash()
            }
            runs.append(StrategyRun(name: name, applied: h.applied, seconds: seconds, bytesRead: h.bytesRead, hash: hash,
                                    agrees: hash == (runs.first?.hash ?? hash), crossed: h.crossed))
        }
        return runs
    }
}
