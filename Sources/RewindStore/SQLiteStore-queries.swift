import GRDB
import RewindCore

/// Queries the explorer needs: the scrubber's density and markers, search.
extension SQLiteStore {
    /// Events per bucket over the timeline's time span (`buckets` equal slices).
    public func density(buckets: Int) throws -> [Int] {
        guard buckets > 0 else { return [] }
        return try queue.read { db in
            var out = Array(repeating: 0, count: buckets)
            guard let range = try Row.fetchOne(db, sql: "SELECT MIN(ts), MAX(ts) FROM events"),
                  let first = range[0] as Int64?, let last = range[1] as Int64? else { return out }
            let span = Double(max(1, last - first))
            let rows = try Row.fetchAll(db, sql: """
                SELECT CAST((ts - ?) / ? * ? + 0.5 AS INTEGER) AS bucket, COUNT(*) FROM events GROUP BY bucket
                """, arguments: [first, span, Double(buckets - 1)])
            for row in rows {
                let b: Int = row[0]
                out[min(buckets - 1, max(0, b))] += row[1] as Int
            }
            return out
        }
    }

    /// The timestamps at `positions` (in their order), read in batches of bound parameters.
    public func timestamps(at positions: [Int]) throws -> [Timestamp] {
        var byPosition: [Int: Int64] = [:]
        try queue.read { db in
            for chunk in stride(from: 0, to: positions.count, by: 500).map({ Array(positions[$0..<min($0 + 500, positions.count)]) }) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                for row in try Row.fetchAll(db, sql: "SELECT pos, ts FROM events WHERE pos IN (\(marks))",
                                            arguments: StatementArguments(chunk)) {
                    byPosition[row[0]] = row[1]
                }
            }
        }
        return positions.map { Timestamp(nanoseconds: byPosition[$0] ?? 0) }
    }

    /// Timeline indices of backwards timestamps, and of the first delivery of each duplicated id.
    public func timelineMarkers() throws -> (backwards: [Int], duplicated: [Int]) {
        try queue.read { db in
            let backwards = try Int.fetchAll(db, sql: "SELECT e.pos FROM backwards b JOIN events e ON e.line = b.line ORDER BY e.pos")
            let duplicated = try Int.fetchAll(db, sql: "SELECT DISTINCT e.pos FROM duplicates d JOIN events e ON e.line = d.first_line ORDER BY e.pos")
            return (backwards, duplicated)
        }
    }
}

extension SQLiteStore {
    /// Timeline indices of the events `query` matches (at most `limit`). Every value is bound as
    /// a parameter: text typed by a user or read from a log never becomes SQL.
    public func search(_ query: EventQuery, limit: Int = 100_000) throws -> [Int] {
        var clauses: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let s = query.service { clauses.append("stream IN (SELECT id FROM streams WHERE service = ?)"); arguments.append(s) }
        if let s = query.stream { clauses.append("stream IN (SELECT id FROM streams WHERE stream = ?)"); arguments.append(s) }
        if let t = query.type { clauses.append("type IN (SELECT id FROM types WHERE name = ?)"); arguments.append(t) }
        for w in query.words {
            clauses.append("(instr(COALESCE(data, ''), ?) > 0 OR instr(COALESCE(meta, ''), ?) > 0 OR instr(id, ?) > 0)")
            arguments += [w, w, w]
        }
        let condition = clauses.isEmpty ? "1" : clauses.joined(separator: " AND ")
        arguments.append(limit)
        return try queue.read { db in
            try Int.fetchAll(db, sql: "SELECT pos FROM events WHERE \(condition) ORDER BY pos LIMIT ?",
                             arguments: StatementArguments(arguments))
        }
    }
}
