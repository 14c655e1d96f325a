/// A fast 64-bit running hash of a byte stream (FNV-style mixing over 8-byte words).
/// The result depends only on the bytes, not on how they were split into chunks, so an
/// import can hash a file as it reads it and later check that a prefix is unchanged.
/// Not cryptographic: it detects change and corruption, not tampering.
public struct ContentHash: Sendable, Equatable {
    public private(set) var state: UInt64 = 0xcbf2_9ce4_8422_2325
    public private(set) var length: Int64 = 0
    /// Bytes not yet forming a full word (fewer than 8), little-endian in `pending`.
    public private(set) var pending: UInt64 = 0
    public private(set) var pendingCount: Int = 0

    static let prime: UInt64 = 0x0000_0100_0000_01b3

    public init() {}

    public init(state: UInt64, length: Int64, pending: UInt64, pendingCount: Int) {
        self.state = state
        self.length = length
        self.pending = pending
        self.pendingCount = pendingCount
    }

    @inline(__always) mutating func mix(_ word: UInt64) {
        state = (state ^ word) &* ContentHash.prime
        state ^= state >> 29
    }

    public mutating func update(_ bytes: UnsafeBufferPointer<UInt8>) {
        let n = bytes.count
        guard n > 0, let base = bytes.baseAddress else { return }
        length += Int64(n)
        var i = 0
        if pendingCount != 0 {
            // Complete the pending word first.
            let take = min(8 - pendingCount, n)
            pending |= ContentHash.partialWord(base, take) << (8 * UInt64(pendingCount))
            pendingCount += take
            guard pendingCount == 8 else { return }
            i = take
            mix(pending)
            pending = 0
            pendingCount = 0
        }
        // Whole words, the state in a register: a line of the log is a few calls, not a byte loop
        // (the import calls this about a dozen times per event, mostly for short strings).
        var s = state
        while i + 8 <= n {
            s = (s ^ UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))) &* ContentHash.prime
            s ^= s >> 29
            i += 8
        }
        state = s
        pendingCount = n - i
        pending = pendingCount == 0 ? 0 : ContentHash.partialWord(base + i, pendingCount)
    }

    /// The `count` (1…7) bytes at `p` as a little-endian word, the rest zero: two overlapping
    /// loads, not a byte loop (the bytes both loads cover land in the same place).
    @inline(__always) static func partialWord(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
        let raw = UnsafeRawPointer(p)
        if count >= 4 {
            let lo = UInt64(UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self)))
            let hi = UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)))
            return lo | hi << (8 * UInt64(count - 4))
        }
        if count >= 2 {
            let lo = UInt64(UInt16(littleEndian: raw.loadUnaligned(as: UInt16.self)))
            let hi = UInt64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: count - 2, as: UInt16.self)))
            return lo | hi << (8 * UInt64(count - 2))
        }
        return UInt64(p[0])
    }

    /// Hashes the 8 little-endian bytes of `word`, as `update` of those bytes does.
    public mutating func update(word: UInt64) {
        length += 8
        guard pendingCount != 0 else { mix(word); return }
        let shift = 8 * UInt64(pendingCount)
        mix(pending | word << shift)
        pending = word >> (64 - shift)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { update($0) }
    }

    public mutating func update(_ text: String) {
        // A native string's bytes in place (a small one's are copied to the stack, not the heap).
        if text.utf8.withContiguousStorageIfAvailable({ update($0) }) != nil { return }
        var text = text
        text.withUTF8 { update($0) }
    }

    /// The digest of everything so far (does not change the running state).
    public var digest: UInt64 {
        var copy = self
        copy.mix(pending ^ (UInt64(pendingCount) << 56))
        copy.mix(UInt64(bitPattern: length))
        return copy.state
    }

    /// The digest of one string's UTF-8 bytes.
    @inlinable public static func digest(of text: String) -> UInt64 {
        var h = ContentHash()
        h.update(text)
        return h.digest
    }

    /// A dictionary key's hash for `Hashable._rawHashValue(seed:)`: the key's digest mixed with
    /// the dictionary's seed (MurmurHash3's finaliser). It replaces a SipHash pass over the
    /// digest, which cost as much again as the digest (callgrind, 100 000-event import: a third of
    /// the instructions of every document-member lookup).
    @inlinable public static func keyHash(_ digest: UInt64, seed: Int) -> Int {
        var x = digest ^ UInt64(bitPattern: Int64(seed))
        x = (x ^ (x >> 33)) &* 0xff51_afd7_ed55_8ccd
        x = (x ^ (x >> 33)) &* 0xc4ce_b9fe_1a85_ec53
        return Int(bitPattern: UInt(truncatingIfNeeded: x ^ (x >> 33)))
    }

    public var hex: String {
        let s = String(digest, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    public static func hex(of text: String) -> String {
        var h = ContentHash()
        h.update(text)
        return h.hex
    }
}
