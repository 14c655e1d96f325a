import Foundation
import GRDB
import RewindCore

/// What compacting the days before a date would lose, per service.
public struct CompactionPlan: Sendable {
    public struct ServiceLoss: Sendable, Equatable {
        public var service: String
        /// Events of the compacted days.
        public var events: Int
        /// Squashed events that replace them (one per stream and day).
        public var squashed: Int
        /// Intermediate states that become unreachable: events − squashed.
        public var unreachable: Int { events - squashed }
    }
    public var before: Timestamp
    /// Timeline positions [0, end) are compacted.
    public var end: Int
    public var days: Int
    public var services: [ServiceLoss]
    public var events: Int { services.reduce(0) { $0 + $1.events } }
    public var squashed: Int { services.reduce(0) { $0 + $1.squashed } }
}

extension SQLiteStore {
    /// Plans compacting every whole UTC day before `date`.
    public func compactionPlan(before date: Timestamp, derived: SQLiteDerivedData) throws -> CompactionPlan {
        let days = try derived.squashedDays().filter { $0.end > $0.first && $0.day < date.utcDay }
        let end = days.last?.end ?? 0
        var events: [String: Int] = [:], squashed: [String: Int] = [:]
        try queue.read { db in
            for row in try Row.fetchAll(db, sql: "SELECT service, COUNT(*) FROM events WHERE pos < ? GROUP BY service", arguments: [end]) {
                events[row[0]] = row[1]
            }
            let dayList = days.map { String($0.day) }.joined(separator: ",")
            if !dayList.isEmpty {
                for row in try Row.fetchAll(db, sql: "SELECT service, COUNT(*) FROM day_changes WHERE day IN (\(dayList)) GROUP BY service") {
                    squashed[row[0]] = row[1]
                }
            }
        }
        let services = events.keys.sorted().map {
            CompactionPlan.ServiceLoss(service: $0, events: events[$0]!, squashed: squashed[$0] ?? 0)
        }
        return CompactionPlan(before: date, end: end, days: days.count, services: services)
    }

    /// Rewrites the store: the events of the planned days become one squashed event per stream
    /// and day, whose data is the stream's document at the end of that day. Replay then reaches
    /// exactly the same state at every day's end and after; the intermediate states are gone.
    public func compact(_ plan: CompactionPlan, derived: SQLiteDerivedData) throws {
        guard plan.end > 0 else { return }
        // Gather the replacement events first (reads), then rewrite in one transaction.
        var rows: [(line: Int, ts: Int64, id: String, service: String, stream: String, tsRaw: String, data: String, meta: String)] = []
        for day in try derived.squashedDays() where day.end <= plan.end && day.end > day.first {
            var last: [StreamKey: (line: Int, ts: Int64, count: Int)] = [:]
            try forEachEvent(in: day.first..<day.end) { e in
                let key = StreamKey(service: e.service, stream: e.stream)
                last[key] = (e.line, e.ts.nanoseconds, (last[key]?.count ?? 0) + 1)
            }
            let date = String(Timestamp(nanoseconds: day.day * 86_400_000_000_000).rfc3339.prefix(10))
            try derived.forEachDayChange(day: day.day) { key, doc in
                let info = last[key]!
                var meta: [String: JSONValue] = ["rewind": .string("squashed"), "day": .string(date), "events": .int(Int64(info.count))]
                if doc == nil { meta["deleted"] = .bool(true) }
                rows.append((info.line, info.ts, "rewind-squash:\(date):\(key.service)/\(key.stream)", key.service, key.stream,
                             JSONValue.string(Timestamp(nanoseconds: info.ts).rfc3339).jsonText,
                             (doc ?? .emptyObject).jsonText, JSONValue.object(meta).jsonText))
            }
        }
        try queue.write { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO compacted_ids SELECT id, line FROM events
                WHERE pos < ? AND id NOT LIKE 'rewind-squash:%'
                """, arguments: [plan.end])
            try db.execute(sql: "DELETE FROM events WHERE pos < ?", arguments: [plan.end])
            let insert = try db.makeStatement(sql: """
                INSERT INTO events (pos, line, ts, id, service, stream, type, ts_raw, data, meta, extra)
                VALUES (?, ?, ?, ?, ?, ?, 'Squashed', ?, ?, ?, NULL)
                """)
            for (i, r) in rows.enumerated() {
                try insert.execute(arguments: [-1 - i, r.line, r.ts, r.id, r.service, r.stream, r.tsRaw, r.data, r.meta])
            }
            for table in ["transitions", "days", "day_changes", "keyframes", "derived_meta", "cached_states", "index_cache"] {
                try db.execute(sql: "DELETE FROM \(table)")
            }
        }
        try restoreTimelineOrder()
    }
}
