#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import RewindCore

/// Something an import noticed about one line.
public enum ImportDiagnostic: Sendable {
    case rejected(line: Int, reason: String)
    case duplicate(line: Int, id: String, firstLine: Int)
    case backwards(line: Int, ts: Timestamp, latest: Timestamp)
}

/// How an import went.
public struct ImportResult: Sendable {
    public enum Kind: Sendable, Equatable {
        /// The store already held this file: nothing was read.
        case upToDate
        /// The whole file was imported (new, or rewritten since).
        case full
        /// The import continued from an earlier checkpoint (the file grew, or an import was interrupted).
        case resumed(fromLine: Int)
    }
    public var kind: Kind
    public var summary: ImportSummary
    public var bytesRead: Int64
    public var quarantinePath: String?
}

/// Imports a JSON Lines log into an `EventStore` (SPEC §1): every line is accepted, a
/// duplicate or rejected; rejected lines are reported and copied unchanged to a quarantine
/// file. Work is committed in batches together with a checkpoint, so an import killed at any
/// moment and run again ends with exactly the store an uninterrupted import makes.
public final class JSONLImporter {
    public let path: String
    public let displayName: String
    public let store: any EventStore
    public let quarantinePath: String
    public var batchLines = 20_000
    /// The longest line read (without its line ending): a longer one is rejected and copied to
    /// the quarantine file as it streams past, never held whole in memory.
    public var maxLineBytes = 64 << 20
    /// The format of the source; lines of other formats are converted before they are read.
    /// A full import takes it from the first line (see `requestedFormat`); it is remembered in
    /// the store's checkpoint for every later import of the file.
    public var format: LogFormat = .jsonl
    /// The format the user asked for (`import --format`): a first line plainly of another
    /// format is then an error, not a flood of rejected lines.
    public var requestedFormat: LogFormat? {
        didSet { if let requestedFormat { format = requestedFormat } }
    }
    public var onDiagnostic: (ImportDiagnostic) -> Void = { _ in }
    /// Called now and then with (bytes consumed, file size).
    public var onProgress: (Int64, Int64) -> Void = { _, _ in }
    /// Gets every batch once the store committed it, in order (the index builds beside the import).
    public var onCommitted: ((ImportBatch) throws -> Void)?
    /// Numbers streams and types (resumed from the store's tables).
    var registry = NameRegistry()

    public init(path: String, displayName: String? = nil, store: any EventStore, quarantinePath: String) {
        self.path = path
        self.displayName = displayName ?? path
        self.store = store
        self.quarantinePath = quarantinePath
    }

    struct FileIdentity {
        var size: Int64
        var modified: Int64
        var inode: Int64
    }

    static func identity(of path: String) throws -> FileIdentity {
        var st = stat()
        guard stat(path, &st) == 0 else { throw StoreError("\(path): \(String(cString: strerror(errno)))") }
        #if canImport(Darwin)
        let modified = Int64(st.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(st.st_mtimespec.tv_nsec)
        #else
        let modified = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        #endif
        return FileIdentity(size: Int64(st.st_size), modified: modified, inode: Int64(st.st_ino))
    }

    /// About how many lines the file holds from `offset` on: its size over the mean length of
    /// the lines in the first megabyte read there.
    static func estimatedLines(_ path: String, from offset: Int64, size: Int64) -> Int {
        let remaining = max(0, size - offset)
        guard remaining > 0, let h = FileHandle(forReadingAtPath: path) else { return 0 }
        defer { try? h.close() }
        try? h.seek(toOffset: UInt64(offset))
        let sample = h.readData(ofLength: 1 << 20)
        let lines = max(1, sample.withUnsafeBytes { b in b.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } })
        return Int(min(50_000_000, remaining * Int64(lines) / Int64(max(1, sample.count))))
    }

