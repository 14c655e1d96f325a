import Foundation
import GRDB
import RewindCore

/// The table behind the cache strategy over the in-memory index: rows of one rules fingerprint
/// and `DerivedDataVersion`; a row whose timeline changed before its position (the event at
/// pos - 1 is no longer the one it was written after) is dropped when read.
public final class SQLiteIndexCache: CachedStateStore, @unchecked Sendable {
    public let store: SQLiteStore
    public let rules: String
    let version = DerivedDataVersion.current

    public init(store: SQLiteStore, rules: String) {
        self.store = store
        self.rules = rules
    }

    func lastID(before position: Int) throws -> String {
        position == 0 ? "" : try store.event(at: position - 1).id
    }

    public func loadCachedStates() throws -> [PersistedCachedState] {
        let rows = try store.queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT pos, keyframe_interval, last_id, hash, changes FROM index_cache
                WHERE rules = ? AND version = ? ORDER BY pos
                """, arguments: [rules, version])
        }
        let count = try store.eventCount()
        var out: [PersistedCachedState] = []
        var stale: [Int] = []
        for row in rows {
            // Values of the wrong type (a row written by something else) make the row stale rather
            // than trap in a conversion.
            guard let position = Int.fromDatabaseValue(row["pos"]) else { continue }
            guard position >= 0, position <= count, let interval = Int.fromDatabaseValue(row["keyframe_interval"]),
                  let last = String.fromDatabaseValue(row["last_id"]), let hash = String.fromDatabaseValue(row["hash"]),
                  let changes = Data.fromDatabaseValue(row["changes"]),
                  try lastID(before: position) == last else {
                stale.append(position)
                continue
            }
            out.append(PersistedCachedState(position: position, keyframeInterval: interval, changes: [UInt8](changes), hash: hash))
        }
        if !stale.isEmpty { try removeCachedStates(at: stale) }
        return out
    }

    public func saveCachedState(_ state: PersistedCachedState) throws {
        let last = try lastID(before: state.position)
        try store.queue.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO index_cache VALUES (?, ?, ?, ?, ?, ?, ?)", arguments: [
                state.position, rules, version, state.keyframeInterval, last, state.hash, Data(state.changes),
            ])
        }
    }

    public func removeCachedStates(at positions: [Int]) throws {
        try store.queue.write { db in
            for p in positions { try db.execute(sql: "DELETE FROM index_cache WHERE pos = ?", arguments: [p]) }
        }
    }

    /// Rows of every rules fingerprint (for `verify` and tests).
    public func rowCount() throws -> Int {
        try store.queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM index_cache") ?? 0 }
    }
}
