extension DerivedData {
    /// Applies the transitions at `range` forward to `state`; returns the bytes read.
    func applyForward(_ range: Range<Int>, to state: inout State) throws -> Int {
        try forEachTransition(in: range, backward: false) { state.apply($0) }
    }
}

/// Keyframes plus the diff of each event: the nearest keyframe at or before T, then diffs forward.
public struct DiffStrategy: HydrationStrategy {
    public let name = "diff"
    public var derived: any DerivedData

    public init(derived: any DerivedData) { self.derived = derived }

    public func hydrate(to position: Int) throws -> Hydration {
        let start = try derived.keyframePositions().last(atOrBefore: position) ?? 0
        var (state, bytes) = start == 0 ? (State(), 0) : try derived.keyframe(at: start)
        bytes += try derived.applyForward(start..<position, to: &state)
        return Hydration(state: state, position: position, applied: position - start, bytesRead: bytes)
    }
}

/// From the newest state (or the nearest later keyframe), walks backwards applying each event's
/// inverse, and lists the irreversible events it crossed.
public struct UndoStrategy: HydrationStrategy {
    public let name = "undo"
    public var derived: any DerivedData

    public init(derived: any DerivedData) { self.derived = derived }

    public func hydrate(to position: Int) throws -> Hydration {
        let keyframes = try derived.keyframePositions()
        guard let start = keyframes.first(atOrAfter: position) else {
            throw DerivedDataDamage("the head keyframe")
        }
        var (state, bytes) = try derived.keyframe(at: start)
        var applied = 0
        var crossed: [StreamTransition] = []
        bytes += try derived.forEachTransition(in: position..<start, backward: true) { t in
            state.revert(t)
            applied += 1
            if t.irreversible { crossed.append(t) }
        }
        return Hydration(state: state, position: position, applied: applied, bytesRead: bytes, irreversibleCrossed: crossed)
    }
}

/// Per-UTC-day composite diffs: whole days up to T, then that day's events.
public struct SquashStrategy: HydrationStrategy {
    public let name = "squash"
    public var derived: any DerivedData

    public init(derived: any DerivedData) { self.derived = derived }

    public func hydrate(to position: Int) throws -> Hydration {
        var state = State()
        var applied = 0
        var bytes = 0
        var reached = 0
        for day in try derived.squashedDays() {
            if day.end <= position {
                bytes += try derived.forEachDayChange(day: day.day) { key, doc in
                    state.set(service: key.service, stream: key.stream, to: doc)
                }
                applied += 1
                reached = day.end
            } else {
                break
            }
        }
        bytes += try derived.applyForward(reached..<position, to: &state)
        return Hydration(state: state, position: position, applied: applied + position - reached, bytesRead: bytes)
    }
}

/// Hydrated states kept in the store: the nearest cached state at or before T plus the events
/// after it, folded. What it computes is cached in turn (when it folded at least `cacheAfter`
/// events), so a point in time visited once is a cached state afterwards.
public struct CacheStrategy: HydrationStrategy {
    public let name = "cache"
    public var derived: any DerivedData
    public var source: any EventSource
    public var fold: Fold
    public var cacheAfter: Int

    public init(derived: any DerivedData, source: any EventSource, fold: Fold, cacheAfter: Int = 1) {
        self.derived = derived
        self.source = source
        self.fold = fold
        self.cacheAfter = cacheAfter
    }

    public func hydrate(to position: Int) throws -> Hydration {
        let start = try derived.cachedPositions().last(atOrBefore: position) ?? 0
        var (state, bytes) = start == 0 ? (State(), 0) : try derived.cachedState(at: start)
        var issues: [FoldIssue] = []
        var applied = 0
        bytes += try source.forEachEvent(in: start..<position) { event in
            fold.apply(event, to: &state, issues: &issues)
            applied += 1
        }
        if applied >= cacheAfter { try derived.storeCachedState(state, at: position) }
        return Hydration(state: state, position: position, applied: applied, bytesRead: bytes, issues: issues)
    }
}
