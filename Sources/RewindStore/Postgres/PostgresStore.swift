import Foundation
import RewindCore

/// The shared store: rewind's tables in a schema of a PostgreSQL database (`postgres://…`),
/// through libpq. The same rows as the SQLite store's (`PostgresMigrations`), the same checks
/// on every read (row checksums, timeline order, dense positions), batches written by `COPY`
/// with their checkpoint in one transaction.
///
/// Two processes, on one machine or on two: an import holds a session advisory lock for the
/// schema while it writes and checks that the checkpoint is the one it read, so a second
/// importer waits or stops instead of interleaving; readers see only committed transactions.
/// The timeline index is derived data kept on this machine (`localPath`), keyed by the
/// server's system identifier, the database and the schema, and tied to the store's identity
/// and event count like a file store's.
public final class PostgresStore: EventStore, @unchecked Sendable {
    public let location: String
    public let localPath: String
    let url: PostgresURL
    /// The schema, quoted, for SQL text (a checked identifier: never a value from a log).
    let schema: String
    private let lock = NSLock()
    private let main: PGConnection
    private let readersLock = NSLock()
    private var readers: [Int: PGConnection] = [:]
    private var names: (streams: [(service: String, stream: String)], types: [String]) = ([], [])
    private let namesLock = NSLock()
    /// The checkpoint's line as this process last read or wrote it (nil: none; unknown: not read).
    private var knownLine: Int?? = .none