    /// Hashes the first `length` bytes of the file.
    static func prefixHash(_ path: String, length: Int64) throws -> ContentHash {
        var hash = ContentHash()
        guard length > 0 else { return hash }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw StoreError("\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var remaining = length
        var buffer = [UInt8](repeating: 0, count: 1 << 22)
        while remaining > 0 {
            let want = Int(min(Int64(buffer.count), remaining))
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, want) }
            guard n > 0 else { break }
            buffer.withUnsafeBufferPointer { hash.update(UnsafeBufferPointer(rebasing: $0[0..<n])) }
            remaining -= Int64(n)
        }
        return hash
    }

    /// Before a full import: the format is the first line's, or a mismatch with the requested
    /// one is an error (before the store is touched).
    func chooseFormat() throws {
        guard let (number, detected) = try JSONLImporter.firstLineFormat(path) else { return }
        if let requestedFormat, detected != requestedFormat {
            throw OpenError("\(displayName):\(number): this line is \(detected.lineName), not \(requestedFormat.lineName); "
                            + "import it with --format \(detected.rawValue), or without --format to have it detected")
        }
        format = detected
    }

    /// The first non-blank line's number and the format it is plainly written in (read from the
    /// file's first megabyte; nil when that line says nothing or is longer).
    static func firstLineFormat(_ path: String) throws -> (Int, LogFormat)? {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        let head = [UInt8]((try? h.read(upToCount: 1 << 20)) ?? Data())
        var start = 0, number = 1
        if head.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        while start < head.count {
            guard let nl = head[start...].firstIndex(of: 0x0A) else { return nil }
            let line = head[start..<nl]
            if line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) {
                return line.withUnsafeBufferPointer { b in LogFormat.detect(b).map { (number, $0) } }
            }
            start = nl + 1
            number += 1
        }
        return nil
    }

    /// Called once the import knows what it will do — after a full import reset the store, or
    /// where a resumed one continues — and before it reads a line.
    public var beforeReading: ((ImportResult.Kind) throws -> Void)?

    /// Whether the store already holds the file as it is now (nothing to read).
    public func isUpToDate() throws -> Bool {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let id = try JSONLImporter.identity(of: path)
        guard let c = try store.checkpoint(), c.format == format.rawValue else { return false }
        return c.sourcePath.sameCodePoints(absolute) && c.complete && c.sourceSize == id.size && c.sourceModified == id.modified && c.sourceInode == id.inode
    }

    /// Brings the store up to date with the file: nothing, the new tail, or everything.
    public func run() throws -> ImportResult {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let id = try JSONLImporter.identity(of: path)
        var checkpoint = try store.checkpoint()
        if let c = checkpoint, c.format != format.rawValue { checkpoint = nil }
        if try isUpToDate() {
            return ImportResult(kind: .upToDate, summary: try store.summary(), bytesRead: 0,
                                quarantinePath: FileManager.default.fileExists(atPath: quarantinePath) ? quarantinePath : nil)
        }
        var kind = ImportResult.Kind.full
        if let c = checkpoint, c.sourcePath.sameCodePoints(absolute), id.size >= c.offset,
           try JSONLImporter.prefixHash(path, length: c.offset) == c.hash {
            kind = c.offset == 0 ? .full : .resumed(fromLine: c.line + 1)
        } else {
            checkpoint = nil
        }
        var ingest: LogIngest
        var cp: ImportCheckpoint
        var discarded = false
        if case .resumed = kind, let c = checkpoint {
            try store.discardLines(after: c.line)
            discarded = c.tail
            try truncateQuarantine(to: c.quarantineLength)
            let s = try store.summary()
            ingest = LogIngest(ids: try store.acceptedIDs(), latest: c.latest, accepted: s.accepted,
                               duplicates: s.duplicates, rejected: s.rejected, blank: c.blankLines, backwards: s.backwards)
            let names = try store.registry()
            registry = NameRegistry(streams: names.streams, types: names.types)
            cp = c
        } else {
            try chooseFormat()
            try store.reset()
            try truncateQuarantine(to: 0)
            ingest = LogIngest()
            registry = NameRegistry()
            cp = ImportCheckpoint(sourcePath: absolute)
            cp.format = format.rawValue
        }
        cp.sourceSize = id.size
        cp.sourceModified = id.modified
        cp.sourceInode = id.inode
        cp.complete = false
        cp.tail = false

        // Room for the ids of the lines still to read, estimated from the first megabyte's
        // lines (a dictionary reserved twice too large costs hundreds of megabytes at 10M events).
        ingest.reserveCapacity(JSONLImporter.estimatedLines(path, from: cp.offset, size: id.size))
        try beforeReading?(kind)
        let bytesRead = try readLines(from: &cp, ingest: &ingest, fileSize: id.size)
        if !cp.sorted || discarded {
            try store.restoreTimelineOrder()
            cp.sorted = true
        }
        cp.complete = true
        try store.append(ImportBatch(), checkpoint: cp)
        let summary = try store.summary()
        var quarantine: String? = quarantinePath
        if summary.rejected == 0 {
            try? FileManager.default.removeItem(atPath: quarantinePath)
            quarantine = nil
        }
        return ImportResult(kind: kind, summary: summary, bytesRead: bytesRead, quarantinePath: quarantine)
    }

    // MARK: the quarantine file

    var quarantineHandle: FileHandle?

    func truncateQuarantine(to length: Int64) throws {
        if length == 0 {
            try? FileManager.default.removeItem(atPath: quarantinePath)
            return
        }
        guard truncate(quarantinePath, off_t(length)) == 0 else {
            throw StoreError("\(quarantinePath): cannot truncate the quarantine file: \(String(cString: strerror(errno)))")
        }
    }

    /// Copies a rejected line, unchanged, to the quarantine file.
    func quarantine(_ line: UnsafeBufferPointer<UInt8>, length: inout Int64) throws {
        try quarantineBytes(line, length: &length)
        try quarantineBytes(UnsafeBufferPointer(start: [UInt8(0x0A)], count: 1), length: &length)
    }

    func quarantineBytes(_ bytes: UnsafeBufferPointer<UInt8>, length: inout Int64) throws {
        if quarantineHandle == nil {
            if !FileManager.default.fileExists(atPath: quarantinePath) {
                guard FileManager.default.createFile(atPath: quarantinePath, contents: nil) else {
                    throw StoreError("\(quarantinePath): cannot create the quarantine file")
                }
            }
            guard let h = FileHandle(forWritingAtPath: quarantinePath) else {
                throw StoreError("\(quarantinePath): cannot write the quarantine file")
            }
            try h.truncate(atOffset: UInt64(length))
            try h.seekToEnd()
            quarantineHandle = h
        }
        do {
            try quarantineHandle!.write(contentsOf: Data(bytes))
        } catch {
            throw StoreError("\(quarantinePath): writing the quarantine file failed (\(error.localizedDescription))")
        }
        length += Int64(bytes.count)
    }

    // MARK: reading

    /// Reads from `cp.offset` to the end of the file, committing a batch every `batchLines`
    /// lines. Returns the bytes read.
    func readLines(from cp: inout ImportCheckpoint, ingest: inout LogIngest, fileSize: Int64) throws -> Int64 {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw StoreError("\(displayName): \(String(cString: strerror(errno)))") }
        defer {
            close(fd)
            try? quarantineHandle?.close()
            quarantineHandle = nil
        }
        guard lseek(fd, off_t(cp.offset), SEEK_SET) == off_t(cp.offset) else {
            throw StoreError("\(displayName): cannot seek to byte \(cp.offset)")
        }
        var buffer = [UInt8](repeating: 0, count: min(1 << 23, maxLineBytes + 2))
        var start = 0, end = 0
        var eof = false
        var batch = ImportBatch()
        var quarantineLength = cp.quarantineLength
        var bytesRead: Int64 = 0
        var sinceProgress: Int64 = 0
        let writer = BatchWriter(store: store, onCommitted: onCommitted)
        defer { writer.drain() }

        func commit() throws {
            cp.quarantineLength = quarantineLength
            cp.latest = ingest.latest
            cp.blankLines = ingest.blank
            try writer.submit(batch, checkpoint: cp)
            batch = ImportBatch()
            batch.arena.reserveCapacity(batchLines * 320)
        }

        // A line longer than `maxLineBytes` streams into the quarantine file as it is read; this
        // is where the checkpoint and quarantine stood when it began (for a final line without a newline).
        var overlong: (checkpoint: ImportCheckpoint, quarantine: Int64)?
        func rejectOverlong(_ number: Int) {
            let reason = "line longer than \(maxLineBytes) bytes (the limit for one line); not read"
            ingest.countRejected()
            batch.rejected.append((number, reason))
            onDiagnostic(.rejected(line: number, reason: reason))
        }

        while true {
            // Find the next newline in buffer[start..<end].
            let newline: Int? = buffer.withUnsafeBufferPointer { b -> Int? in
                guard end > start, let p = memchr(b.baseAddress! + start, 0x0A, end - start) else { return nil }
                return UnsafeRawPointer(p) - UnsafeRawPointer(b.baseAddress!)
            }
            if overlong != nil {
                let upTo = newline ?? end
                try buffer.withUnsafeBufferPointer { b in
                    try quarantineBytes(UnsafeBufferPointer(rebasing: b[start..<upTo]), length: &quarantineLength)
                    cp.hash.update(UnsafeBufferPointer(rebasing: b[start..<(newline.map { $0 + 1 } ?? end)]))
                }
                cp.offset += Int64((newline.map { $0 + 1 } ?? end) - start)
                if let nl = newline {
                    try quarantineBytes(UnsafeBufferPointer(start: [UInt8(0x0A)], count: 1), length: &quarantineLength)
                    cp.line += 1
                    rejectOverlong(cp.line)
                    overlong = nil
                    start = nl + 1
                    if batch.lineCount >= batchLines { try commit() }
                    continue
                }
                start = 0
                end = 0
                if eof {
                    // The final line has no newline yet: rejected now, read again once it is finished.
                    let begun = overlong!
                    try quarantineBytes(UnsafeBufferPointer(start: [UInt8(0x0A)], count: 1), length: &quarantineLength)
                    rejectOverlong(cp.line + 1)
                    cp = begun.checkpoint
                    cp.quarantineLength = begun.quarantine
                    cp.latest = ingest.latest
                    cp.blankLines = ingest.blank
                    cp.tail = true
                    try writer.submit(batch, checkpoint: cp)
                    try writer.finish()
                    onProgress(fileSize, fileSize)
                    return bytesRead
                }
            } else if let nl = newline {
                cp.line += 1
                try buffer.withUnsafeBufferPointer { b in
                    var lineEnd = nl
                    if lineEnd > start && b[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                    let content = contentStart(b, start, lineEnd, line: cp.line)
                    if lineEnd - content > maxLineBytes {
                        try quarantine(UnsafeBufferPointer(rebasing: b[start..<nl]), length: &quarantineLength)
                        rejectOverlong(cp.line)
                    } else {
                        try handle(UnsafeBufferPointer(rebasing: b[content..<lineEnd]), raw: UnsafeBufferPointer(rebasing: b[start..<nl]),
                                   line: cp.line, ingest: &ingest, batch: &batch, sorted: &cp.sorted, quarantineLength: &quarantineLength)
                    }
                    cp.hash.update(UnsafeBufferPointer(rebasing: b[start...nl]))
                }
                let consumed = Int64(nl + 1 - start)
                cp.offset += consumed
                sinceProgress += consumed
                start = nl + 1
                if batch.lineCount >= batchLines { try commit() }
                if sinceProgress >= 1 << 20 {
                    onProgress(cp.offset, fileSize)
                    sinceProgress = 0
                }
                continue
            }
            if overlong == nil && eof {
                if start < end {
                    // An unterminated final line: imported, but the checkpoint stays at the
                    // last newline so that a later append re-reads this line whole.
                    let base = cp
                    let baseQuarantine = quarantineLength
                    let baseIngest = ingest
                    var sorted = cp.sorted
                    try buffer.withUnsafeBufferPointer { b in
                        var lineEnd = end
                        if b[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                        let content = contentStart(b, start, lineEnd, line: cp.line + 1)
                        if lineEnd - content > maxLineBytes {
                            try quarantine(UnsafeBufferPointer(rebasing: b[start..<end]), length: &quarantineLength)
                            rejectOverlong(cp.line + 1)
                        } else {
                            try handle(UnsafeBufferPointer(rebasing: b[content..<lineEnd]), raw: UnsafeBufferPointer(rebasing: b[start..<end]),
                                       line: cp.line + 1, ingest: &ingest, batch: &batch, sorted: &sorted, quarantineLength: &quarantineLength)
                        }
                    }
                    cp.quarantineLength = baseQuarantine
                    cp.latest = baseIngest.latest
                    cp.blankLines = baseIngest.blank
                    cp.tail = true
                    try writer.submit(batch, checkpoint: cp)
                    batch = ImportBatch()
                    cp = base
                    cp.tail = true
                    cp.quarantineLength = baseQuarantine
                    cp.latest = baseIngest.latest
                    cp.blankLines = baseIngest.blank
                    if !sorted { cp.sorted = false }
                } else {
                    try commit()
                }
                try writer.finish()
                onProgress(fileSize, fileSize)
                return bytesRead
            }
            // Need more bytes: keep the partial line, grow for a line longer than the buffer —
            // up to the longest line (and its CR LF); a partial line past that is overlong.
            if overlong == nil && end - start >= maxLineBytes + 2 {
                overlong = (cp, quarantineLength)
                continue
            }
            if start > 0 {
                buffer.withUnsafeMutableBufferPointer { b in
                    _ = memmove(b.baseAddress!, b.baseAddress! + start, end - start)
                }
                end -= start
                start = 0
            }
            if end == buffer.count { buffer.append(contentsOf: repeatElement(0, count: min(buffer.count, maxLineBytes + 2))) }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + end, $0.count - end) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError("\(displayName): read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { eof = true } else { end += n; bytesRead += Int64(n) }
        }
    }

    /// Where line `number`'s content starts: after a UTF-8 byte order mark at the start of the file.
    func contentStart(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, line number: Int) -> Int {
        guard number == 1, end - start >= 3, b[start] == 0xEF, b[start + 1] == 0xBB, b[start + 2] == 0xBF else { return start }
        return start + 3
    }

    /// Reads one line: `content` without its line ending (nor a leading byte order mark), `raw`
    /// as written but for the newline — what a rejected line's quarantine copy holds.
    func handle(_ content: UnsafeBufferPointer<UInt8>, raw: UnsafeBufferPointer<UInt8>, line number: Int, ingest: inout LogIngest,
                batch: inout ImportBatch, sorted: inout Bool, quarantineLength: inout Int64) throws {
        guard format != .jsonl else {
            try handle(content, original: raw, line: number, ingest: &ingest, batch: &batch,
                       sorted: &sorted, quarantineLength: &quarantineLength)
            return
        }
        switch format.convert(content) {
        case .blank:
            ingest.countBlank()
        case .rejected(let reason):
            ingest.countRejected()
            batch.rejected.append((number, reason))
            try quarantine(raw, length: &quarantineLength)
            onDiagnostic(.rejected(line: number, reason: reason))
        case .line(let converted):
            try converted.withUnsafeBufferPointer { buf in
                try handle(buf, original: raw, line: number, ingest: &ingest, batch: &batch,
                           sorted: &sorted, quarantineLength: &quarantineLength)
            }
        }
    }

    private var canonical: [UInt8] = []

    func handle(_ line: UnsafeBufferPointer<UInt8>, original: UnsafeBufferPointer<UInt8>, line number: Int,
                ingest: inout LogIngest, batch: inout ImportBatch, sorted: inout Bool, quarantineLength: inout Int64) throws {
        let previousLatest = ingest.latest
        switch ingest.classify(line, line: number) {
        case .blank:
            break
        case .accepted(let parsed, let backwards):
            func keep(_ r: Range<Int>) -> Range<Int> { batch.store(UnsafeBufferPointer(rebasing: line[r])) }
            let extra = parsed.extra.map { batch.store($0) }
            let streamID = registry.stream(service: parsed.service, stream: parsed.stream, batch: &batch)
            let typeID = registry.type(parsed.type, batch: &batch)
            // A ts written as its own RFC 3339 form is not kept twice.
            canonical.removeAll(keepingCapacity: true)
            parsed.ts.writeQuotedRFC3339(to: &canonical)
            let raw = UnsafeBufferPointer(rebasing: line[parsed.tsRaw])
            batch.events.append(StoredEventRow(
                line: number, ts: parsed.ts, id: batch.store(parsed.id), streamID: streamID, typeID: typeID, tsRaw: keep(parsed.tsRaw),
                tsCanonical: raw.count == canonical.count && memcmp(raw.baseAddress!, canonical, raw.count) == 0, data: parsed.data.map(keep), meta: parsed.meta.map(keep), extra: extra))
            if backwards, let latest = previousLatest {
                sorted = false
                batch.backwards.append((number, parsed.ts, latest))
                onDiagnostic(.backwards(line: number, ts: parsed.ts, latest: latest))
            }
        case .duplicate(let id, let first):
            batch.duplicates.append((number, id, first))
            onDiagnostic(.duplicate(line: number, id: id, firstLine: first))
        case .rejected(let reason):
            batch.rejected.append((number, reason))
            try quarantine(original, length: &quarantineLength)
            onDiagnostic(.rejected(line: number, reason: reason))
        }
    }
}

/// Commits import batches on a second thread, in order, while the next batch is parsed.
/// At most two batches wait; the first failure stops further commits and is rethrown.
final class BatchWriter: @unchecked Sendable {
    let store: any EventStore
    let onCommitted: ((ImportBatch) throws -> Void)?
    let queue = DispatchQueue(label: "rewind.import.writer")
    let slots = DispatchSemaphore(value: 2)
    let lock = NSLock()
    var failure: (any Error)?

    init(store: any EventStore, onCommitted: ((ImportBatch) throws -> Void)?) {
        self.store = store
        self.onCommitted = onCommitted
    }

    func submit(_ batch: ImportBatch, checkpoint: ImportCheckpoint) throws {
        try rethrowFailure()
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            guard lock.withLock({ failure == nil }) else { return }
            do {
                try store.append(batch, checkpoint: checkpoint)
                try onCommitted?(batch)
            } catch {
                lock.withLock { failure = error }
            }
        }
    }

    func rethrowFailure() throws {
        if let failure = lock.withLock({ failure }) { throw failure }
    }

    /// Waits for every submitted batch and rethrows a failure.
    func finish() throws {
        queue.sync {}
        try rethrowFailure()
    }

    func drain() { queue.sync {} }
}
