/// Documents kept as their JSON text, appended once and read back by reference: a stream's
/// document after each event, in a few large chunks rather than millions of small objects
/// (a bank document is ~80 bytes of text, several hundred as a `JSONValue` tree).
struct DocumentArena: Sendable {
    /// A reference to a document; `DocumentArena.none` stands for "no document".
    typealias Ref = UInt64
    static let none: Ref = .max
    static let chunkSize = 1 << 24

    private var chunks: [[UInt8]] = [[]]
    private var scratch: [UInt8] = []
    private(set) var bytes = 0

    init() { chunks[0].reserveCapacity(DocumentArena.chunkSize) }

    /// Stores `document`'s text behind a 4-byte length.
    mutating func append(_ document: JSONValue) -> Ref {
        scratch.removeAll(keepingCapacity: true)
        document.write(to: &scratch)
        let needed = scratch.count + 4
        if chunks[chunks.count - 1].count + needed > chunks[chunks.count - 1].capacity {
            var chunk: [UInt8] = []
            chunk.reserveCapacity(max(DocumentArena.chunkSize, needed))
            chunks.append(chunk)
        }
        let c = chunks.count - 1
        let offset = chunks[c].count
        var length = UInt32(scratch.count).littleEndian
        withUnsafeBytes(of: &length) { chunks[c].append(contentsOf: $0) }
        chunks[c].append(contentsOf: scratch)
        bytes += needed
        return UInt64(c) << 32 | UInt64(offset)
    }

    /// The document behind `ref` (nil for `none`).
    func document(_ ref: Ref) -> JSONValue? {
        guard ref != DocumentArena.none else { return nil }
        let c = Int(ref >> 32), offset = Int(ref & 0xFFFF_FFFF)
        return chunks[c].withUnsafeBufferPointer { buf in
            let length = Int(UInt32(buf[offset]) | UInt32(buf[offset + 1]) << 8 | UInt32(buf[offset + 2]) << 16 | UInt32(buf[offset + 3]) << 24)
            // The arena only holds text this process serialised; a fold nests at most a rules
            // pointer's depth below the event's own limit, far inside this one.
            return try? JSONParser.parse(UnsafeBufferPointer(rebasing: buf[(offset + 4)..<(offset + 4 + length)]),
                                         depthLimit: 2 * JSONParser.maxDepth)
        }
    }
}
