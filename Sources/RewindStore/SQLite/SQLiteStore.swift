import Foundation
import GRDB
import GRDBSQLite
import RewindCore

/// The embedded store: one SQLite file per log (GRDB.swift for connections, migrations and
/// transactions; the two hot loops — inserting an import batch and reading the timeline —
/// step raw SQLite statements, which measured several times faster than binding through
/// `StatementArguments` per row).
///
/// `events.pos` is the timeline position and the table's rowid, so reading a range of the
/// timeline is a rowid range scan and appending is always at the right edge of the b-tree.
/// Service, stream and type names are kept once (`streams`, `types`) and events name them by
/// number; a `ts` written exactly as its RFC 3339 form is not kept twice (`ts_raw` NULL).
/// The store only grows while its `identity` stays the same: a rewrite of the timeline (a new
/// import, events re-ordered, compaction) gives it a new one, and the index built for the old
/// one is rebuilt.
public final class SQLiteStore: EventStore {
    public let location: String
    public var localPath: String { location }
    let queue: DatabaseQueue
    let configuration: Configuration
    private let readersLock = NSLock()
    nonisolated(unsafe) private var readers: [Int: DatabaseQueue] = [:]
    let names = NameCache()

    /// Runs a read; SQLite's failures become `StoreError`s naming the store.
    func reading<T>(_ connection: DatabaseQueue? = nil, _ body: (Database) throws -> T) throws -> T {
        do { return try (connection ?? queue).read(body) } catch let e as DatabaseError {
            throw StoreError.from(e, location: location, doing: "read the store")
        }
    }

