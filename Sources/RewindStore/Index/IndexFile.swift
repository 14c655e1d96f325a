#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import RewindCore

/// The timeline index on disk (`STORE-index` beside the store): an `IndexOutput` that appends
/// records with `pwrite` and commits by writing a root slot of the header, and read back by
/// mapping the file (`IndexFile.open`), which costs a `mmap`, not a read of the file.
///
/// Only one process writes at a time (it holds the store's exclusive `StoreLock`). A writer
/// first cuts what follows the last commit — records of a build that was killed — and appends
/// after it; readers map up to the commit they read, so what is appended later, or cut, is
/// never under them. A rebuild writes `STORE-index.building` and renames it over the index
/// when done; a reader that mapped the old file keeps reading it.
public final class IndexFile: IndexOutput {
    public let path: String
    private let fd: Int32
    public private(set) var end: UInt64
    private var generation: UInt64
    /// Appended bytes not yet written (they go out in large writes, and before every commit).
    private var pending: [UInt8] = []
    private var pendingStart: UInt64 = 0
    static let writeSize = 1 << 22

    /// Opens `path` to write; a missing file, or one that is not an index, starts empty.
    public init(writing path: String) throws {
        self.path = path
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError("\(path): cannot open the index: \(String(cString: strerror(errno)))") }
        self.fd = fd
        var header = [UInt8](repeating: 0, count: IndexFormat.headerSize)
        let n = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, IndexFormat.headerSize, 0) }
        if n == IndexFormat.headerSize, let c = header.withUnsafeBytes({ IndexHeader.committed($0) }) {
            generation = c.generation
            end = c.fileLength
        } else {
            generation = 0
            end = UInt64(IndexFormat.headerSize)
            header = IndexHeader.initial()
            try IndexFile.write(fd, header, at: 0, path: path)
        }
        guard ftruncate(fd, off_t(end)) == 0 else {
            throw StoreError("\(path): cannot cut the index: \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        try? flush()
        close(fd)
    }

    static func write(_ fd: Int32, _ bytes: [UInt8], at offset: UInt64, path: String) throws {
        try bytes.withUnsafeBytes { try write(fd, $0, at: offset, path: path) }
    }

    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: UInt64, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw StoreError("\(path): cannot write the index: \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    public func append(_ bytes: UnsafeRawBufferPointer) throws -> UInt64 {
        let offset = end
        guard !bytes.isEmpty else { return offset }
        if pending.isEmpty { pendingStart = end }
        pending.append(contentsOf: bytes)
        end += UInt64(bytes.count)
        let pad = Int((4 - end % 4) % 4)
        if pad > 0 {
            pending.append(contentsOf: repeatElement(0, count: pad))
            end += UInt64(pad)
        }
        if pending.count >= IndexFile.writeSize { try flush() }
        return offset
    }

    /// Writes what was appended and not written yet.
    func flush() throws {
        guard !pending.isEmpty else { return }
        try IndexFile.write(fd, pending, at: pendingStart, path: path)
        pending.removeAll(keepingCapacity: true)
    }

    public func commit(directoryOffset: UInt64, length: Int) throws {
        try flush()
        generation += 1
        let (at, slot) = IndexHeader.rootSlot(generation: generation, directoryOffset: directoryOffset, length: length, fileLength: end)
        try IndexFile.write(fd, slot, at: UInt64(at), path: path)
    }

    /// Maps the index at `path` and reads its last commit (nil: no file, or no commit yet).
    /// Throws `IndexDamage` when the file is damaged or cut short.
    public static func open(_ path: String) throws -> IndexImage? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw StoreError("\(path): cannot open the index: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StoreError("\(path): \(String(cString: strerror(errno)))") }
        let size = Int(st.st_size)
        guard size >= IndexFormat.headerSize else {
            if size == 0 { return nil }
            throw IndexDamage("the index file is cut short (\(size) bytes)")
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw StoreError("\(path): cannot map the index: \(String(cString: strerror(errno)))")
        }
        let mapping = Mapping(base: base, size: size)
        let bytes = UnsafeRawBufferPointer(start: base, count: size)
        guard IndexHeader.committed(UnsafeRawBufferPointer(rebasing: bytes[0..<IndexFormat.headerSize])) != nil else {
            guard Array(bytes[0..<8]) == IndexFormat.magic else { throw IndexDamage("not a rewind index (wrong magic)") }
            guard bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self) == IndexFormat.version.littleEndian else {
                throw IndexDamage("of another format version", outdated: true)
            }
            return nil  // a header without a commit: a build that never committed
        }
        return try IndexImage(bytes: bytes, owner: mapping)
    }

    final class Mapping {
        let base: UnsafeMutableRawPointer
        let size: Int
        init(base: UnsafeMutableRawPointer, size: Int) {
            self.base = base
            self.size = size
        }
        deinit { munmap(base, size) }
    }
}

/// The lock of one store (`STORE-lock`, an advisory `flock`): processes that change the store
/// or its index hold it exclusively; a command that reads holds it shared for as long as it
/// reads, so a writer waits for it (and it for a writer) instead of either seeing half a change.
public final class StoreLock {
    public let path: String
    private let fd: Int32
    public private(set) var mode: Mode?

    public enum Mode { case shared, exclusive }

    public init(store: String) throws {
        let path = store + "-lock"
        self.path = path
        var fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        // In a folder this user cannot write, an existing lock file still locks (flock needs no
        // write access); without one, nothing can be written there anyway, and the lock is moot.
        if fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM) { fd = Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 || errno == ENOENT || errno == EACCES || errno == EROFS else {
            throw StoreError("\(path): cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        self.fd = fd
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Takes the lock in `mode`; when another process holds it, calls `waiting` once and waits.
    public func lock(_ mode: Mode, waiting: () -> Void = {}) throws {
        if self.mode == mode { return }
        guard fd >= 0 else { self.mode = mode; return }
        let op = mode == .shared ? LOCK_SH : LOCK_EX
        if flock(fd, op | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK else { throw StoreError("\(path): cannot lock: \(String(cString: strerror(errno)))") }
            if self.mode != nil { unlock() }  // never wait while holding it: two upgraders would deadlock
            waiting()
            while flock(fd, op) != 0 {
                guard errno == EINTR else { throw StoreError("\(path): cannot lock: \(String(cString: strerror(errno)))") }
            }
        }
        self.mode = mode
    }

    /// Takes the lock in `mode` only if nobody holds it otherwise; returns whether it did.
    public func tryLock(_ mode: Mode) -> Bool {
        if self.mode == mode { return true }
        guard fd >= 0 else { self.mode = mode; return true }
        guard flock(fd, (mode == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0 else { return false }
        self.mode = mode
        return true
    }

    public func unlock() {
        if fd >= 0 { flock(fd, LOCK_UN) }
        mode = nil
    }
}
