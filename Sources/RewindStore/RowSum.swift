import RewindCore

/// Every row the timeline is folded from carries a checksum of its columns (`sum`): an event
/// row of its line, time, stream, type and texts; a `streams` row of its two names; a `types`
/// row of its name. A read recomputes it, and one changed byte makes the read fail as damage —
/// the store is then rebuilt from the log (it is a cache of the log), never served.
///
/// The position is not covered (re-ordering renumbers rows); a read checks instead that
/// `(ts, line)` strictly increases along it.
public enum RowSum {
    @inline(__always) static func mix(_ h: inout ContentHash, _ n: Int64) {
        h.update(word: UInt64(bitPattern: n))
    }

    /// A field's length (−1: NULL) and then its bytes, so no two rows' columns run together.
    @inline(__always) static func mix(_ h: inout ContentHash, _ field: UnsafeBufferPointer<UInt8>?) {
        guard let field else { mix(&h, -1); return }
        mix(&h, Int64(field.count))
        h.update(field)
    }

    static func event(line: Int64, ts: Int64, stream: Int64, type: Int64, id: UnsafeBufferPointer<UInt8>?,
                      tsRaw: UnsafeBufferPointer<UInt8>?, data: UnsafeBufferPointer<UInt8>?,
                      meta: UnsafeBufferPointer<UInt8>?, extra: UnsafeBufferPointer<UInt8>?) -> Int64 {
        var h = ContentHash()
        mix(&h, line); mix(&h, ts); mix(&h, stream); mix(&h, type)
        mix(&h, id); mix(&h, tsRaw); mix(&h, data); mix(&h, meta); mix(&h, extra)
        return Int64(bitPattern: h.digest)
    }

    /// The checksum of a row of names (a stream's service and name, or a type's name).
    static func names(_ id: Int64, _ texts: [String]) -> Int64 {
        var h = ContentHash()
        mix(&h, id)
        for var t in texts { t.withUTF8 { mix(&h, $0) } }
        return Int64(bitPattern: h.digest)
    }

}
