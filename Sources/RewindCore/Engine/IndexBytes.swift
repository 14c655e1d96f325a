/// Little-endian encoding of the index file's records, with bounds-checked reads: a record that
/// is shorter than it says, or points outside the file, is damage (`IndexDamage`), never a trap.

/// Part of the index is damaged: a checksum does not match, or a record is cut short or points
/// outside the file. The index is then rebuilt from the store; what it held is never served.
public struct IndexDamage: Error, Sendable, CustomStringConvertible {
    public var what: String
    /// Not damage, but a file of another format version (rebuilt the same way).
    public var outdated = false
    public init(_ what: String, outdated: Bool = false) {
        self.what = what
        self.outdated = outdated
    }
    public var description: String { outdated ? "the timeline index is \(what)" : "the timeline index is damaged (\(what))" }
}

/// Bytes being assembled for one record.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    @inline(__always) mutating func u8(_ v: UInt8) { bytes.append(v) }
    @inline(__always) mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    @inline(__always) mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    @inline(__always) mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func raw(_ b: UnsafeRawBufferPointer) { bytes.append(contentsOf: b) }
    mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    /// A length-prefixed byte string.
    mutating func blob(_ b: [UInt8]) {
        u32(UInt32(b.count))
        bytes.append(contentsOf: b)
    }
    mutating func u32s(_ values: [UInt32]) {
        values.withUnsafeBytes { raw in
            #if _endian(little)
            bytes.append(contentsOf: raw)
            #else
            for v in values { u32(v) }
            #endif
        }
    }
    /// Pads with zeros to a multiple of 4 bytes (node references address 4-byte words).
    mutating func align4() { while bytes.count % 4 != 0 { bytes.append(0) } }
}

/// Reads a record, throwing `IndexDamage` when it runs past its end.
struct ByteReader {
    let base: UnsafeRawBufferPointer
    var offset = 0
    let what: String

    init(_ base: UnsafeRawBufferPointer, what: String) {
        self.base = base
        self.what = what
    }

    var remaining: Int { base.count - offset }

    @inline(__always) mutating func need(_ n: Int) throws(IndexDamage) {
        guard n >= 0, offset + n <= base.count else { throw IndexDamage("\(what) is cut short") }
    }
    mutating func u8() throws(IndexDamage) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return base[offset]
    }
    mutating func u32() throws(IndexDamage) -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    mutating func u64() throws(IndexDamage) -> UInt64 {
        try need(8)
        defer { offset += 8 }
        return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    mutating func i64() throws(IndexDamage) -> Int64 { Int64(bitPattern: try u64()) }
    /// A count that must fit what is left of the record at `size` bytes per element.
    mutating func count(of size: Int) throws(IndexDamage) -> Int {
        let n = Int(try u32())
        guard n <= remaining / max(size, 1) else { throw IndexDamage("\(what) has an impossible count") }
        return n
    }
    mutating func int(limit: UInt64 = UInt64(Int.max)) throws(IndexDamage) -> Int {
        let v = try u64()
        guard v <= limit else { throw IndexDamage("\(what) holds an impossible value") }
        return Int(v)
    }
    mutating func blob() throws(IndexDamage) -> [UInt8] {
        let n = Int(try u32())
        try need(n)
        defer { offset += n }
        return Array(UnsafeRawBufferPointer(rebasing: base[offset..<(offset + n)]))
    }
}

extension ContentHash {
    /// The hash of one region of bytes.
    public static func of(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h = ContentHash()
        h.update(bytes.bindMemory(to: UInt8.self))
        return h.digest
    }

    public static func of(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { of($0) } }
}
