import Foundation
import RewindCore

/// A LOG argument that cannot be opened (exit code 2).
public struct OpenError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An opened log: its store and timeline index (describing each other, the store's lock held
/// shared), and where its rules and quarantine live.
public final class OpenedLog {
    public let store: any EventStore
    public private(set) var index: TimelineIndex
    public let lock: StoreLock
    public let maintenance: IndexMaintenance
    /// The store was made from `sourcePath` by this opener (so it can be rebuilt from it).
    public var rebuildable: Bool { importResult != nil }
    /// The JSON Lines file the store was imported from, when known.
    public let sourcePath: String?
    public let rules: Rules
    public let rulesPath: String?
    /// The import that ran while opening (nil when LOG was a store file).
    public let importResult: ImportResult?
    /// The log as messages name it (a server by its URL without the password).
    public internal(set) var displayName: String
    /// The foreign event table the log is read from (follow mode reads its new rows first).
    public internal(set) var tableSource: PostgresTableSource?

    init(store: any EventStore, index: TimelineIndex, lock: StoreLock, maintenance: IndexMaintenance, sourcePath: String?,
         rules: Rules, rulesPath: String?, importResult: ImportResult?, displayName: String) {
        self.store = store
        self.index = index
        self.lock = lock
        self.maintenance = maintenance
        self.sourcePath = sourcePath
        self.rules = rules
        self.rulesPath = rulesPath
        self.importResult = importResult
        self.displayName = displayName
    }

    public var fold: Fold { maintenance.fold }

    /// Rebuilds the index after damage was found in it (exclusive lock, then shared again).
    public func rebuildIndex(waiting: () -> Void = {}) throws {
        try lock.lock(.exclusive, waiting: waiting)
        try? FileManager.default.removeItem(atPath: maintenance.path)
        index = TimelineIndex(image: try maintenance.update())
        try lock.lock(.shared, waiting: waiting)
    }

    /// Brings the index up to date after the store changed (this process imported more, or
    /// compacted it); the caller holds the exclusive lock.
    public func refreshIndex() throws {
        index = TimelineIndex(image: try maintenance.update())
    }

    /// What one step of following read: whether the timeline changed, and the lines it rejected
    /// (copied to the quarantine file, as every import does).
    public struct Followed: Sendable {
        public var changed = false
        public var rejected = 0
    }

    /// Follows a growing log (the explorer's follow mode): reads a foreign table's new rows,
    /// imports what was appended, or extends the index from a store another process grew — when
    /// no other process holds the store — then takes the newest index, which another process may
    /// have extended too. Leaves the lock unheld, as a long-running reader must.
    public func follow() throws -> Followed {
        var followed = Followed()
        if let tableSource { try tableSource.sync() }
        if let source = sourcePath, rebuildable {
            let importer = LogOpener.makeImporter(source, store: store, quarantine: LogOpener.quarantinePath(forLog: source),
                                                  reporting: LogOpener.Reporting())
            if try !importer.isUpToDate(), lock.tryLock(.exclusive) {
                defer { lock.unlock() }
                followed.rejected = try LogOpener.importAndIndex(importer, maintenance: maintenance).summary.rejected
            }
        } else if try store.eventCount() != index.count, lock.tryLock(.exclusive) {
            // A store another process imports into (a server's, most often): its high-water mark
            // moved, so this machine's index is extended from it.
            defer { lock.unlock() }
            try maintenance.update()
        }
        guard lock.tryLock(.shared) else { return followed }
        defer { lock.unlock() }
        guard let latest = try maintenance.image(), try maintenance.status(of: latest) == .current else { return followed }
        guard latest.count != index.count || latest.identity != index.image.identity else { return followed }
        index = TimelineIndex(image: latest)
        followed.changed = true
        return followed
    }

    /// The cache strategy over this log's index, its states kept in the store.
    public func cache(budget: Int = 384 << 20) -> IndexCache {
        OpenedLog.cache(index: index, store: store, rules: rules.fingerprint, budget: budget)
    }

    /// The cache strategy over an index of `store` (another opening of it, for another thread).
    public static func cache(index: TimelineIndex, store: any EventStore, rules: String, budget: Int = 384 << 20) -> IndexCache {
        IndexCache(index: index, rules: rules, budget: budget, store: store) { try store.event(at: $0).id }
    }

    /// The five strategies over this log.
    public func strategies(cache: IndexCache? = nil) -> Strategies {
        Strategies(index: index, cache: cache ?? self.cache(), replay: ReplayStrategy(source: store, fold: fold))
    }
}

/// Resolves the LOG argument of every command (SPEC §6).
public enum LogOpener {
    /// `bank.jsonl` → `bank.rewind`; `events.log` → `events.log.rewind`.
    public static func defaultStorePath(forLog path: String) -> String {
        let url = URL(fileURLWithPath: path)
        if url.pathExtension == "jsonl" { return url.deletingPathExtension().path + ".rewind" }
        return url.path + ".rewind"
    }

    /// `bank.jsonl` → `bank.rejected.jsonl`.
    public static func quarantinePath(forLog path: String) -> String {
        let url = URL(fileURLWithPath: path)
        if url.pathExtension == "jsonl" { return url.deletingPathExtension().path + ".rejected.jsonl" }
        return url.path + ".rejected.jsonl"
    }

    /// `bank.jsonl` → `bank.rules.yaml`.
    public static func rulesPath(forLog path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let base = url.pathExtension == "jsonl" || url.pathExtension == "rewind" ? url.deletingPathExtension().path : url.path
        return base + ".rules.yaml"
    }

    /// rewind's cache folder (`$XDG_CACHE_HOME/rewind`, else `~/.cache/rewind`), made if missing.
    public static func cacheFolder() -> String {
        let env = ProcessInfo.processInfo.environment
        let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        let cache = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 + "/rewind" } ?? (home + "/.cache/rewind")
        try? FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        return cache
    }

    /// Where derived files go when the log's folder is not writable.
    static func fallbackPath(for path: String, suffix: String) -> String {
        let cache = cacheFolder()
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return "\(cache)/\(name)-\(ContentHash.hex(of: absolute))\(suffix)"
    }

    static func writableFolder(of path: String) -> Bool {
        FileManager.default.isWritableFile(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    /// Checks that `path` is a readable regular file: a device (`/dev/zero`), a FIFO or a socket
    /// would be read forever or block, so it is refused before anything is created beside it.
    public static func checkReadableFile(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let code = errno
            var link = stat()
            if code == ELOOP { throw OpenError("\(path): a loop of symbolic links (too many levels of links to follow)") }
            if code == ENOENT, lstat(path, &link) == 0, (link.st_mode & S_IFMT) == S_IFLNK {
                throw OpenError("\(path): a symbolic link to a file that does not exist")
            }
            if code == ENOENT { throw OpenError("\(path): no such file") }
            if code == EACCES { throw OpenError("\(path): permission denied") }
            throw OpenError("\(path): cannot be read (\(String(cString: strerror(code))))")
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw OpenError("\(path): is a directory, not a log file")
        case S_IFIFO: throw OpenError("\(path): a FIFO (named pipe), not a regular file; save the log to a file first")
        case S_IFCHR, S_IFBLK: throw OpenError("\(path): a device, not a regular file")
        case S_IFSOCK: throw OpenError("\(path): a socket, not a regular file")
        default: throw OpenError("\(path): not a regular file")
        }
        guard access(path, R_OK) == 0 else { throw OpenError("\(path): permission denied") }
    }

    /// Reads a small regular file whole, refusing one larger than `limit` without reading it.
    public static func readSmallFile(_ path: String, limit: Int, what: String) throws -> Data {
        try checkReadableFile(path)
        guard let handle = FileHandle(forReadingAtPath: path) else { throw OpenError("\(path): cannot be read") }
        defer { try? handle.close() }
        let data: Data
        do { data = try handle.read(upToCount: limit + 1) ?? Data() } catch {
            throw OpenError("\(path): reading failed (\(error.localizedDescription))")
        }
        guard data.count <= limit else { throw OpenError("\(path): larger than \(limit >> 20) MB: not \(what)") }
        return data
    }

    /// Loads a rules file, or the rules beside the log when `explicit` is nil and one exists.
    public static func loadRules(explicit: String?, besideLog: String?) throws -> (Rules, String?) {
        let path: String
        var link = stat()
        if let explicit {
            path = explicit
        } else if let log = besideLog, lstat(rulesPath(forLog: log), &link) == 0 {
            path = rulesPath(forLog: log)
        } else {
            return (.none, nil)
        }
        let data = try readSmallFile(path, limit: Rules.maxFileBytes, what: "a rules file")
        guard let text = String(validating: data, as: UTF8.self) else { throw OpenError("\(path): not UTF-8 text") }
        do throws(RulesFileError) {
            return (try Rules.parse(yaml: text, file: path), path)
        } catch {
            throw OpenError(error.description)
        }
    }

    /// How an open reports what it waits for and builds.
    public struct Reporting {
        /// A message for the user ("waiting for another rewind process…", "building the index…").
        public var notice: (String) -> Void = { _ in }
        /// The store was damaged and is being rebuilt from the log.
        public var damage: (String) -> Void = { _ in }
        /// The index build's progress (events done, events in all).
        public var indexProgress: (Int, Int) -> Void = { _, _ in }
        /// Set up the importer (diagnostics, progress).
        public var configure: (JSONLImporter) -> Void = { _ in }
        public init() {}
    }

    /// Opens LOG: a `.jsonl` file is imported into its store (once, then reused while the
    /// file is unchanged; a file that only grew imports its new tail), a store file is opened
    /// as it is; then the timeline index is built, extended or rebuilt until it describes the
    /// store. Returns with the store's lock held shared. Another process importing or
    /// indexing the same log is waited for (`reporting.notice` says so).
    public static func open(_ log: String, rulesPath explicitRules: String? = nil, storePath: String? = nil,
                            reporting: Reporting = Reporting(), layout: IndexLayout = .standard) throws -> OpenedLog {
        let server = PostgresURL.isPostgres(log)
        if server, let url = try? PostgresURL(log), url.isForeignTable {
            // Another program's event table: read (only read) into a SPEC log in the cache
            // folder, which opens like any log; follow mode reads the table's new rows.
            let table: PostgresTableSource
            do { table = try PostgresTableSource(url) } catch { throw OpenError("\(error)") }
            do {
                let added = try table.sync().added
                if added > 0 {
                    reporting.notice("\(url.redacted.escapingForTerminal): read \(added) new row\(added == 1 ? "" : "s") of \(table.mapping.table) into \(table.logPath.escapingForTerminal)")
                }
            } catch { throw OpenError("\(error)") }
            let opened = try open(table.logPath, rulesPath: explicitRules, storePath: storePath, reporting: reporting, layout: layout)
            opened.tableSource = table
            opened.displayName = url.redacted
            return opened
        }
        if !server { try checkReadableFile(log) }
        let isStore = server || SQLiteStore.isStoreFile(log)
        var source: String? = isStore ? nil : log
        let store: any EventStore
        var rules: Rules, rulesFile: String?
        var quarantine = quarantinePath(forLog: log)
        let waiting = { reporting.notice("\(log.escapingForTerminal): waiting for another rewind process importing or indexing it") }
        let lock: StoreLock
        if server {
            do { store = try PostgresStore(url: log, create: false) } catch { throw OpenError("\(error)") }
            lock = try StoreLock(store: store.localPath)
            try lock.lock(.shared, waiting: waiting)
            source = try store.checkpoint()?.sourcePath
            (rules, rulesFile) = try loadRules(explicit: explicitRules, besideLog: source ?? log)
        } else if isStore {
            lock = try StoreLock(store: log)
            try lock.lock(.shared, waiting: waiting)
            do { store = try SQLiteStore(path: log) } catch { throw OpenError("\(error)") }
            source = try store.checkpoint()?.sourcePath
            (rules, rulesFile) = try loadRules(explicit: explicitRules, besideLog: source ?? log)
        } else {
            (rules, rulesFile) = try loadRules(explicit: explicitRules, besideLog: log)
            if let storePath, PostgresURL.isPostgres(storePath) {
                if let url = try? PostgresURL(storePath), url.isForeignTable {
                    throw OpenError("\(url.redacted.escapingForTerminal): preset= and table= name another program's event table, which rewind only reads; import into rewind's own schema instead (drop preset=, table= and columns=; ?schema=NAME picks one)")
                }
                // Into a server's schema (made by the first import): the lock is this machine's,
                // and the store's own advisory lock keeps importers on other machines apart.
                do { store = try PostgresStore(url: storePath, create: true) } catch { throw OpenError("\(error)") }
                // A shared store is never replaced by another log: a teammate's import stays.
                if let held = try store.checkpoint()?.sourcePath, !held.isEmpty,
                   URL(fileURLWithPath: held).standardizedFileURL.path != URL(fileURLWithPath: log).standardizedFileURL.path {
                    throw OpenError("\(store.location.escapingForTerminal): holds the import of \(held.escapingForTerminal); import \(log.escapingForTerminal) into a schema of its own (?schema=NAME), or clear this one first (DROP SCHEMA … CASCADE)")
                }
                lock = try StoreLock(store: store.localPath)
                return try finishOpening(log: log, store: store, lock: lock, isStore: false, source: source, rules: rules, rulesFile: rulesFile,
                                         quarantine: quarantine, reporting: reporting, layout: layout)
            }
            var target = storePath ?? defaultStorePath(forLog: log)
            if storePath == nil && !writableFolder(of: log) {
                // One rule for every command: a log in a folder rewind cannot write keeps its
                // store (and quarantine) in the cache folder, under a name of its own.
                target = fallbackPath(for: log, suffix: ".rewind")
                quarantine = fallbackPath(for: log, suffix: ".rejected.jsonl")
                if !FileManager.default.fileExists(atPath: target) {
                    reporting.notice("\(log.escapingForTerminal): its folder cannot be written; keeping its store in \(target.escapingForTerminal)")
                }
            }
            // A store is made (or rebuilt) by one process at a time; others wait for it.
            lock = try StoreLock(store: target)
            let size = (try? FileManager.default.attributesOfItem(atPath: target)[.size] as? Int) ?? 0
            try lock.lock(size == 0 ? .exclusive : .shared, waiting: waiting)
            do {
                store = try SQLiteStore(path: target)
            } catch where StoreError.isDamage(error) {
                // The store is a cache of the log: a damaged (or outdated) one is rebuilt, never read.
                try lock.lock(.exclusive, waiting: waiting)
                reporting.damage("\(error)")
                SQLiteStore.remove(at: target)
                try? FileManager.default.removeItem(atPath: IndexMaintenance.indexPath(forStore: target))
                do { store = try SQLiteStore(path: target) } catch { throw OpenError("\(error)") }
            } catch {
                throw OpenError("\(error)")
            }
        }
        return try finishOpening(log: log, store: store, lock: lock, isStore: isStore, source: source, rules: rules, rulesFile: rulesFile,
                                 quarantine: quarantine, reporting: reporting, layout: layout)
    }

    /// Imports what the store lacks and builds the index until both describe the log.
    private static func finishOpening(log: String, store: any EventStore, lock: StoreLock, isStore: Bool, source: String?, rules: Rules,
                                      rulesFile: String?, quarantine: String, reporting: Reporting, layout: IndexLayout) throws -> OpenedLog {
        let waiting = { reporting.notice("\(log.escapingForTerminal): waiting for another rewind process importing or indexing it") }
        let maintenance = IndexMaintenance(store: store, fold: Fold(rules: rules))
        maintenance.layout = layout
        maintenance.onProgress = reporting.indexProgress
        maintenance.onNotice = reporting.notice
        var result: ImportResult?
        while true {
            try lock.lock(.shared, waiting: waiting)
            let importer = isStore ? nil : makeImporter(log, store: store, quarantine: quarantine, reporting: reporting)
            if try importer?.isUpToDate() ?? true, let image = try? maintenance.image(), (try? maintenance.status(of: image)) == .current {
                if let importer, result == nil { result = try importer.run() }  // up to date: reads nothing
                return OpenedLog(store: store, index: TimelineIndex(image: image), lock: lock, maintenance: maintenance,
                                 sourcePath: source, rules: rules, rulesPath: rulesFile, importResult: result,
                                 displayName: PostgresURL.isPostgres(log) ? store.location : log)
            }
            try lock.lock(.exclusive, waiting: waiting)
            if let importer {
                let r = try importAndIndex(importer, maintenance: maintenance)
                // An earlier import's summary stays the one reported when this one read nothing.
                if result == nil || r.kind != .upToDate { result = r }
            }
            try maintenance.update()
        }
    }

    /// Runs `importer` with the index built beside it (a fresh index for a full import, the
    /// current one extended for a tail), then brings the index up to date. Hold the exclusive lock.
    @discardableResult
    public static func importAndIndex(_ importer: JSONLImporter, maintenance: IndexMaintenance) throws -> ImportResult {
        var pipeline: IndexPipeline?
        importer.beforeReading = { kind in
            pipeline = kind == .full ? try maintenance.freshPipeline() : try maintenance.pipeline()
            if let p = pipeline { importer.onCommitted = { p.submit($0) } }
        }
        let result = try importer.run()
        if let pipeline {
            let store = maintenance.store
            let count = try store.eventCount()
            _ = try pipeline.finish(lastEventID: count > 0 ? try store.event(at: count - 1).id : "")
        }
        try maintenance.update()
        return result
    }

    static func makeImporter(_ log: String, store: any EventStore, quarantine: String, reporting: Reporting) -> JSONLImporter {
        let importer = JSONLImporter(path: log, store: store, quarantinePath: quarantine)
        if let previous = try? store.checkpoint(), let format = LogFormat(rawValue: previous.format) {
            importer.format = format  // keep the format a previous `rewind import --format` chose
        }
        reporting.configure(importer)
        return importer
    }
}

