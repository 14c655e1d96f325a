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
        apply(range, backward: false, to: &versions)
    }

    /// Applies the diffs of the events at `range` as one batch: forward, a stream ends at the
    /// version its last event left; backward (undo), at the version before its first. The batch
    /// is sorted by stream, so the map is walked once in key order — far fewer cache misses than
    /// one descent per event (a keyframe's nodes are cold when a query starts).
    func apply(_ range: Range<Int>, backward: Bool, to versions: inout VersionMap) {
        guard !range.isEmpty else { return }
        if range.count < 16 {
            if backward {
                for p in range.reversed() { versions.set(eventStream[p], previousVersion[p]) }
            } else {
                for p in range { versions.set(eventStream[p], versionAfter(p)) }
            }
            return
        }
        // (stream, offset in the range) packed in one word: sorting groups each stream's events
        // in timeline order.
        var packed = [UInt64](unsafeUninitializedCapacity: range.count) { buf, n in
            eventStream.withUnsafeBufferPointer { streams in
                for (i, p) in range.enumerated() { buf[i] = UInt64(streams[p]) << 32 | UInt64(i) }
            }
            n = range.count
        }
        TimelineIndex.sortByStream(&packed, streams: streamKeys.count)
        var keys: [UInt32] = [], values: [UInt32] = []
        keys.reserveCapacity(packed.count)
        values.reserveCapacity(packed.count)
        var j = 0
        while j < packed.count {
            let stream = UInt32(packed[j] >> 32)
            var k = j + 1
            while k < packed.count && UInt32(packed[k] >> 32) == stream { k += 1 }
            keys.append(stream)
            values.append(backward
                ? previousVersion[range.lowerBound + Int(packed[j] & 0xFFFF_FFFF)]
                : versionAfter(range.lowerBound + Int(packed[k - 1] & 0xFFFF_FFFF)))
            j = k
        }
        keys.withUnsafeBufferPointer { k in values.withUnsafeBufferPointer { v in versions.set(sortedKeys: k, values: v) } }
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
        apply(position..<start, backward: true, to: &reach.versions)
        var i = irreversible.lowerBound(start) - 1
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

    /// Sorts packed (stream << 32 | offset) words by stream, keeping each stream's words in
    /// the order given: a least-significant-digit radix sort, one pass per byte of the largest
    /// stream id (a comparison sort took half a query's time).
    static func sortByStream(_ words: inout [UInt64], streams: Int) {
        var scratch = [UInt64](repeating: 0, count: words.count)
        var shift: UInt64 = 32
        var counts = [Int](repeating: 0, count: 257)
        while shift < 64 && (streams - 1) >> (Int(shift) - 32) > 0 {
            for i in counts.indices { counts[i] = 0 }
            words.withUnsafeBufferPointer { src in
                scratch.withUnsafeMutableBufferPointer { dst in
                    counts.withUnsafeMutableBufferPointer { c in
                        for w in src { c[Int((w >> shift) & 0xFF) + 1] += 1 }
                        for i in 1..<257 { c[i] += c[i - 1] }
                        for w in src {
                            let b = Int((w >> shift) & 0xFF)
                            dst[c[b]] = w
                            c[b] += 1
                        }
                    }
                }
            }
            swap(&words, &scratch)
            shift += 8
        }
    }

    /// Whether `position` is an irreversible event.
    public func isIrreversible(_ position: Int) -> Bool {
        irreversible.sortedIndex(of: position).found
    }

    public var irreversibleCount: Int { irreversible.count }

    public var dayCount: Int { days.count }
}
