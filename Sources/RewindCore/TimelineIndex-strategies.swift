/// A point in time reached through the index: the state's versions, and what it took.
public struct IndexedReach: Sendable {
    public var versions: VersionMap
    /// Events, diffs or days applied.
    public var applied: Int
    /// Irreversible event positions crossed backwards, newest first (undo).
    public var crossed: [Int] = []
}

extension TimelineIndex {
    /// Applies the diffs of the events at `range` forward.
    func applyForward(_ range: Range<Int>, to versions: inout VersionMap) {
        for p in range { versions.set(eventStream[p], versionAfter(p)) }
    }

    /// diff: the nearest keyframe at or before `position`, then the diffs of the events after it.
    public func diff(to position: Int) -> IndexedReach {
        let position = min(max(position, 0), count)
        let k = position / keyframeInterval
        var versions = keyframes[k]
        applyForward(k * keyframeInterval..<position, to: &versions)
        return IndexedReach(versions: versions, applied: position - k * keyframeInterval)
    }

    /// undo: from the nearest keyframe after `position` (or the newest state), each event's
    /// inverse walking backwards; lists the irreversible events crossed, newest first.
    public func undo(to position: Int) -> IndexedReach {
        let position = min(max(position, 0), count)
        let k = (position + keyframeInterval - 1) / keyframeInterval
        let (start, startVersions) = k < keyframes.count && k * keyframeInterval <= count
            ? (k * keyframeInterval, keyframes[k]) : (count, head)
        var reach = IndexedReach(versions: startVersions, applied: start - position)
        for p in stride(from: start - 1, through: position, by: -1) {
            reach.versions.set(eventStream[p], previousVersion[p])
        }
        var i = firstIndex(atOrAfter: start, in: irreversible) - 1
        while i >= 0 && irreversible[i] >= position {
            reach.crossed.append(irreversible[i])
            i -= 1
        }
        return reach
    }

    /// Steps a reached state one event back (the explorer's ←, and undo's unit of work).
    public func stepBack(_ versions: inout VersionMap, from position: Int) {
        versions.set(eventStream[position - 1], previousVersion[position - 1])
    }

    /// squash: the composite diffs of the whole days before `position`, then that day's events.
    public func squash(to position: Int) -> IndexedReach {
        let position = min(max(position, 0), count)
        var versions = VersionMap()
        var applied = 0, reached = 0
        for day in days {
            guard day.end <= position else { break }
            versions = versions.overlaid(with: day.changes)
            applied += 1
            reached = day.end
        }
        applyForward(reached..<position, to: &versions)
        return IndexedReach(versions: versions, applied: applied + position - reached)
    }

    /// Whether `position` is an irreversible event.
    public func isIrreversible(_ position: Int) -> Bool {
        let i = firstIndex(atOrAfter: position, in: irreversible)
        return i < irreversible.count && irreversible[i] == position
    }

    public var irreversibleCount: Int { irreversible.count }

    public var dayCount: Int { days.count }

    func firstIndex(atOrAfter value: Int, in sorted: [Int]) -> Int {
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

/// Hydrated states kept by the cache strategy: the nearest one at or before T, then the events
/// after it. Holds at most `capacity` states (the least recently stored goes first); a store
/// behind it (`CachedStatesStore`) keeps them across runs.
public final class IndexedStateCache: @unchecked Sendable {
    public let index: TimelineIndex
    public let capacity: Int
    private var positions: [Int] = []
    private var states: [Int: VersionMap] = [:]
    private var order: [Int] = []

    public init(index: TimelineIndex, capacity: Int = 64) {
        self.index = index
        self.capacity = capacity
    }

    public var cachedPositions: [Int] { positions }

    public func cached(at position: Int) -> VersionMap? { states[position] }

    /// Keeps `versions` as the state after the first `position` events.
    public func store(_ versions: VersionMap, at position: Int) {
        if states[position] == nil {
            positions.insert(position, at: index.firstIndex(atOrAfter: position, in: positions))
        }
        states[position] = versions
        order.removeAll { $0 == position }
        order.append(position)
        while order.count > capacity {
            let old = order.removeFirst()
            states.removeValue(forKey: old)
            positions.remove(at: index.firstIndex(atOrAfter: old, in: positions))
        }
    }

    /// cache: the nearest cached state at or before `position`, then the diffs after it.
    /// With `keep`, the state reached is cached in turn when it took any events to reach.
    public func reach(_ position: Int, keep: Bool = false) -> IndexedReach {
        let position = min(max(position, 0), index.count)
        let i = index.firstIndex(atOrAfter: position + 1, in: positions) - 1
        let start = i >= 0 ? positions[i] : 0
        var versions = i >= 0 ? states[start]! : VersionMap()
        index.applyForward(start..<position, to: &versions)
        if keep && position > start { store(versions, at: position) }
        return IndexedReach(versions: versions, applied: position - start)
    }
}
