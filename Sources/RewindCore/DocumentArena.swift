/// Documents kept as their JSON text, appended once and read back by reference: a stream's
/// document after each event, in a few large chunks rather than millions of small objects
/// (a bank document is ~80 bytes of text, several hundred as a `JSONValue` tree).
///
/// With a `DocumentSpill`, each full chunk is handed to it and read back through the view it
/// returns: the store module's spill writes it to an unlinked temporary file and maps it, so the
/// text lives in the page cache, which the kernel can drop and re-read, instead of in the
/// process's own memory (at 10M events it is ~900 MB, and only documents someone reads are paged in).
final class DocumentArena: @unchecked Sendable {
    /// A reference to a document; `DocumentArena.none` stands for "no document".
    typealias Ref = UInt64
    static let none: Ref = .max
    static let chunkSize = 1 << 24

    /// Full chunks: views the spill returned, or blocks of memory without one.
    private var sealed: [UnsafeRawBufferPointer] = []
    private var spilled: [Bool] = []
    private var current: [UInt8] = []
    private var scratch: [UInt8] = []
    private let spill: DocumentSpill?
    private(set) var bytes = 0
    private var sealedInMemory = 0
    /// Bytes held in the process's own memory (the rest is in the mapped file).
    var residentBytes: Int { sealedInMemory + current.count }

    let chunkSize: Int

    init(spill: DocumentSpill? = nil, chunkSize: Int = DocumentArena.chunkSize) {
        self.spill = spill
        self.chunkSize = chunkSize
        current.reserveCapacity(chunkSize)
    }

    deinit {
        for (chunk, isSpilled) in zip(sealed, spilled) where !isSpilled { chunk.deallocate() }
    }

    /// Stores `document`'s text behind a 4-byte length.
    func append(_ document: JSONValue) -> Ref {
        scratch.removeAll(keepingCapacity: true)
        document.write(to: &scratch)
        let needed = scratch.count + 4
        if !current.isEmpty && current.count + needed > chunkSize { seal() }
        let offset = current.count
        var length = UInt32(scratch.count).littleEndian
        withUnsafeBytes(of: &length) { current.append(contentsOf: $0) }
        current.append(contentsOf: scratch)
        bytes += needed
        return UInt64(sealed.count) << 32 | UInt64(offset)
    }

    /// Moves the chunk being filled to the spill (or to a fixed block of memory).
    private func seal() {
        current.withUnsafeBytes { chunk in
            if let view = spill?.keep(chunk) {
                sealed.append(view)
                spilled.append(true)
            } else {
                let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk.count, alignment: 8)
                copy.copyMemory(from: chunk)
                sealed.append(UnsafeRawBufferPointer(copy))
                spilled.append(false)
                sealedInMemory += chunk.count
            }
        }
        current.removeAll(keepingCapacity: true)
    }

    /// The document behind `ref` (nil for `none`).
    func document(_ ref: Ref) -> JSONValue? {
        guard ref != DocumentArena.none else { return nil }
        let c = Int(ref >> 32), offset = Int(ref & 0xFFFF_FFFF)
        if c < sealed.count { return DocumentArena.parse(sealed[c], at: offset) }
        return current.withUnsafeBytes { DocumentArena.parse($0, at: offset) }
    }

    private static func parse(_ chunk: UnsafeRawBufferPointer, at offset: Int) -> JSONValue? {
        let length = Int(UInt32(littleEndian: chunk.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        let text = UnsafeBufferPointer(start: chunk.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset + 4, count: length)
        // The arena only holds text this process serialised; a fold nests at most a rules
        // pointer's depth below the event's own limit, far inside this one.
        return try? JSONParser.parse(text, depthLimit: 2 * JSONParser.maxDepth)
    }
}

/// Where an arena's full chunks can go to leave the process's memory (`RewindStore` has one
/// backed by an unlinked, mapped temporary file).
public protocol DocumentSpill: AnyObject, Sendable {
    /// Keeps a copy of `chunk`; returns a read-only view of it, valid while this spill lives,
    /// or nil when it cannot (the arena then keeps the chunk in memory).
    func keep(_ chunk: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer?
}
