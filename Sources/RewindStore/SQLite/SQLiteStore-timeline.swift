import Foundation
import GRDB
import GRDBSQLite
import RewindCore

/// Stream and type names by id, read from the store once and shared by every read of it.
final class NameCache: @unchecked Sendable {
    private let lock = NSLock()
    private var streams: [(service: String, stream: String)] = []
    private var types: [String] = []

    func clear() { lock.withLock { streams = []; types = [] } }

    /// The names, with at least every stream below `streamCount` and every type below `typeCount`
    /// (reading the rows added since the last call).
    func snapshot(_ db: Database, of store: SQLiteStore, streams needed: Int, types neededTypes: Int)
        throws -> (streams: [(service: String, stream: String)], types: [String]) {
        try lock.withLock {
            if streams.count < needed {
                try store.checkedNames(db, "SELECT id, service, stream, sum FROM streams WHERE id >= \(streams.count) ORDER BY id",
                                       table: "streams") { streams.append(($0[0], $0[1])) }
            }
            if types.count < neededTypes {
                types = []
                try store.checkedNames(db, "SELECT id, name, sum FROM types ORDER BY id", table: "types") { types.append($0[0]) }
            }
            return (streams, types)
        }
    }
}

/// The timeline read straight from the `events` table.
extension SQLiteStore {
    public func eventCount() throws -> Int {
        try reading { db in try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(pos) + 1, 0) FROM events") ?? 0 }
    }

