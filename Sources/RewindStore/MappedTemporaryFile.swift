import Foundation
import RewindCore

/// A `DocumentSpill` over a temporary file that has no name from the moment it is created
/// (nothing is left behind, whatever happens to the process): each chunk is appended and mapped
/// back read-only. The mappings and the file go when this object does.
public final class MappedTemporaryFile: DocumentSpill, @unchecked Sendable {
    private let lock = NSLock()
    private var fd: Int32 = -1
    private var end = 0
    private var mappings: [UnsafeRawBufferPointer] = []

    /// In `directory` (beside the store); when no file can be made there, every `keep` says no.
    public init(directory: String) {
        var template = Array("\(directory)/.rewind-documents-XXXXXX".utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd >= 0 { template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) } }
    }

    deinit {
        for m in mappings { munmap(UnsafeMutableRawPointer(mutating: m.baseAddress), m.count) }
        if fd >= 0 { close(fd) }
    }

    public func keep(_ chunk: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard fd >= 0, let base = chunk.baseAddress, chunk.count > 0 else { return nil }
        return lock.withLock {
            var written = 0
            while written < chunk.count {
                let n = pwrite(fd, base + written, chunk.count - written, off_t(end + written))
                if n <= 0 { return nil }
                written += n
            }
            guard let p = mmap(nil, chunk.count, PROT_READ, MAP_SHARED, fd, off_t(end)), p != MAP_FAILED else { return nil }
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            end += (chunk.count + page - 1) / page * page
            // The older chunks' pages stay in the page cache, but leave this process's resident
            // set: a read faults them back in from the cache. Without this, every chunk the fold
            // once read from would count as the process's memory until it exits.
            for m in mappings { madvise(UnsafeMutableRawPointer(mutating: m.baseAddress), m.count, MADV_DONTNEED) }
            let view = UnsafeRawBufferPointer(start: p, count: chunk.count)
            mappings.append(view)
            return view
        }
    }
}
