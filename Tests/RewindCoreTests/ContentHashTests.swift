import Testing
@testable import RewindCore

/// `ContentHash` values are kept in stores (row checksums, import checkpoints): they must not
/// change, and must not depend on how the bytes were split into calls.
@Suite struct ContentHashTests {
    /// The definition, a word at a time from a whole buffer.
    static func reference(_ bytes: [UInt8]) -> UInt64 {
        var s: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ w: UInt64) { s = (s ^ w) &* 0x0000_0100_0000_01b3; s ^= s >> 29 }
        var i = 0
        while i + 8 <= bytes.count {
            var w: UInt64 = 0
            for k in 0..<8 { w |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
            mix(w)
            i += 8
        }
        var pending: UInt64 = 0
        for k in 0..<(bytes.count - i) { pending |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
        mix(pending ^ (UInt64(bytes.count - i) << 56))
        mix(UInt64(bytes.count))
        return s
    }

    @Test func digestsAreTheOnesStoresKeep() {
        #expect(ContentHash().digest == 0x22d8_5fb8_01f1_b909)
        var abc = ContentHash()
        abc.update("abc")
        #expect(abc.digest == 0x5aae_3a33_2d54_8811)
        var line = ContentHash()
        line.update(Array(#"{"id":"evt-1","ts":"2026-01-01T00:00:00Z"}"#.utf8) + [0x0A])
        #expect(line.digest == 0x758d_937f_17ee_336f)
    }

    @Test func anySplitGivesTheDigestOfTheWhole() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<300 {
            let bytes = (0..<Int(rng.next() % 90)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            var h = ContentHash()
            var i = 0
            while i < bytes.count {
                let n = min(bytes.count - i, Int(rng.next() % 13))
                bytes.withUnsafeBufferPointer { h.update(UnsafeBufferPointer(rebasing: $0[i..<(i + n)])) }
                i += n
            }
            #expect(h.digest == ContentHashTests.reference(bytes), "\(bytes)")
            #expect(h.length == Int64(bytes.count))
        }
    }

    @Test func aWordHashesAsItsEightLittleEndianBytes() {
        var rng = SplitMix64(seed: 11)
        for lead in 0..<9 {
            let head = (0..<lead).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let word = rng.next()
            var h = ContentHash()
            h.update(head)
            h.update(word: word)
            h.update([1, 2, 3])
            let bytes = head + (0..<8).map { UInt8(truncatingIfNeeded: word >> (8 * UInt64($0))) } + [1, 2, 3]
            #expect(h.digest == ContentHashTests.reference(bytes))
        }
    }

    @Test func aStringHashesAsItsUTF8() {
        for text in ["", "short", "a string longer than fifteen bytes", "caf\u{e9}", "cafe\u{301}"] {
            var h = ContentHash()
            h.update(text)
            #expect(h.digest == ContentHashTests.reference(Array(text.utf8)))
        }
    }
}
