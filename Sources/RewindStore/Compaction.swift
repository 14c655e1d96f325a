import Foundation
import RewindCore

/// What compacting the days before a date does, per service, and the rewrite itself: worked out
/// before anything is written, so what `squash --compact` shows is exactly what it does.
public struct CompactionPlan: Sendable {
    public struct ServiceLoss: Sendable, Equatable {
        public var service: String
        /// Events of the compacted days.
        public var events: Int
        /// Squashed events that replace some of them (one per stream and day).
        public var squashed: Int
        /// Events kept as they are: the stream's only event that day, or a day whose squashed
        /// event (the whole document) would take more room than its events.
        public var kept: Int
        /// Intermediate states that become unreachable.
        public var unreachable: Int { events - squashed - kept }
    }
    public var before: Timestamp
    /// Timeline positions [0, end) are compacted.
    public var end: Int
    public var days: Int
    public var services: [ServiceLoss]
    /// The positions whose events give way to `rows`, ascending.
    public var replaced: [Int]
    public var rows: [SquashedEvent]
    public var events: Int { services.reduce(0) { $0 + $1.events } }
    public var squashed: Int { services.reduce(0) { $0 + $1.squashed } }
    public var kept: Int { services.reduce(0) { $0 + $1.kept } }
}

/// A stream's events of one compacted day: its last line and time, their positions and size.
struct CompactionGroup { var line = 0, ts: Int64 = 0, positions: [Int] = [], bytes = 0 }

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
    /// Plans compacting every whole UTC day before `date`: per stream and day, its events become
    /// one squashed event whose data is the stream's document at the end of that day — unless
    /// that would not make the store smaller (one event, or a large document changed by small
    /// events: the squashed event holds the whole document), and then they stay as they are.
    public func compactionPlan(before date: Timestamp, index: TimelineIndex) throws -> CompactionPlan {
        let days = index.days.filter { !$0.open && $0.end > $0.first && $0.day < date.utcDay }
        let end = days.last?.end ?? 0
        // By code points: canonically equivalent service names are different services.
        var losses: [JSONKey: CompactionPlan.ServiceLoss] = [:]
        var services: [UInt32: JSONKey] = [:]
        func service(_ id: UInt32) throws -> JSONKey {
            if let s = services[id] { return s }
            let s = JSONKey(try index.streamKey(id).service)
            services[id] = s
            return s
        }
        var replaced: [Int] = []
        var rows: [SquashedEvent] = []
        for day in days {
            var groups: [UInt32: CompactionGroup] = [:]
            var p = day.first
            try forEachNumberedEvent(in: day.first..<day.end) { e, id in
                var g = groups[id] ?? CompactionGroup()
                g.line = e.line
                g.ts = e.ts.nanoseconds
                g.positions.append(p)
                g.bytes += e.id.utf8.count + e.data.jsonText.utf8.count + (e.metaText?.utf8.count ?? 0) + (e.extraText?.utf8.count ?? 0)
                groups[id] = g
                p += 1
            }
            let state = index.state(atEndOf: day)
            for id in groups.keys.sorted() {
                let g = groups[id]!, name = try service(id)
                var loss = losses[name] ?? CompactionPlan.ServiceLoss(service: name.string, events: 0, squashed: 0, kept: 0)
                loss.events += g.positions.count
                defer { losses[name] = loss }
                guard g.positions.count > 1 else { loss.kept += 1; continue }
                let doc = index.document(state.value(id))
                try index.image.check()
                let data = (doc ?? .emptyObject).jsonText
                guard data.utf8.count < g.bytes else { loss.kept += g.positions.count; continue }
                let key = try index.streamKey(id)
                var meta: [JSONKey: JSONValue] = ["rewind": .string("squashed"), "day": .string(day.date), "events": .int(Int64(g.positions.count))]
                if doc == nil { meta["deleted"] = .bool(true) }
                rows.append(SquashedEvent(line: g.line, ts: g.ts, id: "rewind-squash:\(day.date):\(key.service)/\(key.stream)",
                                          stream: id, data: data, meta: JSONValue.object(meta).jsonText))
                replaced += g.positions
                loss.squashed += 1
            }
        }
        replaced.sort()
        return CompactionPlan(before: date, end: end, days: days.count, services: losses.keys.sorted().map { losses[$0]! },
                              replaced: replaced, rows: rows)
    }

    /// Rewrites the store as planned: replay then reaches exactly the same state at every
    /// compacted day's end and after; the squashed streams' intermediate states are gone. The
    /// store gets a new identity (its index is rebuilt).
    public func compact(_ plan: CompactionPlan) throws {
        guard !plan.replaced.isEmpty else { return }
        try replaceEvents(plan.replaced, with: plan.rows)
    }
}
