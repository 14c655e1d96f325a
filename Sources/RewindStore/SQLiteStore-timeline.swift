import GRDB
import GRDBSQLite
import RewindCore

/// The timeline read straight from the `events` table.
extension SQLiteStore {
    public func eventCount() throws -> Int {
        try queue.read { db in try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(pos) + 1, 0) FROM events") ?? 0 }
    }

    /// Binary search over positions: timestamps never decrease along `pos`.
    public func position(at time: Timestamp) throws -> Int {
        try queue.read { db in
            let count = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(pos) + 1, 0) FROM events") ?? 0
            let statement = try db.makeStatement(sql: "SELECT ts FROM events WHERE pos = ?")
            let s = statement.sqliteStatement
            var lo = 0, hi = count
            while lo < hi {
                let mid = (lo + hi) / 2
                sqlite3_bind_int64(s, 1, Int64(mid))
                guard sqlite3_step(s) == SQLITE_ROW else {
                    sqlite3_reset(s)
                    throw StoreError("\(location): timeline position \(mid) is missing")
                }
                let ts = sqlite3_column_int64(s, 0)
                sqlite3_reset(s)
                if ts <= time.nanoseconds { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
    }

    @discardableResult
    public func forEachEvent(in range: Range<Int>, _ body: (Event) throws -> Void) throws -> Int {
        try forEachEvent(in: range, partition: 0, of: 1, body)
    }

    /// Each partition reads on a connection of its own, so partitions run in parallel; rows of
    /// other partitions are skipped before anything is decoded.
    @discardableResult
    public func forEachEvent(in range: Range<Int>, partition: Int, of partitions: Int, _ body: (Event) throws -> Void) throws -> Int {
        guard !range.isEmpty else { return 0 }
        let connection = partition == 0 ? queue : try reader(partition)
        return try connection.read { db in
            let statement = try db.makeStatement(sql: """
                SELECT id, ts, ts_raw, service, stream, type, data, meta, extra, line
                FROM events WHERE pos >= ? AND pos < ? ORDER BY pos
                """)
            let s = statement.sqliteStatement
            sqlite3_bind_int64(s, 1, Int64(range.lowerBound))
            sqlite3_bind_int64(s, 2, Int64(range.upperBound))
            defer { sqlite3_reset(s) }
            var bytes = 0
            while true {
                let rc = sqlite3_step(s)
                if rc == SQLITE_DONE { break }
                guard rc == SQLITE_ROW else {
                    throw StoreError("\(location): read failed: \(String(cString: sqlite3_errmsg(db.sqliteConnection)))",
                                     isDamage: rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
                }
                if partitions > 1, let service = SQLiteStore.columnBytes(s, 3), let stream = SQLiteStore.columnBytes(s, 4),
                   StreamPartition.of(service: service, stream: stream, count: partitions) != partition {
                    continue
                }
                let event = try SQLiteStore.decodeEvent(s, bytes: &bytes, location: location)
                try body(event)
            }
            return bytes
        }
    }

    public func event(at position: Int) throws -> Event {
        var found: Event?
        try forEachEvent(in: position..<(position + 1)) { found = $0 }
        guard let found else { throw StoreError("\(location): no event at position \(position)") }
        return found
    }

    @inline(__always) static func columnBytes(_ s: OpaquePointer, _ i: Int32) -> UnsafeBufferPointer<UInt8>? {
        guard let p = sqlite3_column_text(s, i) else { return nil }
        return UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(s, i)))
    }

    @inline(__always) static func columnString(_ s: OpaquePointer, _ i: Int32) -> String {
        guard let b = columnBytes(s, i) else { return "" }
        return String(decoding: b, as: UTF8.self)
    }

    static func decodeEvent(_ s: OpaquePointer, bytes: inout Int, location: String) throws -> Event {
        func json(_ i: Int32) throws -> JSONValue? {
            guard let b = columnBytes(s, i) else { return nil }
            bytes += b.count
            do throws(JSONParseError) {
                return try JSONParser.parse(b)
            } catch {
                throw StoreError("\(location): a stored JSON value is damaged (\(error))")
            }
        }
        let id = columnString(s, 0)
        let service = columnString(s, 3)
        let stream = columnString(s, 4)
        let type = columnString(s, 5)
        bytes += id.utf8.count + service.utf8.count + stream.utf8.count + type.utf8.count + 16
        func text(_ i: Int32) -> String? {
            guard let b = columnBytes(s, i) else { return nil }
            bytes += b.count
            return String(decoding: b, as: UTF8.self)
        }
        return Event(id: id, ts: Timestamp(nanoseconds: sqlite3_column_int64(s, 1)), tsText: text(2) ?? "null",
                     service: service, stream: stream, type: type, data: try json(6) ?? .emptyObject,
                     metaText: text(7), extraText: text(8), line: Int(sqlite3_column_int64(s, 9)))
    }
}
