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
        guard !bytes.isEmpty else { return }
        length += Int64(bytes.count)
        var i = 0
        let n = bytes.count
        while pendingCount != 0 && i < n {
            pending |= UInt64(bytes[i]) << (8 * UInt64(pendingCount))
            pendingCount += 1
            i += 1
            if pendingCount == 8 { mix(pending); pending = 0; pendingCount = 0 }
        }
        let base = bytes.baseAddress!
        while i + 8 <= n {
            mix(UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)))
            i += 8
        }
        while i < n {
            pending |= UInt64(bytes[i]) << (8 * UInt64(pendingCount))
            pendingCount += 1
            i += 1
        }
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { update($0) }
    }

    public mutating func update(_ text: String) {
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
