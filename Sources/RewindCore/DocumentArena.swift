import Foundation

/// Documents kept as their JSON text, appended once and read back by reference: a stream's
/// document after each event, in a few large chunks rather than millions of small objects
/// (a bank document is ~80 bytes of text, several hundred as a `JSONValue` tree).
///
/// With a spill directory, each full chunk is written to an unlinked temporary file there and
/// mapped back read-only: the text then lives in the page cache, which the kernel can drop and
/// re-read, instead of in the process's own memory (at 10M events it is ~900 MB, and only the
/// documents someone reads are ever paged in). Nothing is left on disk: the file has no name
/// from the moment it is created, and its space goes when the arena does.
final class DocumentArena: @unchecked Sendable {
    /// A reference to a document; `DocumentArena.none` stands for "no document".
    typealias Ref = UInt64
    static let none: Ref = .max
    static let chunkSize = 1 << 24

    /// Full chunks: mapped from the file, or kept in memory without one.
    private var sealed: [UnsafeRawBufferPointer] = []
    private var mapped: [Bool] = []
    private var current: [UInt8] = []
    private var scratch: [UInt8] = []
    private var fd: Int32 = -1
    private var fileOffset = 0
    private(set) var bytes = 0
    private var sealedInMemory = 0
    /// Bytes held in the process's own memory (the rest is in the mapped file).
    var residentBytes: Int { sealedInMemory + current.count }

    init(spillDirectory: String? = nil) {
        current.reserveCapacity(DocumentArena.chunkSize)
        if let dir = spillDirectory {
            var template = Array("\(dir)/.rewind-documents-XXXXXX".utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            if fd >= 0 { template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) } }
        }
    }

    deinit {
        for (chunk, isMapped) in zip(sealed, mapped) {
            if isMapped { munmap(UnsafeMutableRawPointer(mutating: chunk.baseAddress), chunk.count) } else { chunk.deallocate() }
        }
        if fd >= 0 { close(fd) }
    }

    /// Stores `document`'s text behind a 4-byte length.
    func append(_ document: JSONValue) -> Ref {
        scratch.removeAll(keepingCapacity: true)
        document.write(to: &scratch)
        let needed = scratch.count + 4
        if !current.isEmpty && current.count + needed > DocumentArena.chunkSize { seal() }
        let offset = current.count
        var length = UInt32(scratch.count).littleEndian
        withUnsafeBytes(of: &length) { current.append(contentsOf: $0) }
        current.append(contentsOf: scratch)
        bytes += needed
        return UInt64(sealed.count) << 32 | UInt64(offset)
    }

    /// Moves the chunk being filled to the file (or to a fixed block of memory).
    private func seal() {
        current.withUnsafeBytes { chunk in
            if fd >= 0, let view = spill(chunk) {
                sealed.append(view)
                mapped.append(true)
            } else {
                let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk.count, alignment: 8)
                copy.copyMemory(from: chunk)
                sealed.append(UnsafeRawBufferPointer(copy))
                mapped.append(false)
                sealedInMemory += chunk.count
            }
        }
        current.removeAll(keepingCapacity: true)
    }

    /// Writes `chunk` at the end of the file and maps it; nil when the disk refuses (the chunk
    /// then stays in memory).
    private func spill(_ chunk: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var written = 0
        while written < chunk.count {
            let n = pwrite(fd, chunk.baseAddress! + written, chunk.count - written, off_t(fileOffset + written))
            if n <= 0 { return nil }
            written += n
        }
        guard let p = mmap(nil, chunk.count, PROT_READ, MAP_SHARED, fd, off_t(fileOffset)), p != MAP_FAILED else { return nil }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        fileOffset += (chunk.count + page - 1) / page * page
        return UnsafeRawBufferPointer(start: p, count: chunk.count)
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
