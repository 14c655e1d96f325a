import Foundation
import GRDB
import RewindCore

/// The cache strategy's states (`IndexCache`), in the `cached_states` table. Every row is read
/// back whatever its rules: the cache tells damaged rows (hash), rows of other rules and rows of
/// a changed timeline apart. A column of the wrong type makes the row damaged, not a trap.
extension SQLiteStore {
    public func loadCachedStates() throws -> [CachedStateRow] {
        try reading { db in
            try Row.fetchAll(db, sql: "SELECT pos, rules, version, last_id, changes, hash FROM cached_states ORDER BY pos").map { row in
                let position = Int.fromDatabaseValue(row["pos"]) ?? -1
                guard let rules = String.fromDatabaseValue(row["rules"]), let version = Int.fromDatabaseValue(row["version"]),
                      let last = String.fromDatabaseValue(row["last_id"]), let changes = Data.fromDatabaseValue(row["changes"]),
                      let hash = String.fromDatabaseValue(row["hash"]) else {
                    return CachedStateRow(position: position, rules: "", version: -1, lastEventID: "", changes: [], hash: "damaged")
                }
                return CachedStateRow(position: position, rules: rules, version: version, lastEventID: last, changes: [UInt8](changes), hash: hash)
            }
        }
    }

    public func saveCachedState(_ row: CachedStateRow) throws {
        try writing { db in
            try db.execute(sql: "INSERT OR REPLACE INTO cached_states VALUES (?, ?, ?, ?, ?, ?)", arguments: [
                row.position, row.rules, row.version, row.lastEventID, Data(row.changes), row.hash,
            ])
        }
    }

    public func removeCachedStates(at positions: [Int]) throws {
        try writing { db in
            for p in positions { try db.execute(sql: "DELETE FROM cached_states WHERE pos = ?", arguments: [p]) }
        }
    }

    /// Rows of every rules fingerprint.
    public func cachedStateCount() throws -> Int {
        try reading { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM cached_states") ?? 0 }
    }
}
