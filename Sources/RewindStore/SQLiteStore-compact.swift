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
    public func compactionPlan(before date: Timestamp, index: TimelineIndex) throws -> CompactionPlan {
        let days = index.days.filter { !$0.open && $0.end > $0.first && $0.day < date.utcDay }
        let end = days.last?.end ?? 0
        // By code points: canonically equivalent service names are different services.
        var events: [JSONKey: Int] = [:], squashed: [JSONKey: Int] = [:]
        try reading { db in
            // Names read by their byte length (a NUL inside one is kept); the position is ours.
            try SQLiteStore.texts(db, """
                SELECT s.service, COUNT(*) FROM events e JOIN streams s ON s.id = e.stream WHERE e.pos < \(end) GROUP BY s.id
                """) { row in events[JSONKey(row[0]), default: 0] += Int(row[1]) ?? 0 }
        }
        for day in days {
            for id in index.streams(changedIn: day.first..<day.end) { squashed[JSONKey(try index.streamKey(id).service), default: 0] += 1 }
        }
        let services = events.keys.sorted().map {
            CompactionPlan.ServiceLoss(service: $0.string, events: events[$0]!, squashed: squashed[$0] ?? 0)
        }
        return CompactionPlan(before: date, end: end, days: days.count, services: services)
    }

    /// Rewrites the store: the events of the planned days become one squashed event per stream
    /// and day, whose data is the stream's document at the end of that day. Replay then reaches
    /// exactly the same state at every day's end and after; the intermediate states are gone.
    /// The store gets a new identity (its index is rebuilt).
    public func compact(_ plan: CompactionPlan, index: TimelineIndex) throws {
        guard plan.end > 0 else { return }
        // Gather the replacement events first (reads), then rewrite in one transaction.
        var rows: [(line: Int, ts: Int64, id: String, stream: UInt32, data: String, meta: String)] = []
        for day in index.days where !day.open && day.end <= plan.end && day.end > day.first {
            var last: [UInt32: (line: Int, ts: Int64, count: Int)] = [:]
            try forEachNumberedEvent(in: day.first..<day.end) { e, id in
                last[id] = (e.line, e.ts.nanoseconds, (last[id]?.count ?? 0) + 1)
            }
            let end = index.state(atEndOf: day)
            for id in last.keys.sorted() {
                let info = last[id]!, key = try index.streamKey(id)
                let doc = index.document(end.value(id))
                try index.image.check()
                var meta: [JSONKey: JSONValue] = ["rewind": .string("squashed"), "day": .string(day.date), "events": .int(Int64(info.count))]
                if doc == nil { meta["deleted"] = .bool(true) }
                rows.append((info.line, info.ts, "rewind-squash:\(day.date):\(key.service)/\(key.stream)", id,
                             (doc ?? .emptyObject).jsonText, JSONValue.object(meta).jsonText))
            }
        }
        try writing { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO compacted_ids SELECT id, line FROM events
                WHERE pos < ? AND id NOT LIKE 'rewind-squash:%'
                """, arguments: [plan.end])
            try db.execute(sql: "DELETE FROM events WHERE pos < ?", arguments: [plan.end])
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
