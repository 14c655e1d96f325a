import Testing
@testable import RewindCore

@Suite struct VersionMapTests {
    func contents(_ m: VersionMap) -> [UInt32: UInt32] {
        var out: [UInt32: UInt32] = [:]
        m.forEach { out[$0] = $1 }
        return out
    }

    @Test func behavesAsADictionaryAndCopiesAreUntouchedByLaterChanges() {
        var rng = SplitMix64(seed: 7)
        var map = VersionMap()
        var model: [UInt32: UInt32] = [:]
        var snapshots: [(VersionMap, [UInt32: UInt32])] = []
        for step in 0..<20_000 {
            // Mostly recent keys (as new streams arrive), sometimes far ones, sometimes removals.
            let key = rng.next() % 4 == 0 ? UInt32(rng.next() % 70_000) : UInt32(step * 3 + Int(rng.next() % 5))
            let value = rng.next() % 6 == 0 ? 0 : UInt32(step + 1)
            map.set(key, value)
            model[key] = value == 0 ? nil : value
            if step % 997 == 0 { snapshots.append((map, model)) }
        }
        #expect(contents(map) == model)
        #expect(map.count == model.count)
        for key in [0, 1, 31, 32, 1023, 1024, 59_999, 60_000, 1_000_000] as [UInt32] {
            #expect(map.value(key) == (model[key] ?? 0))
        }
        for (snapshot, expected) in snapshots {
            #expect(contents(snapshot) == expected, "a copy taken earlier still holds what it held")
            #expect(snapshot.count == expected.count)
        }
    }

    @Test func overlayingEachDaysChangesRebuildsEveryDayEnd() {
        var rng = SplitMix64(seed: 11)
        var map = VersionMap()
        var dayStart = map
        var patches: [VersionMap] = []
        var ends: [[UInt32: UInt32]] = []
        for day in 0..<30 {
            for i in 0..<Int(rng.next() % 3000) {
                let key = rng.next() % 3 == 0 ? UInt32(rng.next() % 5_000) : UInt32(day * 2_000 + i)
                map.set(key, rng.next() % 8 == 0 ? 0 : UInt32(day * 10_000 + i + 1))
            }
            patches.append(.changes(from: dayStart, to: map))
            ends.append(contents(map))
            dayStart = map
        }
        var rebuilt = VersionMap()
        for (patch, expected) in zip(patches, ends) {
            rebuilt = rebuilt.overlaid(with: patch)
            #expect(contents(rebuilt) == expected)
            #expect(rebuilt.count == expected.count)
        }
        // What the overlay returns is a map like any other: changing it leaves the patches alone.
        rebuilt.set(3, 99)
        #expect(contents(VersionMap().overlaid(with: patches[0])) == ends[0])
    }

    @Test func settingManySortedKeysAtOnceEqualsSettingThemOneByOne() {
        var rng = SplitMix64(seed: 5)
        var one = VersionMap()
        for key in 0..<UInt32(5_000) { one.set(key, key + 1) }
        var many = one
        let keyframe = one
        for round in 0..<50 {
            let keys = Array(Set((0..<Int(rng.next() % 400)).map { _ in UInt32(rng.next() % (round % 2 == 0 ? 6_000 : 200_000)) })).sorted()
            let values = keys.map { _ in rng.next() % 5 == 0 ? 0 : UInt32(rng.next() % 1_000_000 + 1) }
            for (k, v) in zip(keys, values) { one.set(k, v) }
            keys.withUnsafeBufferPointer { k in values.withUnsafeBufferPointer { v in many.set(sortedKeys: k, values: v) } }
            #expect(contents(many) == contents(one))
            #expect(many.count == one.count)
        }
        #expect(keyframe.value(4_999) == 5_000)
        #expect(contents(keyframe).count == 5_000, "the shared copy is untouched")
    }

    @Test func theRadixSortOrdersByStreamAndKeepsEachStreamsOrder() {
        var rng = SplitMix64(seed: 3)
        for streams in [1, 200, 70_000, 3_000_000] {
            let words = (0..<5_000).map { i in UInt64(rng.next() % UInt64(streams)) << 32 | UInt64(i) }
            var sorted = words
            TimelineIndex.sortByStream(&sorted, streams: streams)
            #expect(sorted == words.sorted(), "\(streams) streams")
        }
    }

    @Test func aCopySharesUnchangedNodes() {
        var map = VersionMap()
        for key in 0..<UInt32(100_000) { map.set(key, key + 1) }
        let keyframe = map
        map.set(5, 1)
        map.set(99_999, 1)
        let added = map.unsharedBytes(comparedTo: keyframe)
        let whole = map.unsharedBytes(comparedTo: nil)
        #expect(added < 4_000, "two changed paths, not the whole map (\(added) of \(whole) bytes)")
        #expect(whole > 400_000)
        #expect(keyframe.value(5) == 6)
    }
}
