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

    @Test func differencesVisitExactlyTheKeysThatDiffer() {
        var rng = SplitMix64(seed: 11)
        var a = VersionMap()
        for key in 0..<UInt32(3_000) { a.set(key, key + 1) }
        var b = a
        var changed: [UInt32: (UInt32, UInt32)] = [:]
        for _ in 0..<200 {
            let key = UInt32(rng.next() % 40_000), value = UInt32(rng.next() % 9)
            b.set(key, value)
            let old = a.value(key)
            changed[key] = old == value ? nil : (value, old)
        }
        var seen: [UInt32: (UInt32, UInt32)] = [:]
        b.forEachDifference(from: a) { key, new, old in seen[key] = (new, old) }
        #expect(seen.keys.sorted() == changed.keys.sorted())
        for (k, v) in changed { #expect(seen[k]! == v) }
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

    @Test func aCopyIsUntouchedByChangesToTheOriginal() {
        var map = VersionMap()
        for key in 0..<UInt32(100_000) { map.set(key, key + 1) }
        let keyframe = map
        map.set(5, 1)
        map.set(99_999, 1)
        #expect(keyframe.value(5) == 6 && keyframe.value(99_999) == 100_000)
        #expect(map.value(5) == 1 && map.count == 100_000)
    }
}
