import Foundation
import GRDB
import RewindCore

extension SQLiteStore {
    /// Compaction's rewrite: the events before `end` give way to `rows` (their ids kept in
    /// `compacted_ids`), in one transaction, then positions follow (ts, line) again.
    public func replaceEvents(_ positions: [Int], with rows: [SquashedEvent]) throws {
        guard !positions.isEmpty else { return }
        try writing { db in
            let remember = try db.makeStatement(sql: """
                INSERT OR IGNORE INTO compacted_ids SELECT id, line FROM events
                WHERE pos = ? AND id NOT LIKE 'rewind-squash:%'
                """)
            let delete = try db.makeStatement(sql: "DELETE FROM events WHERE pos = ?")
            for p in positions {
                try remember.execute(arguments: [p])
                try delete.execute(arguments: [p])
            }
            var type = try Int64.fetchOne(db, sql: "SELECT id FROM types WHERE name = 'Squashed'")
            if type == nil {
                type = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id) + 1, 0) FROM types")
                try SQLiteStore.insertType(db, id: Int(type ?? 0), name: "Squashed")
            }
            let statement = try db.makeStatement(sql: SQLiteStore.insertEventSQL)
            let insert = statement.sqliteStatement
            defer { withExtendedLifetime(statement) {} }
            for (i, var r) in rows.enumerated() {
                try r.id.withUTF8 { id in
                    try r.data.withUTF8 { data in
                        try r.meta.withUTF8 { meta in
                            try SQLiteStore.insertEvent(insert, db, location: location, pos: Int64(-1 - i), line: Int64(r.line),
                                                        ts: r.ts, stream: Int64(r.stream), type: type ?? 0, id: id, tsRaw: nil,
                                                        data: data, meta: meta, extra: nil)
                        }
                    }
                }
            }
            try SQLiteStore.renew(db)
        }
        try restoreTimelineOrder()
    }
}
