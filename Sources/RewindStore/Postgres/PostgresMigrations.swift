/// The PostgreSQL store's schema, as numbered migration scripts applied in order, each in the
/// transaction that records it in `schema_migrations`. `{schema}` stands for the store's schema
/// (a checked plain identifier, quoted). Never edit a script that shipped: add the next one.
///
/// Choices (measured on a 1M-event log, see the README):
/// - JSON fields are `text`, exactly as written: `jsonb` would re-order keys, drop duplicates
///   and round numbers, and the fold (SPEC §3) reads them as written.
/// - Names and ids are `text` escaped by `PGName` (`\` → `\\`, U+0000 → `\0`): a log may hold a
///   U+0000 in a name, which PostgreSQL text cannot; everything else reads as itself in SQL.
/// - No index on `ts`: timestamps never decrease along `pos`, so the primary key on `pos` is an
///   index on time too, and reading as of T (`position(at:)`) is a binary search of ~20 probes
///   of it. Measured on 1M events (INSERT … SELECT, this machine): the primary key alone 1.7 s;
///   plus a B-tree on (ts, pos) 3.5 s and 33 MB, answering "the first event after T" in 3 ms;
///   plus a BRIN on ts 2.6 s and 24 kB, answering it in 125 ms (it scans every block range
///   after T). The binary search answers in about 1 ms and costs the import nothing.
enum PostgresMigrations {
    static let all: [(version: Int, name: String, sql: String)] = [
        (1, "the store", """
            CREATE TABLE {schema}.store_meta (
                singleton integer PRIMARY KEY CHECK (singleton = 1),
                identity text NOT NULL
            );
            INSERT INTO {schema}.store_meta VALUES (1, gen_random_uuid()::text);
            CREATE TABLE {schema}.events (
                pos bigint PRIMARY KEY,       -- timeline position, 0-based
                line bigint NOT NULL,         -- 1-based line in the source
                ts bigint NOT NULL,           -- nanoseconds since the epoch
                id text NOT NULL,             -- PGName-escaped
                stream integer NOT NULL,      -- streams.id
                type integer NOT NULL,        -- types.id
                ts_raw text,                  -- the ts as written (JSON); NULL: its RFC 3339 string
                data text,                    -- JSON as written; NULL when absent
                meta text,
                extra text,                   -- other top-level fields, as one JSON object
                sum bigint NOT NULL           -- checksum of the other columns but pos (RowSum)
            );
            CREATE TABLE {schema}.streams (id integer PRIMARY KEY, service text NOT NULL, stream text NOT NULL, sum bigint NOT NULL);
            CREATE TABLE {schema}.types (id integer PRIMARY KEY, name text NOT NULL, sum bigint NOT NULL);
            CREATE TABLE {schema}.duplicates (line bigint PRIMARY KEY, id text NOT NULL, first_line bigint NOT NULL);
            CREATE TABLE {schema}.rejected (line bigint PRIMARY KEY, reason text NOT NULL);
            CREATE TABLE {schema}.backwards (line bigint PRIMARY KEY, ts bigint NOT NULL, latest bigint NOT NULL);
            CREATE TABLE {schema}.import_state (
                singleton integer PRIMARY KEY CHECK (singleton = 1),
                source_path text NOT NULL, source_size bigint NOT NULL, source_modified bigint NOT NULL,
                source_inode bigint NOT NULL, byte_offset bigint NOT NULL, line bigint NOT NULL,
                hash_state bigint NOT NULL, hash_length bigint NOT NULL, hash_pending bigint NOT NULL,
                hash_pending_count bigint NOT NULL, quarantine_length bigint NOT NULL, latest bigint,
                sorted boolean NOT NULL, blank_lines bigint NOT NULL, tail boolean NOT NULL, complete boolean NOT NULL,
                format text NOT NULL
            );
            -- Ids of events that `squash --compact` replaced: a re-delivery of one is still a duplicate.
            CREATE TABLE {schema}.compacted_ids (id text PRIMARY KEY, line bigint NOT NULL);
            -- The cache strategy's states (CachedStateRow), shared by every user of the database:
            -- each row is written by one statement, and its hash covers every column.
            CREATE TABLE {schema}.cached_states (
                pos bigint PRIMARY KEY, rules text NOT NULL, version bigint NOT NULL,
                last_id text NOT NULL, changes bytea NOT NULL, hash text NOT NULL
            );
            """),
    ]

    static var latest: Int { all.last!.version }
}

/// Names and ids in PostgreSQL text: `\` → `\\` and U+0000 → `\0`, so any string a log holds is
/// kept, and a substring of a name is the same substring of its escaped form (search works on it).
enum PGName {
    static func escape(_ s: String) -> String {
        var s = s
        return s.withUTF8 { b in escape(b).map { String(decoding: $0, as: UTF8.self) } } ?? s
    }

    /// The escaped bytes, or nil when there is nothing to escape.
    static func escape(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard bytes.contains(where: { $0 == 0 || $0 == 92 }) else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count + 8)
        for b in bytes {
            switch b {
            case 0: out += [92, 48]
            case 92: out += [92, 92]
            default: out.append(b)
            }
        }
        return out
    }

    static func unescape(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard bytes.contains(92) else { return String(decoding: bytes, as: UTF8.self) }
        var out = [UInt8]()
        var i = 0
        while i < bytes.count {
            if bytes[i] == 92, i + 1 < bytes.count {
                out.append(bytes[i + 1] == 48 ? 0 : bytes[i + 1])
                i += 2
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unescape(_ s: String) -> String {
        var s = s
        return s.withUTF8 { unescape($0) }
    }
}