    /// Binary search over positions: timestamps never decrease along `pos`.
    public func position(at time: Timestamp) throws -> Int {
        try reading { db in
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

    public func forEachNumberedEvent(in range: Range<Int>, _ body: (Event, UInt32) throws -> Void) throws {
        try read(range, partition: 0, of: 1, body)
    }

    public func streamNames(from id: Int) throws -> [(service: String, stream: String)] {
        try reading { db in
            var out: [(String, String)] = []
            try checkedNames(db, "SELECT id, service, stream, sum FROM streams WHERE id >= \(max(0, id)) ORDER BY id",
                             table: "streams") { out.append(($0[0], $0[1])) }
            return out
        }
    }

    /// Calls `body` with each row's text columns, decoded by their byte length: a name or id
    /// holding a NUL is kept whole (GRDB's `String` conversion stops at the first NUL).
    static func texts(_ db: Database, _ sql: String, _ body: ([String]) throws -> Void) throws {
        let statement = try db.makeStatement(sql: sql)
        let s = statement.sqliteStatement
        defer { sqlite3_reset(s) }
        let n = sqlite3_column_count(s)
        while true {
            let rc = sqlite3_step(s)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else {
                throw SQLiteStore.failure(db, rc)
            }
            try body((0..<n).map { columnString(s, $0) })
        }
    }

    /// Each partition reads on a connection of its own, so partitions run in parallel; rows of
    /// other partitions are skipped before anything is decoded.
    @discardableResult
    public func forEachEvent(in range: Range<Int>, partition: Int, of partitions: Int, _ body: (Event) throws -> Void) throws -> Int {
        try read(range, partition: partition, of: partitions) { e, _ in try body(e) }
    }

    @discardableResult
    func read(_ range: Range<Int>, partition: Int, of partitions: Int, _ body: (Event, UInt32) throws -> Void) throws -> Int {
        guard !range.isEmpty else { return 0 }
        let connection = partition == 0 ? queue : try reader(partition)
        return try reading(connection) { db in
            // Few events: their streams' names by id, joined; many: every name, once.
            let joined = range.count <= 4096
            let names = joined ? nil : try self.names.snapshot(
                db, of: self, streams: try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(id) + 1, 0) FROM streams") ?? 0,
                types: try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(id) + 1, 0) FROM types") ?? 0)
            let statement = try db.makeStatement(sql: joined ? """
                SELECT e.id, e.ts, e.ts_raw, e.stream, e.type, e.data, e.meta, e.extra, e.line, e.sum,
                       s.service, s.stream, s.sum, t.name, t.sum
                FROM events e JOIN streams s ON s.id = e.stream JOIN types t ON t.id = e.type
                WHERE e.pos >= ? AND e.pos < ? ORDER BY e.pos
                """ : """
                SELECT id, ts, ts_raw, stream, type, data, meta, extra, line, sum FROM events WHERE pos >= ? AND pos < ? ORDER BY pos
                """)
            let s = statement.sqliteStatement
            sqlite3_bind_int64(s, 1, Int64(range.lowerBound))
            sqlite3_bind_int64(s, 2, Int64(range.upperBound))
            defer { sqlite3_reset(s) }
            var bytes = 0, rows = 0
            var check = TimelineReadCheck(location: location)
            while true {
                let rc = sqlite3_step(s)
                if rc == SQLITE_DONE { break }
                guard rc == SQLITE_ROW else {
                    throw SQLiteStore.failure(db, rc)
                }
                rows += 1
                try check.inOrder(ts: sqlite3_column_int64(s, 1), line: sqlite3_column_int64(s, 8), position: range.lowerBound + rows - 1)
                let streamID = Int(sqlite3_column_int64(s, 3)), typeID = Int(sqlite3_column_int64(s, 4))
                let service: String, stream: String, type: String
                if let names {
                    (service, stream, type) = try check.names(names, stream: streamID, type: typeID)
                } else {
                    (service, stream, type) = (SQLiteStore.columnString(s, 10), SQLiteStore.columnString(s, 11), SQLiteStore.columnString(s, 13))
                    guard sqlite3_column_int64(s, 12) == RowSum.names(Int64(streamID), [service, stream]) else {
                        throw damagedRow("a row of streams (id \(streamID))")
                    }
                    guard sqlite3_column_int64(s, 14) == RowSum.names(Int64(typeID), [type]) else {
                        throw damagedRow("a row of types (id \(typeID))")
                    }
                }
                if partitions > 1, StreamPartition.of(service: service, stream: stream, count: partitions) != partition { continue }
                // Each row's checksum is checked by the one partition that folds it.
                guard sqlite3_column_int64(s, 9) == RowSum.event(s, line: 8, ts: 1, stream: 3, type: 4, id: 0, tsRaw: 2, data: 5,
                                                                 meta: 6, extra: 7) else {
                    throw damagedRow("the event at position \(range.lowerBound + rows - 1)")
                }
                let event = try SQLiteStore.decodeEvent(s, service: service, stream: stream, type: type, bytes: &bytes, location: location)
                try body(event, UInt32(streamID))
            }
            // Positions are dense: a range inside the timeline reads every row of it.
            if rows != range.count, let count = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(pos) + 1, 0) FROM events"),
               rows != max(0, min(range.upperBound, count) - range.lowerBound) {
                throw StoreError("\(location): timeline positions \(range.lowerBound)..<\(range.upperBound) have a gap", isDamage: true)
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

    static func decodeEvent(_ s: OpaquePointer, service: String, stream: String, type: String, bytes: inout Int,
                            location: String) throws -> Event {
        func json(_ i: Int32) throws -> JSONValue? {
            guard let b = columnBytes(s, i) else { return nil }
            bytes += b.count
            do throws(JSONParseError) {
                return try JSONParser.parse(b)
            } catch {
                throw StoreError("\(location): a stored JSON value is damaged (\(error))", isDamage: true)
            }
        }
        let id = columnString(s, 0)
        bytes += id.utf8.count + 24
        func text(_ i: Int32) -> String? {
            guard let b = columnBytes(s, i) else { return nil }
            bytes += b.count
            return String(decoding: b, as: UTF8.self)
        }
        let ts = Timestamp(nanoseconds: sqlite3_column_int64(s, 1))
        let tsText = text(2)  // NULL: the ts was written as its own RFC 3339 form
        return Event(id: id, ts: ts, tsText: tsText, service: service, stream: stream, type: type, data: try json(5) ?? .emptyObject,
                     metaText: text(6), extraText: text(7), line: Int(sqlite3_column_int64(s, 8)))
    }
}
