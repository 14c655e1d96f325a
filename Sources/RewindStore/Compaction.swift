import Foundation
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

/// One squashed event that replaces a stream's events of a compacted day.
public struct SquashedEvent: Sendable {
    public var line: Int
    public var ts: Int64
    public var id: String
    public var stream: UInt32
    public var data: String
    public var meta: String
}

extension EventStore {
    /// Plans compacting every whole UTC day before `date` (counted from the index alone).
    public func compactionPlan(before date: Timestamp, index: TimelineIndex) throws -> CompactionPlan {
        let days = index.days.filter { !$0.open && $0.end > $0.first && $0.day < date.utcDay }
        let end = days.last?.end ?? 0
        // By code points: canonically equivalent service names are different services.
        var events: [JSONKey: Int] = [:], squashed: [JSONKey: Int] = [:]
        var perStream: [UInt32: Int] = [:]
        for p in 0..<end { perStream[index.stream(at: p), default: 0] += 1 }
        try index.image.check()
        for (id, n) in perStream { events[JSONKey(try index.streamKey(id).service), default: 0] += n }
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
        var rows: [SquashedEvent] = []
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
                rows.append(SquashedEvent(line: info.line, ts: info.ts, id: "rewind-squash:\(day.date):\(key.service)/\(key.stream)",
                                          stream: id, data: (doc ?? .emptyObject).jsonText, meta: JSONValue.object(meta).jsonText))
            }
        }
        try replaceEvents(before: plan.end, with: rows)
    }
}