    /// Connects; with `create`, makes the schema (or brings it to the latest migration) first.
    /// Without it, a database without rewind's schema is an error that says how to make one.
    public init(url text: String, create: Bool) throws {
        url = try PostgresURL(text)
        location = url.redacted
        schema = "\"\(url.schema)\""
        main = try PGConnection(url)
        // One round trip for what every open checks (a process on the server makes few).
        let facts = try main.query("SELECT current_setting('server_encoding'), to_regclass($1) IS NOT NULL, current_database()",
                                   [.text("\(schema).schema_migrations")])
        let encoding = facts.string(0, 0) ?? ""
        guard encoding == "UTF8" else {
            throw StoreError("\(location): the database's encoding is \(encoding), not UTF8: rewind needs a UTF8 database (CREATE DATABASE … ENCODING 'UTF8')")
        }
        if create { try PostgresStore.migrate(main, url) }
        var applied = -1
        if create || facts.string(0, 1) == "t" {
            applied = Int(try main.query("SELECT COALESCE(MAX(version), 0) FROM \(schema).schema_migrations").int(0, 0) ?? 0)
        }
        if applied < 0 {
            throw StoreError("\(location): the database has no rewind schema \(schema); create it by importing a log into it: rewind import LOG --to '\(location)'")
        }
        if applied < PostgresMigrations.latest {
            throw StoreError("\(location): the rewind schema \(schema) is of an older rewind (migration \(applied) of \(PostgresMigrations.latest)); bring it up to date with: rewind import LOG --to '\(location)'")
        }
        if applied > PostgresMigrations.latest {
            throw StoreError("\(location): the rewind schema \(schema) is of a newer rewind (migration \(applied)); use that rewind")
        }
        // The server's identity keeps this machine's index of it apart from any other's.
        let server = (try? main.query("SELECT system_identifier::text FROM pg_control_system()").string(0, 0)) ?? ""
        let database = facts.string(0, 2) ?? ""
        var key = ContentHash()
        for var part in [server, database, url.schema, server.isEmpty ? url.redacted : ""] {
            part.withUTF8 { key.update($0) }
            key.update([0])
        }
        let safe = String(database.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }.prefix(40))
        localPath = LogOpener.cacheFolder() + "/pg-\(safe)-\(url.schema)-\(String(key.digest, radix: 16)).rewind"
    }

    /// Applies the migrations the schema lacks, one transaction each, under an advisory lock
    /// (two processes creating it at once: the second finds it made).
    static func migrate(_ main: PGConnection, _ url: PostgresURL) throws {
        let schema = "\"\(url.schema)\""
        try main.transaction {
            try main.query("SELECT pg_advisory_xact_lock(hashtext($1))", [.text("rewind migrate \(url.schema)")], doing: "create the schema")
            try main.execute("CREATE SCHEMA IF NOT EXISTS \(schema); CREATE TABLE IF NOT EXISTS \(schema).schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())", doing: "create the schema")
            let applied = Int(try main.query("SELECT COALESCE(MAX(version), 0) FROM \(schema).schema_migrations").int(0, 0) ?? 0)
            for m in PostgresMigrations.all where m.version > applied {
                try main.execute(m.sql.replacingOccurrences(of: "{schema}", with: schema), doing: "apply migration \(m.version) (\(m.name))")
                try main.query("INSERT INTO \(schema).schema_migrations (version, name) VALUES ($1, $2)", [.int(Int64(m.version)), .text(m.name)],
                               doing: "record migration \(m.version)")
            }
        }
    }

    /// Drops the schema the URL names and everything in it (the benchmark's own schema; no
    /// command drops a store).
    public static func dropSchema(url text: String) throws {
        let url = try PostgresURL(text)
        try PGConnection(url).execute("DROP SCHEMA IF EXISTS \"\(url.schema)\" CASCADE")
    }

    /// Another connection to the same store (for another thread).
    public func reopened() throws -> any EventStore { try PostgresStore(url: url.connection + (url.schema == "rewind" ? "" : (url.connection.contains("?") ? "&" : "?") + "schema=\(url.schema)"), create: false) }

    /// The server process of the main connection (a test ends it to lose the connection).
    var backendPID: Int32 { lock.withLock { main.backendPID } }

    /// Runs a read on the main connection; a lost connection is made again and the read tried once more.
    func reading<T>(_ body: (PGConnection) throws -> T) throws -> T {
        try lock.withLock { try PostgresStore.retrying(main, body) }
    }

    static func retrying<T>(_ connection: PGConnection, _ body: (PGConnection) throws -> T) throws -> T {
        do { return try body(connection) } catch let e as StoreError where e.isConnectionLost {
            try connection.reset()
            return try body(connection)
        }
    }

    /// Runs a write transaction on the main connection (never retried: a lost connection rolled it back).
    func writing<T>(_ body: (PGConnection) throws -> T) throws -> T {
        try lock.withLock { try main.transaction { try body(main) } }
    }

    func reader(_ partition: Int) throws -> PGConnection {
        try readersLock.withLock {
            if let r = readers[partition] { return r }
            let r = try PGConnection(url)
            readers[partition] = r
            return r
        }
    }

    func damagedRow(_ what: String) -> StoreError {
        StoreError("\(location): \(what) does not match its checksum (the table was changed outside rewind)", isDamage: true)
    }

    public func identity() throws -> String {
        try reading { try $0.query("SELECT identity FROM \(schema).store_meta").string(0, 0) ?? "" }
    }

    static func renew(_ c: PGConnection, _ schema: String) throws {
        try c.query("UPDATE \(schema).store_meta SET identity = gen_random_uuid()::text", doing: "write the store")
    }

    // MARK: names

    /// Every stream's and type's names, by id, each row's checksum checked.
    public func registry() throws -> (streams: [(service: String, stream: String)], types: [String]) {
        try reading { c in
            let streams = try readStreams(c, from: 0)
            let types = try readTypes(c)
            return (streams, types)
        }
    }

    func readStreams(_ c: PGConnection, from id: Int) throws -> [(service: String, stream: String)] {
        let r = try c.query("SELECT id, service, stream, sum FROM \(schema).streams WHERE id >= $1 ORDER BY id", [.int(Int64(id))])
        var out: [(String, String)] = []
        out.reserveCapacity(r.rows)
        for i in 0..<r.rows {
            let sid = r.int(i, 0) ?? -1
            guard sid == Int64(id + i) else { throw StoreError("\(location): the stream table has a gap", isDamage: true) }
            let service = PGName.unescape(r.bytes(i, 1)!), stream = PGName.unescape(r.bytes(i, 2)!)
            guard r.int(i, 3) == RowSum.names(sid, [service, stream]) else { throw damagedRow("a row of streams (id \(sid))") }
            out.append((service, stream))
        }
        return out
    }

    func readTypes(_ c: PGConnection) throws -> [String] {
        let r = try c.query("SELECT id, name, sum FROM \(schema).types ORDER BY id")
        var out: [String] = []
        for i in 0..<r.rows {
            let tid = r.int(i, 0) ?? -1
            guard tid == Int64(i) else { throw StoreError("\(location): the type table has a gap", isDamage: true) }
            let name = PGName.unescape(r.bytes(i, 1)!)
            guard r.int(i, 2) == RowSum.names(tid, [name]) else { throw damagedRow("a row of types (id \(tid))") }
            out.append(name)
        }
        return out
    }

    public func streamNames(from id: Int) throws -> [(service: String, stream: String)] {
        try reading { try readStreams($0, from: max(0, id)) }
    }

    /// The names with at least `streams` streams and `types` types (reading only what was added).
    func nameSnapshot(_ c: PGConnection, streams needed: Int, types neededTypes: Int) throws
        -> (streams: [(service: String, stream: String)], types: [String]) {
        try namesLock.withLock {
            if names.streams.count < needed { names.streams += try readStreams(c, from: names.streams.count) }
            if names.types.count < neededTypes { names.types = try readTypes(c) }
            return names
        }
    }

    // MARK: bookkeeping

    public func checkpoint() throws -> ImportCheckpoint? {
        let c = try reading { c -> ImportCheckpoint? in
            let r = try c.query("""
                SELECT source_path, source_size, source_modified, source_inode, byte_offset, line, hash_state, hash_length,
                       hash_pending, hash_pending_count, quarantine_length, latest, sorted, blank_lines, tail, complete, format
                FROM \(schema).import_state WHERE singleton = 1
                """)
            guard r.rows == 1 else { return nil }
            func n(_ i: Int) -> Int64 { r.int(0, i) ?? 0 }
            func b(_ i: Int) -> Bool { r.string(0, i) == "t" }
            var cp = ImportCheckpoint(
                sourcePath: r.string(0, 0) ?? "", sourceSize: n(1), sourceModified: n(2), sourceInode: n(3), offset: n(4), line: Int(n(5)),
                hash: ContentHash(state: UInt64(bitPattern: n(6)), length: n(7), pending: UInt64(bitPattern: n(8)), pendingCount: Int(n(9))),
                quarantineLength: n(10), latest: r.int(0, 11).map(Timestamp.init(nanoseconds:)),
                sorted: b(12), blankLines: Int(n(13)), tail: b(14), complete: b(15))
            cp.format = r.string(0, 16) ?? "jsonl"
            return cp
        }
        lock.withLock { knownLine = .some(c?.line) }
        return c
    }

    func save(_ cp: ImportCheckpoint, _ c: PGConnection) throws {
        try c.query("DELETE FROM \(schema).import_state", doing: "write the checkpoint")
        try c.query("""
            INSERT INTO \(schema).import_state VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
            """, [.text(cp.sourcePath), .int(cp.sourceSize), .int(cp.sourceModified), .int(cp.sourceInode), .int(cp.offset), .int(Int64(cp.line)),
                  .int(Int64(bitPattern: cp.hash.state)), .int(cp.hash.length), .int(Int64(bitPattern: cp.hash.pending)),
                  .int(Int64(cp.hash.pendingCount)), .int(cp.quarantineLength), cp.latest.map { .int($0.nanoseconds) } ?? .null,
                  .text(cp.sorted ? "t" : "f"), .int(Int64(cp.blankLines)), .text(cp.tail ? "t" : "f"), .text(cp.complete ? "t" : "f"),
                  .text(cp.format)], doing: "write the checkpoint")
    }

    static let tables = ["events", "streams", "types", "duplicates", "rejected", "backwards", "import_state", "cached_states", "compacted_ids"]

    public func reset() throws {
        try writing { c in
            try importLock(c)
            try c.execute("TRUNCATE " + PostgresStore.tables.map { "\(schema).\($0)" }.joined(separator: ", "))
            try PostgresStore.renew(c, schema)
        }
        namesLock.withLock { names = ([], []) }
        lock.withLock { knownLine = .some(nil) }
    }

    public func discardForRebuild() throws { try reset() }

    /// A copy of every table in a schema of its own (`SCHEMA_backup_STAMP`), itself a store that
    /// opens with `?schema=` that name.
    public func backup(stamp: String) throws -> String {
        let suffix = "_backup_\(stamp.lowercased().filter { $0.isLetter || $0.isNumber })"
        let name = String(url.schema.prefix(63 - suffix.utf8.count)) + suffix  // identifiers end at 63 bytes
        guard PostgresURL.isIdentifier(name) else { throw StoreError("\(location): cannot name a backup schema \(name)") }
        try writing { c in
            try c.execute("CREATE SCHEMA \"\(name)\"")
            for table in PostgresStore.tables + ["store_meta", "schema_migrations"] {
                try c.execute("CREATE TABLE \"\(name)\".\(table) (LIKE \(schema).\(table) INCLUDING ALL); INSERT INTO \"\(name)\".\(table) SELECT * FROM \(schema).\(table)")
            }
        }
        return "schema \(name) (open it with ?schema=\(name))"
    }

    public func discardLines(after line: Int) throws {
        try writing { c in
            try importLock(c)
            for table in ["events", "duplicates", "rejected", "backwards"] {
                try c.query("DELETE FROM \(schema).\(table) WHERE line > $1", [.int(Int64(line))])
            }
        }
    }

    /// Serialises writers of this schema (any machine) for the transaction; then checks that no
    /// other process moved the checkpoint since this one read it.
    func importLock(_ c: PGConnection) throws {
        try c.query("SELECT pg_advisory_xact_lock(hashtext($1))", [.text("rewind import \(url.schema)")], doing: "lock the store")
        guard case .some(let expected) = knownLine else { return }
        let now = try c.query("SELECT line FROM \(schema).import_state").int(0, 0).map { Int($0) }
        guard now == expected else {
            throw StoreError("\(location): another rewind process imported into this store meanwhile (its checkpoint moved from line \(expected.map(String.init) ?? "none") to \(now.map(String.init) ?? "none")); run the command again")
        }
    }

    public func append(_ batch: ImportBatch, checkpoint: ImportCheckpoint) throws {
        try writing { c in
            // A server crash may lose the last batches committed this way, never half of one: the
            // checkpoint is in the same transaction, and the rerun reads from it again.
            try c.execute("SET LOCAL synchronous_commit = off")
            try importLock(c)
            let s = schema
            // Binary COPY: numbers as they are, texts as their bytes (no escaping either side).
            if !batch.newStreams.isEmpty {
                try c.copyIn("COPY \(s).streams (id, service, stream, sum) FROM STDIN (FORMAT binary)") { send in
                    var buffer = [UInt8]()
                    CopyBinary.header(&buffer)
                    for st in batch.newStreams {
                        CopyBinary.fields(4, &buffer)
                        CopyBinary.int32(Int32(bitPattern: st.id), &buffer)
                        CopyBinary.name(st.service, &buffer)
                        CopyBinary.name(st.stream, &buffer)
                        CopyBinary.int64(RowSum.names(Int64(st.id), [st.service, st.stream]), &buffer)
                        if buffer.count > 1 << 20 { try send(&buffer) }
                    }
                    CopyBinary.trailer(&buffer)
                    try send(&buffer)
                }
            }
            for t in batch.newTypes {
                try c.query("INSERT INTO \(s).types VALUES ($1, $2, $3)",
                            [.int(Int64(t.id)), .text(PGName.escape(t.name)), .int(RowSum.names(Int64(t.id), [t.name]))])
            }
            if !batch.events.isEmpty {
                var next = try c.query("SELECT COALESCE(MAX(pos) + 1, 0) FROM \(s).events").int(0, 0) ?? 0
                try c.copyIn("COPY \(s).events (pos, line, ts, id, stream, type, ts_raw, data, meta, extra, sum) FROM STDIN (FORMAT binary)") { send in
                    var buffer = [UInt8]()
                    buffer.reserveCapacity(1 << 21)
                    CopyBinary.header(&buffer)
                    try batch.arena.withUnsafeBufferPointer { arena in
                        func bytes(_ range: Range<Int>?) -> UnsafeBufferPointer<UInt8>? { range.map { UnsafeBufferPointer(rebasing: arena[$0]) } }
                        for row in batch.events {
                            let id = bytes(row.id)!, tsRaw = bytes(row.tsCanonical ? nil : row.tsRaw)
                            let data = bytes(row.data), meta = bytes(row.meta), extra = bytes(row.extra)
                            CopyBinary.fields(11, &buffer)
                            CopyBinary.int64(next, &buffer)
                            CopyBinary.int64(Int64(row.line), &buffer)
                            CopyBinary.int64(row.ts.nanoseconds, &buffer)
                            CopyBinary.name(id, &buffer)
                            CopyBinary.int32(Int32(bitPattern: row.streamID), &buffer)
                            CopyBinary.int32(Int32(bitPattern: row.typeID), &buffer)
                            CopyBinary.text(tsRaw, &buffer); CopyBinary.text(data, &buffer)
                            CopyBinary.text(meta, &buffer); CopyBinary.text(extra, &buffer)
                            CopyBinary.int64(RowSum.event(line: Int64(row.line), ts: row.ts.nanoseconds, stream: Int64(row.streamID),
                                                          type: Int64(row.typeID), id: id, tsRaw: tsRaw, data: data, meta: meta, extra: extra), &buffer)
                            next += 1
                            if buffer.count > 1 << 20 { try send(&buffer) }
                        }
                    }
                    CopyBinary.trailer(&buffer)
                    try send(&buffer)
                }
            }
            for d in batch.duplicates {
                try c.query("INSERT INTO \(s).duplicates VALUES ($1, $2, $3)", [.int(Int64(d.line)), .text(PGName.escape(d.id)), .int(Int64(d.firstLine))])
            }
            for r in batch.rejected { try c.query("INSERT INTO \(s).rejected VALUES ($1, $2)", [.int(Int64(r.line)), .text(PGName.escape(r.reason))]) }
            for b in batch.backwards {
                try c.query("INSERT INTO \(s).backwards VALUES ($1, $2, $3)", [.int(Int64(b.line)), .int(b.ts.nanoseconds), .int(b.latest.nanoseconds)])
            }
            try save(checkpoint, c)
        }
        lock.withLock { knownLine = .some(checkpoint.line) }
    }

    /// Makes positions follow (ts, line) again; a new identity when any position changed.
    public func restoreTimelineOrder() throws {
        try writing { c in
            let s = schema
            let moved = try c.query("""
                SELECT COUNT(*) FROM (SELECT pos, row_number() OVER (ORDER BY ts, line) - 1 AS wanted FROM \(s).events) o WHERE pos != wanted
                """).int(0, 0) ?? 0
            guard moved > 0 else { return }
            // Two passes, through positions below any in use (-2⁴⁰ - wanted): the primary key,
            // checked row by row, holds at every step.
            try c.execute("""
                UPDATE \(s).events e SET pos = -1099511627776 - o.wanted FROM
                    (SELECT pos, row_number() OVER (ORDER BY ts, line) - 1 AS wanted FROM \(s).events) o WHERE e.pos = o.pos;
                UPDATE \(s).events SET pos = -1099511627776 - pos;
                DELETE FROM \(s).cached_states;
                """)
            try PostgresStore.renew(c, s)
        }
    }

    public func acceptedIDs() throws -> [EventID: Int] {
        try reading { c in
            let r = try c.query("SELECT id, line FROM \(schema).events UNION ALL SELECT id, line FROM \(schema).compacted_ids")
            var ids: [EventID: Int] = [:]
            ids.reserveCapacity(r.rows)
            for i in 0..<r.rows { ids[EventID(PGName.unescape(r.bytes(i, 0)!))] = Int(r.int(i, 1) ?? 0) }
            return ids
        }
    }

    public func summary() throws -> ImportSummary {
        try reading { c in
            let r = try c.query("""
                SELECT (SELECT COALESCE(MAX(pos) + 1, 0) FROM \(schema).events), (SELECT COUNT(*) FROM \(schema).duplicates),
                       (SELECT COUNT(*) FROM \(schema).rejected), (SELECT COALESCE(MAX(blank_lines), 0) FROM \(schema).import_state),
                       (SELECT COUNT(*) FROM \(schema).backwards)
                """)
            func n(_ i: Int) -> Int { Int(r.int(0, i) ?? 0) }
            return ImportSummary(accepted: n(0), duplicates: n(1), rejected: n(2), blank: n(3), backwards: n(4))
        }
    }

    public func duplicateLines(limit: Int) throws -> [(line: Int, id: String, firstLine: Int)] {
        try reading { c in
            let r = try c.query("SELECT line, id, first_line FROM \(schema).duplicates ORDER BY line LIMIT $1", [.int(Int64(max(0, limit)))])
            return (0..<r.rows).map { (Int(r.int($0, 0) ?? 0), PGName.unescape(r.bytes($0, 1)!), Int(r.int($0, 2) ?? 0)) }
        }
    }

    public func rejectedLines(limit: Int) throws -> [(line: Int, reason: String)] {
        try reading { c in
            let r = try c.query("SELECT line, reason FROM \(schema).rejected ORDER BY line LIMIT $1", [.int(Int64(max(0, limit)))])
            return (0..<r.rows).map { (Int(r.int($0, 0) ?? 0), PGName.unescape(r.bytes($0, 1)!)) }
        }
    }

    public func backwardsLines(limit: Int) throws -> [(line: Int, ts: Timestamp, latest: Timestamp)] {
        try reading { c in
            let r = try c.query("SELECT line, ts, latest FROM \(schema).backwards ORDER BY line LIMIT $1", [.int(Int64(max(0, limit)))])
            return (0..<r.rows).map { (Int(r.int($0, 0) ?? 0), Timestamp(nanoseconds: r.int($0, 1) ?? 0), Timestamp(nanoseconds: r.int($0, 2) ?? 0)) }
        }
    }

    public func markedLines() throws -> (backwards: [Int], duplicated: [Int]) {
        try reading { c in
            let b = try c.query("SELECT line FROM \(schema).backwards ORDER BY line")
            let d = try c.query("SELECT DISTINCT first_line FROM \(schema).duplicates ORDER BY first_line")
            return ((0..<b.rows).map { Int(b.int($0, 0) ?? 0) }, (0..<d.rows).map { Int(d.int($0, 0) ?? 0) })
        }
    }

    public func dump() throws -> String {
        try reading { c in
            var out = ""
            for (table, columns, order) in [("events", "pos, line, ts, id, stream, type, ts_raw, data, meta, extra, sum", "pos"),
                                            ("duplicates", "line, id, first_line", "line"), ("rejected", "line, reason", "line"),
                                            ("backwards", "line, ts, latest", "line")] {
                let r = try c.query("SELECT \(columns) FROM \(schema).\(table) ORDER BY \(order)")
                let n = columns.split(separator: ",").count
                for i in 0..<r.rows {
                    out += "\(table): " + (0..<n).map { r.string(i, $0) ?? "NULL" }.joined(separator: " | ") + "\n"
                }
            }
            let r = try c.query("SELECT line, byte_offset, hash_state, quarantine_length, latest, sorted, blank_lines, tail, complete FROM \(schema).import_state")
            out += "checkpoint: " + (r.rows == 0 ? "none" : (0..<9).map { r.string(0, $0) ?? "NULL" }.joined(separator: " | ")) + "\n"
            return out
        }
    }
}
