import Foundation
import GRDB
import GRDBSQLite
import RewindCore

extension RowSum {
    /// The checksum of the event row `s` holds, its columns numbered as `columns` says.
    @inline(__always) static func event(_ s: OpaquePointer, line: Int32, ts: Int32, stream: Int32, type: Int32, id: Int32,
                                        tsRaw: Int32, data: Int32, meta: Int32, extra: Int32) -> Int64 {
        event(line: sqlite3_column_int64(s, line), ts: sqlite3_column_int64(s, ts), stream: sqlite3_column_int64(s, stream),
              type: sqlite3_column_int64(s, type), id: SQLiteStore.columnBytes(s, id) ?? UnsafeBufferPointer(start: nil, count: 0),
              tsRaw: SQLiteStore.columnBytes(s, tsRaw), data: SQLiteStore.columnBytes(s, data),
              meta: SQLiteStore.columnBytes(s, meta), extra: SQLiteStore.columnBytes(s, extra))
    }
}

extension SQLiteStore {
    /// The error for a row whose checksum does not match.
    func damagedRow(_ what: String) -> StoreError {
        StoreError("\(location): \(what) does not match its checksum (the store file was changed)", isDamage: true)
    }

    /// Reads rows of names (`SELECT id, <names…>, sum FROM …`), checking each row's checksum.
    func checkedNames(_ db: Database, _ sql: String, table: String, _ body: ([String]) throws -> Void) throws {
        try SQLiteStore.texts(db, sql) { row in
            let id = Int64(row[0]) ?? -1, names = Array(row[1..<(row.count - 1)])
            guard Int64(row[row.count - 1]) == RowSum.names(id, names) else { throw damagedRow("a row of \(table) (id \(id))") }
            try body(names)
        }
    }

    /// Inserts an event row with its checksum; texts are bound by their byte length (a NUL
    /// inside one is kept) without copying, so `arena` must outlive the step.
    static func insertEvent(_ s: OpaquePointer, _ db: Database, location: String, pos: Int64, line: Int64, ts: Int64,
                            stream: Int64, type: Int64, id: UnsafeBufferPointer<UInt8>, tsRaw: UnsafeBufferPointer<UInt8>?,
                            data: UnsafeBufferPointer<UInt8>?, meta: UnsafeBufferPointer<UInt8>?,
                            extra: UnsafeBufferPointer<UInt8>?) throws {
        sqlite3_bind_int64(s, 1, pos)
        sqlite3_bind_int64(s, 2, line)
        sqlite3_bind_int64(s, 3, ts)
        bind(s, 4, id)
        sqlite3_bind_int64(s, 5, stream)
        sqlite3_bind_int64(s, 6, type)
        bind(s, 7, tsRaw)
        bind(s, 8, data)
        bind(s, 9, meta)
        bind(s, 10, extra)
        sqlite3_bind_int64(s, 11, RowSum.event(line: line, ts: ts, stream: stream, type: type, id: id, tsRaw: tsRaw,
                                               data: data, meta: meta, extra: extra))
        let rc = sqlite3_step(s)
        sqlite3_reset(s)
        guard rc == SQLITE_DONE else {
            throw SQLiteStore.failure(db, rc)
        }
    }

    static let insertEventSQL = """
        INSERT INTO events (pos, line, ts, id, stream, type, ts_raw, data, meta, extra, sum) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// Binds bytes without copying them (SQLITE_STATIC).
    @inline(__always) static func bind(_ s: OpaquePointer, _ index: Int32, _ bytes: UnsafeBufferPointer<UInt8>?) {
        guard let bytes else { sqlite3_bind_null(s, index); return }
        let base = UnsafeRawPointer(bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!).assumingMemoryBound(to: CChar.self)
        _ = sqlite3_bind_text(s, index, base, Int32(bytes.count), nil)
    }
}
