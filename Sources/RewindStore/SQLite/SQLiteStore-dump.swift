import GRDB

extension SQLiteStore {
    /// Every row an import writes, as text, in a fixed order: two stores with equal dumps
    /// hold the same import. Used to check that an interrupted and resumed import ends with
    /// exactly the store an uninterrupted one makes.
    public func dump() throws -> String {
        try reading { db in
            var out = ""
            for (table, order) in [("events", "pos"), ("duplicates", "line"), ("rejected", "line"), ("backwards", "line")] {
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY \(order)") {
                    out += "\(table): \(row.description)\n"
                }
            }
            let c = try Row.fetchOne(db, sql: """
                SELECT line, byte_offset, hash_state, quarantine_length, latest, sorted, blank_lines, tail, complete
                FROM import_state
                """)
            out += "checkpoint: \(c?.description ?? "none")\n"
            return out
        }
    }
}