    /// Runs a write transaction; SQLite's failures become `StoreError`s naming the store.
    func writing<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try queue.write(body) } catch let e as DatabaseError {
            throw StoreError.from(e, location: location, doing: "write the store")
        }
    }

    /// A read-only connection for a replay partition other than 0.
    func reader(_ partition: Int) throws -> DatabaseQueue {
        try readersLock.withLock {
            if let r = readers[partition] { return r }
            var config = configuration
            config.readonly = true
            let r = try DatabaseQueue(path: location, configuration: config)
            readers[partition] = r
            return r
        }
    }

    /// The schema this build writes; a store of another is not read (it is rebuilt from its log).
    public static let schema = "rewind-store-3"

    /// Opens (creating if needed) the store at `path`. A database that is not a rewind store is
    /// refused and left untouched.
    public init(path: String) throws {
        location = path
        var config = Configuration()
        // A rollback journal, not WAL: an import appends pages, which need no journaling, where
        // WAL would write every page twice. synchronous = OFF: the store is a cache of the log —
        // a killed process loses nothing committed, and a damaged store is rebuilt from the log.
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = OFF; PRAGMA cache_size = -8192; PRAGMA temp_store = MEMORY; PRAGMA page_size = 16384")
        }
        config.busyMode = .timeout(60)
        configuration = config
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
            _ = try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = TRUNCATE") }
            // Checked and, for a new file, created in one write transaction: two processes opening
            // a new store at once create it once (the second waits for the first, then finds it).
            try queue.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
                    if tables.isEmpty {
                        try db.execute(sql: SQLiteStore.schemaSQL)
                        try db.execute(sql: "INSERT INTO store_meta VALUES (1, ?, ?)", arguments: [UUID().uuidString, SQLiteStore.schema])
                    } else if !tables.contains("store_meta") {
                        if tables.contains("import_state") && tables.contains("events") {
                            throw StoreError("\(path): a store of an older rewind (re-import the log)", isDamage: true, isOutdated: true)
                        }
                        throw StoreError("\(path): not a rewind store (a database with other tables); give a .jsonl log or a store made by rewind import")
                    } else if try String.fetchOne(db, sql: "SELECT schema FROM store_meta") != SQLiteStore.schema {
                        throw StoreError("\(path): a store of another rewind version (re-import the log)", isDamage: true, isOutdated: true)
                    }
                    return .commit
                }
            }
        } catch let error as DatabaseError {
            if [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode.primaryResultCode) {
                throw StoreError("\(path): not a usable rewind store (\(error.message ?? "\(error)"))", isDamage: true)
            }
            throw StoreError.from(error, location: path, doing: "open the store")
        }
        if try isTruncated() {
            throw StoreError("\(path): the store file is shorter than its pages (truncated)", isDamage: true)
        }
    }

    /// A file shorter than SQLite's page count says it is was cut off.
    func isTruncated() throws -> Bool {
        let (pages, pageSize) = try reading { db in
            (try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0, try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: location)[.size] as? Int) ?? 0
        return size < pages * pageSize
    }

    /// Removes a store file and its journal.
    public static func remove(at path: String) {
        for suffix in ["", "-journal", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    public func discardForRebuild() throws { SQLiteStore.remove(at: location) }

    public func reopened() throws -> any EventStore { try SQLiteStore(path: location) }

    /// A copy of the file beside it.
    public func backup(stamp: String) throws -> String {
        let path = "\(location).backup-\(stamp)"
        try FileManager.default.copyItem(atPath: location, toPath: path)
        return path
    }

    /// Whether the file at `path` starts with SQLite's header.
    public static func isStoreFile(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = handle.readData(ofLength: 16)
        return head == Data("SQLite format 3\u{0}".utf8)
    }

    static let schemaSQL = """
                CREATE TABLE events (
                    pos INTEGER PRIMARY KEY,      -- timeline position, 0-based
                    line INTEGER NOT NULL,        -- 1-based line in the source
                    ts INTEGER NOT NULL,          -- nanoseconds since the epoch
                    id TEXT NOT NULL,
                    stream INTEGER NOT NULL,      -- streams.id
                    type INTEGER NOT NULL,        -- types.id
                    ts_raw TEXT,                  -- the ts value as written (JSON); NULL: its RFC 3339 string
                    data TEXT,                    -- JSON as written; NULL when absent
                    meta TEXT,
                    extra TEXT,                   -- other top-level fields, as one JSON object
                    sum INTEGER NOT NULL          -- checksum of the row's other columns but pos (RowSum)
                );
                CREATE TABLE streams (id INTEGER PRIMARY KEY, service TEXT NOT NULL, stream TEXT NOT NULL, sum INTEGER NOT NULL);
                CREATE TABLE types (id INTEGER PRIMARY KEY, name TEXT NOT NULL, sum INTEGER NOT NULL);
                CREATE TABLE store_meta (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), identity TEXT NOT NULL, schema TEXT NOT NULL);
                CREATE TABLE duplicates (line INTEGER PRIMARY KEY, id TEXT NOT NULL, first_line INTEGER NOT NULL);
                CREATE TABLE rejected (line INTEGER PRIMARY KEY, reason TEXT NOT NULL);
                CREATE TABLE backwards (line INTEGER PRIMARY KEY, ts INTEGER NOT NULL, latest INTEGER NOT NULL);
                CREATE TABLE import_state (
                    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                    source_path TEXT NOT NULL, source_size INTEGER NOT NULL, source_modified INTEGER NOT NULL,
                    source_inode INTEGER NOT NULL, byte_offset INTEGER NOT NULL, line INTEGER NOT NULL,
                    hash_state INTEGER NOT NULL, hash_length INTEGER NOT NULL, hash_pending INTEGER NOT NULL,
                    hash_pending_count INTEGER NOT NULL, quarantine_length INTEGER NOT NULL, latest INTEGER,
                    sorted INTEGER NOT NULL, blank_lines INTEGER NOT NULL, tail INTEGER NOT NULL, complete INTEGER NOT NULL,
                    format TEXT NOT NULL DEFAULT 'jsonl'
                );
                -- Ids of events that `squash --compact` replaced: a later re-delivery of one of them is
                -- still a duplicate, though the event itself is gone.
                CREATE TABLE compacted_ids (id TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID;
                -- The cache strategy's states (`CachedStateRow`): every column is covered by `hash`.
                CREATE TABLE cached_states (
                    pos INTEGER PRIMARY KEY, rules TEXT NOT NULL, version INTEGER NOT NULL,
                    last_id TEXT NOT NULL, changes BLOB NOT NULL, hash TEXT NOT NULL
                );
                """

    /// The store's identity: the same while the store only grows.
    public func identity() throws -> String {
        try reading { db in try String.fetchOne(db, sql: "SELECT identity FROM store_meta") ?? "" }
    }

    /// Gives the store a new identity (its timeline was rewritten).
    static func renew(_ db: Database) throws {
        try db.execute(sql: "UPDATE store_meta SET identity = ?", arguments: [UUID().uuidString])
    }

    // MARK: bookkeeping

    public func checkpoint() throws -> ImportCheckpoint? {
        try reading { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM import_state WHERE singleton = 1") else { return nil }
            let latest: Int64? = row["latest"]
            var c = ImportCheckpoint(
                sourcePath: row["source_path"], sourceSize: row["source_size"], sourceModified: row["source_modified"],
                sourceInode: row["source_inode"], offset: row["byte_offset"], line: row["line"],
                hash: ContentHash(state: UInt64(bitPattern: row["hash_state"]), length: row["hash_length"],
                                  pending: UInt64(bitPattern: row["hash_pending"]), pendingCount: row["hash_pending_count"]),
                quarantineLength: row["quarantine_length"], latest: latest.map(Timestamp.init(nanoseconds:)),
                sorted: row["sorted"], blankLines: row["blank_lines"], tail: row["tail"], complete: row["complete"])
            c.format = row["format"]
            return c
        }
    }

    static func save(_ c: ImportCheckpoint, _ db: Database) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO import_state VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [
                c.sourcePath, c.sourceSize, c.sourceModified, c.sourceInode, c.offset, c.line,
                Int64(bitPattern: c.hash.state), c.hash.length, Int64(bitPattern: c.hash.pending), c.hash.pendingCount,
                c.quarantineLength, c.latest?.nanoseconds, c.sorted, c.blankLines, c.tail, c.complete, c.format,
            ])
    }

    public func reset() throws {
        try writing { db in
            for table in ["events", "streams", "types", "duplicates", "rejected", "backwards", "import_state",
                          "cached_states", "compacted_ids"] {
                try db.execute(sql: "DELETE FROM \(table)")
            }
            try SQLiteStore.renew(db)
        }
        names.clear()
    }

    public func discardLines(after line: Int) throws {
        try writing { db in
            let removed = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events WHERE line > ?", arguments: [line]) ?? 0
            for table in ["events", "duplicates", "rejected", "backwards"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE line > ?", arguments: [line])
            }
            // Streams and types the removed events introduced stay: ids are never reused.
            _ = removed
        }
    }

    public func append(_ batch: ImportBatch, checkpoint: ImportCheckpoint) throws {
        try writing { db in
            // Names and ids are bound with their byte length: GRDB binds a `String` as a C string,
            // which would cut one at its first NUL.
            for s in batch.newStreams { try SQLiteStore.insertStream(db, id: Int(s.id), service: s.service, stream: s.stream) }
            for t in batch.newTypes { try SQLiteStore.insertType(db, id: Int(t.id), name: t.name) }
            if !batch.events.isEmpty {
                var next = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(pos) + 1, 0) FROM events") ?? 0
                let statement = try db.makeStatement(sql: SQLiteStore.insertEventSQL)
                let s = statement.sqliteStatement
                try withExtendedLifetime(statement) { try batch.arena.withUnsafeBufferPointer { arena in
                    func bytes(_ range: Range<Int>?) -> UnsafeBufferPointer<UInt8>? {
                        range.map { UnsafeBufferPointer(rebasing: arena[$0]) }
                    }
                    for row in batch.events {
                        try SQLiteStore.insertEvent(s, db, location: location, pos: next, line: Int64(row.line), ts: row.ts.nanoseconds,
                                                    stream: Int64(row.streamID), type: Int64(row.typeID), id: bytes(row.id)!,
                                                    tsRaw: bytes(row.tsCanonical ? nil : row.tsRaw), data: bytes(row.data),
                                                    meta: bytes(row.meta), extra: bytes(row.extra))
                        next += 1
                    }
                } }
            }
            for d in batch.duplicates {
                try SQLiteStore.insert(db, "INSERT INTO duplicates VALUES (?, ?, ?)", [.int(Int64(d.line)), .text(d.id), .int(Int64(d.firstLine))])
            }
            for r in batch.rejected { try SQLiteStore.insert(db, "INSERT INTO rejected VALUES (?, ?)", [.int(Int64(r.line)), .text(r.reason)]) }
            for b in batch.backwards {
                try db.execute(sql: "INSERT INTO backwards VALUES (?, ?, ?)", arguments: [b.line, b.ts.nanoseconds, b.latest.nanoseconds])
            }
            try SQLiteStore.save(checkpoint, db)
        }
    }

    /// A failed step as GRDB's error, which `reading`/`writing` turn into a `StoreError`.
    static func failure(_ db: Database, _ rc: Int32) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
    }

    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    enum Value { case int(Int64), text(String) }

    /// Runs one insert (a statement cached per connection), text bound by its byte length.
    static func insert(_ db: Database, _ sql: String, _ values: [Value]) throws {
        let s = try db.cachedStatement(sql: sql).sqliteStatement
        defer { sqlite3_reset(s) }
        for (i, v) in values.enumerated() {
            switch v {
            case .int(let n): sqlite3_bind_int64(s, Int32(i + 1), n)
            case .text(var t):
                t.withUTF8 { b in
                    let bytes = UnsafeRawPointer(b.baseAddress ?? UnsafePointer(bitPattern: 1)!).assumingMemoryBound(to: CChar.self)
                    _ = sqlite3_bind_text(s, Int32(i + 1), bytes, Int32(b.count), transient)
                }
            }
        }
        let rc = sqlite3_step(s)
        guard rc == SQLITE_DONE else {
            throw SQLiteStore.failure(db, rc)
        }
    }

    static func insertStream(_ db: Database, id: Int, service: String, stream: String) throws {
        try insert(db, "INSERT INTO streams VALUES (?, ?, ?, ?)",
                   [.int(Int64(id)), .text(service), .text(stream), .int(RowSum.names(Int64(id), [service, stream]))])
    }

    static func insertType(_ db: Database, id: Int, name: String) throws {
        try insert(db, "INSERT INTO types VALUES (?, ?, ?)", [.int(Int64(id)), .text(name), .int(RowSum.names(Int64(id), [name]))])
    }

    /// Rebuilds `events` so that `pos` runs 0, 1, 2, … in (ts, line) order. Only needed
    /// after backwards timestamps or discarded rows; an ordered import appends in place. The
    /// store gets a new identity when any position changed.
    public func restoreTimelineOrder() throws {
        try writing { db in
            let moved = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM (SELECT pos, row_number() OVER (ORDER BY ts, line) - 1 AS wanted FROM events) WHERE pos != wanted
                """) ?? 0
            guard moved > 0 else { return }
            try db.execute(sql: """
                CREATE TABLE events_ordered (
                    pos INTEGER PRIMARY KEY, line INTEGER NOT NULL, ts INTEGER NOT NULL, id TEXT NOT NULL,
                    stream INTEGER NOT NULL, type INTEGER NOT NULL, ts_raw TEXT, data TEXT, meta TEXT, extra TEXT,
                    sum INTEGER NOT NULL);
                INSERT INTO events_ordered
                    SELECT row_number() OVER (ORDER BY ts, line) - 1, line, ts, id, stream, type, ts_raw, data, meta, extra, sum
                    FROM events ORDER BY ts, line;
                DROP TABLE events;
                ALTER TABLE events_ordered RENAME TO events;
                DELETE FROM cached_states;
                """)
            try SQLiteStore.renew(db)
        }
    }

    /// id → line of every accepted event (and of every event compaction replaced).
    public func acceptedIDs() throws -> [EventID: Int] {
        try reading { db in
            var ids: [EventID: Int] = [:]
            try SQLiteStore.texts(db, "SELECT id, line FROM events UNION ALL SELECT id, line FROM compacted_ids") { ids[EventID($0[0])] = Int($0[1]) ?? 0 }
            return ids
        }
    }

    /// Every stream's names and every type's name, by id (to resume numbering them).
    public func registry() throws -> (streams: [(service: String, stream: String)], types: [String]) {
        try reading { db in
            var streams: [(String, String)] = []
            try checkedNames(db, "SELECT id, service, stream, sum FROM streams ORDER BY id", table: "streams") { row in
                streams.append((row[0], row[1]))
            }
            guard try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(id) + 1, 0) FROM streams") == streams.count else {
                throw StoreError("\(location): the stream table has a gap", isDamage: true)
            }
            var types: [String] = []
            try checkedNames(db, "SELECT id, name, sum FROM types ORDER BY id", table: "types") { types.append($0[0]) }
            return (streams, types)
        }
    }

    public func summary() throws -> ImportSummary {
        try reading { db in
            func count(_ table: String) throws -> Int { try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 }
            let blank = try Int.fetchOne(db, sql: "SELECT blank_lines FROM import_state") ?? 0
            // Positions are dense from 0: the largest rowid counts the events without a scan.
            let accepted = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(pos) + 1, 0) FROM events") ?? 0
            return ImportSummary(accepted: accepted, duplicates: try count("duplicates"),
                                 rejected: try count("rejected"), blank: blank, backwards: try count("backwards"))
        }
    }

    public func duplicateLines(limit: Int) throws -> [(line: Int, id: String, firstLine: Int)] {
        try reading { db in
            var out: [(Int, String, Int)] = []
            try SQLiteStore.texts(db, "SELECT line, id, first_line FROM duplicates ORDER BY line LIMIT \(max(0, limit))") {
                out.append((Int($0[0]) ?? 0, $0[1], Int($0[2]) ?? 0))
            }
            return out
        }
    }

    public func rejectedLines(limit: Int) throws -> [(line: Int, reason: String)] {
        try reading { db in
            var out: [(Int, String)] = []
            try SQLiteStore.texts(db, "SELECT line, reason FROM rejected ORDER BY line LIMIT \(max(0, limit))") { out.append((Int($0[0]) ?? 0, $0[1])) }
            return out
        }
    }

    public func backwardsLines(limit: Int) throws -> [(line: Int, ts: Timestamp, latest: Timestamp)] {
        try reading { db in
            try Row.fetchAll(db, sql: "SELECT line, ts, latest FROM backwards ORDER BY line LIMIT ?", arguments: [limit])
                .map { ($0[0], Timestamp(nanoseconds: $0[1]), Timestamp(nanoseconds: $0[2])) }
        }
    }
}
