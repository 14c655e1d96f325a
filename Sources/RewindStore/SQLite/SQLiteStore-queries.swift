import GRDB
import RewindCore

/// Queries the explorer needs beyond the index: marked lines, search.
extension SQLiteStore {
    /// Lines with a backwards timestamp, and lines of first deliveries that were delivered again
    /// (the index turns them into positions).
    public func markedLines() throws -> (backwards: [Int], duplicated: [Int]) {
        try reading { db in
            (try Int.fetchAll(db, sql: "SELECT line FROM backwards ORDER BY line"),
             try Int.fetchAll(db, sql: "SELECT DISTINCT first_line FROM duplicates ORDER BY first_line"))
        }
    }
}

extension SQLiteStore {
    /// Timeline positions of the events `query` matches, ascending, among `range` (all when nil),
    /// at most `limit`: `EventQuery`'s rules in SQL — `instr` finds code points, `lower()` folds
    /// ASCII only. Every value is bound as a parameter: text typed by a user or read from a log
    /// never becomes SQL.
    public func search(_ query: EventQuery, in range: Range<Int>?, limit: Int) throws -> [Int] {
        var clauses: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        func column(_ c: String) -> String { query.ignoresCase ? "lower(\(c))" : c }
        if let s = query.service { clauses.append("stream IN (SELECT id FROM streams WHERE instr(\(column("service")), ?) > 0)"); arguments.append(s) }
        if let s = query.stream { clauses.append("stream IN (SELECT id FROM streams WHERE instr(\(column("stream")), ?) > 0)"); arguments.append(s) }
        if let t = query.type { clauses.append("type IN (SELECT id FROM types WHERE instr(\(column("name")), ?) > 0)"); arguments.append(t) }
        for w in query.words {
            // The data, meta or id as written, or the type, service or stream name.
            clauses.append("""
                (instr(\(column("COALESCE(data, '')")), ?) > 0 OR instr(\(column("COALESCE(meta, '')")), ?) > 0 OR instr(\(column("id")), ?) > 0
                 OR type IN (SELECT id FROM types WHERE instr(\(column("name")), ?) > 0)
                 OR stream IN (SELECT id FROM streams WHERE instr(\(column("service")), ?) > 0 OR instr(\(column("stream")), ?) > 0))
                """)
            arguments += [w, w, w, w, w, w]
        }
        if let range {
            clauses.append("pos >= ? AND pos < ?")
            arguments += [range.lowerBound, range.upperBound]
        }
        let condition = clauses.isEmpty ? "1" : clauses.joined(separator: " AND ")
        arguments.append(limit)
        return try reading { db in
            try Int.fetchAll(db, sql: "SELECT pos FROM events WHERE \(condition) ORDER BY pos LIMIT ?",
                             arguments: StatementArguments(arguments))
        }
    }
}
