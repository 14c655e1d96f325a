import Foundation
import GRDB
import GRDBSQLite
import RewindCore

/// The derived data of one store under one set of rules (see `DerivedData`).
public final class SQLiteDerivedData: DerivedData, @unchecked Sendable {
    public let store: SQLiteStore
    public let rules: String
    let version = DerivedDataVersion.current
    private let lock = NSLock()
    private var keyframeCache: [Int]?

    init(store: SQLiteStore, rules: String) {
        self.store = store
        self.rules = rules
    }

    var queue: DatabaseQueue { store.queue }

    // MARK: reading

    public func keyframePositions() throws -> [Int] {
        if let cached = lock.withLock({ keyframeCache }) { return cached }
        let positions = try queue.read { db in
            try Int.fetchAll(db, sql: "SELECT pos FROM keyframes WHERE strategy = 'diff' AND rules = ? AND version = ? ORDER BY pos",
                             arguments: [rules, version])
        }
        lock.withLock { keyframeCache = positions }
        return positions
    }

    /// Reads a state row and checks its hash: a damaged row is never served.
    func checkedState(sql: String, position: Int, what: String) throws -> (State, Int) {
        let row = try queue.read { db in try Row.fetchOne(db, sql: sql, arguments: [position, rules, version]) }
        guard let row, let text = row["state"] as String?, let hash = row["hash"] as String? else {
            throw DerivedDataDamage("\(what) at position \(position) (missing)")
        }
        guard ContentHash.hex(of: text) == hash, case .object(let o)? = try? JSONParser.parse(text) else {
            throw DerivedDataDamage("\(what) at position \(position)")
        }
        var services: [String: [String: JSONValue]] = [:]
        for (name, streams) in o {
            guard case .object(let s) = streams else { throw DerivedDataDamage("\(what) at position \(position)") }
            services[name] = s
        }
        return (State(services: services), text.utf8.count)
    }

    public func keyframe(at position: Int) throws -> (State, Int) {
        try checkedState(sql: "SELECT state, hash FROM keyframes WHERE strategy = 'diff' AND pos = ? AND rules = ? AND version = ?",
                         position: position, what: "keyframe")
    }

    @discardableResult
    public func forEachTransition(in range: Range<Int>, backward: Bool, _ body: (StreamTransition) throws -> Void) throws -> Int {
        guard !range.isEmpty else { return 0 }
        return try queue.read { db in
            let statement = try db.makeStatement(sql: """
                SELECT pos, service, stream, before, after, irreversible, event_id, line, type FROM transitions
                WHERE pos >= ? AND pos < ? ORDER BY pos \(backward ? "DESC" : "ASC")
                """)
            let s = statement.sqliteStatement
            sqlite3_bind_int64(s, 1, Int64(range.lowerBound))
            sqlite3_bind_int64(s, 2, Int64(range.upperBound))
            defer { sqlite3_reset(s) }
            var bytes = 0
            var expected = backward ? range.upperBound - 1 : range.lowerBound
            while sqlite3_step(s) == SQLITE_ROW {
                let pos = Int(sqlite3_column_int64(s, 0))
                guard pos == expected else { throw DerivedDataDamage("the diff of position \(expected) (missing)") }
                expected += backward ? -1 : 1
                func doc(_ i: Int32) throws -> JSONValue? {
                    guard let b = SQLiteStore.columnBytes(s, i) else { return nil }
                    bytes += b.count
                    guard let v = try? JSONParser.parse(b) else { throw DerivedDataDamage("the diff of position \(pos)") }
                    return v
                }
                let t = StreamTransition(
                    position: pos, service: SQLiteStore.columnString(s, 1), stream: SQLiteStore.columnString(s, 2),
                    before: try doc(3), after: try doc(4), irreversible: sqlite3_column_int64(s, 5) != 0,
                    eventID: SQLiteStore.columnString(s, 6), line: Int(sqlite3_column_int64(s, 7)), type: SQLiteStore.columnString(s, 8))
                bytes += 24 + t.service.utf8.count + t.stream.utf8.count
                try body(t)
            }
            guard expected == (backward ? range.lowerBound - 1 : range.upperBound) else {
                throw DerivedDataDamage("the diff of position \(expected) (missing)")
            }
            return bytes
        }
    }

    public func squashedDays() throws -> [SquashedDayIndex] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT day, first, end FROM days ORDER BY day").map {
                SquashedDayIndex(day: $0[0], first: $0[1], end: $0[2])
            }
        }
    }

    @discardableResult
    public func forEachDayChange(day: Int64, _ body: (StreamKey, JSONValue?) throws -> Void) throws -> Int {
        try queue.read { db in
            var bytes = 0
            let rows = try Row.fetchCursor(db, sql: "SELECT service, stream, doc FROM day_changes WHERE day = ?", arguments: [day])
            while let row = try rows.next() {
                let text: String? = row[2]
                bytes += (text?.utf8.count ?? 0) + 16
                var doc: JSONValue?
                if let text {
                    guard let v = try? JSONParser.parse(text) else { throw DerivedDataDamage("the squashed day \(day)") }
                    doc = v
                }
                try body(StreamKey(service: row[0], stream: row[1]), doc)
            }
            return bytes
        }
    }

    public func cachedPositions() throws -> [Int] {
        try queue.read { db in
            try Int.fetchAll(db, sql: "SELECT pos FROM cached_states WHERE rules = ? AND version = ? ORDER BY pos",
                             arguments: [rules, version])
        }
    }

    public func cachedState(at position: Int) throws -> (State, Int) {
        try checkedState(sql: "SELECT state, hash FROM cached_states WHERE pos = ? AND rules = ? AND version = ?",
                         position: position, what: "cached state")
    }

    /// At most this many cached states are kept; the least recently written go first.
    public static let cacheCapacity = 64

    public func storeCachedState(_ state: State, at position: Int) throws {
        let text = state.json.jsonText
        try queue.write { db in
            let sequence = (try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(created), 0) + 1 FROM cached_states")) ?? 1
            try db.execute(sql: "INSERT OR REPLACE INTO cached_states VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [position, rules, version, text, ContentHash.hex(of: text), sequence])
            try db.execute(sql: """
                DELETE FROM cached_states WHERE pos NOT IN
                    (SELECT pos FROM cached_states ORDER BY created DESC LIMIT ?)
                """, arguments: [SQLiteDerivedData.cacheCapacity])
        }
    }

    public func removeCachedState(at position: Int) throws {
        try queue.write { db in try db.execute(sql: "DELETE FROM cached_states WHERE pos = ?", arguments: [position]) }
    }

    /// Every cached state row, including ones written under other rules (which are ignored).
    public func allCachedRows() throws -> [(position: Int, rules: String, version: Int)] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT pos, rules, version FROM cached_states ORDER BY pos").map { ($0[0], $0[1], $0[2]) }
        }
    }
}

/// Writes what `DerivedBuilder` emits into the store, in batches.
struct SQLiteDerivedSink: DerivedSink {
    let store: SQLiteStore
    let rules: String
    var pending: [StreamTransition] = []

    mutating func transition(_ t: StreamTransition) throws {
        pending.append(t)
        if pending.count >= 20_000 { try flush() }
    }

    mutating func flush() throws {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        try store.queue.write { db in
            let statement = try db.makeStatement(sql: "INSERT INTO transitions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
            for t in batch {
                try statement.execute(arguments: [t.position, t.service, t.stream, t.before?.jsonText, t.after?.jsonText,
                                                  t.irreversible, t.eventID, t.line, t.type])
            }
        }
    }

    mutating func keyframe(_ state: State, at position: Int) throws {
        try flush()
        let text = state.json.jsonText
        try store.queue.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO keyframes VALUES ('diff', ?, ?, ?, ?, ?)",
                           arguments: [position, rules, DerivedDataVersion.current, text, ContentHash.hex(of: text)])
        }
    }

    mutating func day(_ day: SquashedDay) throws {
        try flush()
        try store.queue.write { db in
            // Upserts: an extended build re-emits the day it continues with only the new changes.
            try db.execute(sql: "INSERT INTO days VALUES (?, ?, ?) ON CONFLICT(day) DO UPDATE SET end = excluded.end",
                           arguments: [day.day, day.first, day.end])
            let statement = try db.makeStatement(sql: "INSERT OR REPLACE INTO day_changes VALUES (?, ?, ?, ?)")
            for (key, doc) in day.changes {
                try statement.execute(arguments: [day.day, key.service, key.stream, doc?.jsonText])
            }
        }
    }
}

extension SQLiteStore {
    /// What `ensureDerived` did.
    public enum DerivedStatus: Sendable, Equatable {
        case upToDate
        /// Built because there was none, the rules or the log changed, or a row was damaged.
        case built(reason: String)
    }

    /// The derived data for `fold`'s rules, building (or rebuilding) it when it is missing, was
    /// built under other rules or another version, or no longer matches the timeline.
    public func ensureDerived(fold: Fold, forceReason: String? = nil, minimumKeyframeInterval: Int = 256,
                              onProgress: @escaping (Int, Int) -> Void = { _, _ in }) throws -> (SQLiteDerivedData, DerivedStatus) {
        let derived = SQLiteDerivedData(store: self, rules: fold.rules.fingerprint)
        let count = try eventCount()
        let meta = try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT rules, version, events, complete, head FROM derived_meta")
        }
        var reason = forceReason
        if reason == nil {
            if meta == nil {
                reason = "no derived data yet"
            } else if (meta!["rules"] as String) != fold.rules.fingerprint {
                reason = "the rules changed"
            } else if (meta!["version"] as Int) != DerivedDataVersion.current {
                reason = "it was built by another version"
            } else if (meta!["events"] as Int) != count || !(meta!["complete"] as Bool) {
                reason = "the log changed"
            }
        }
        guard let reason else { return (derived, .upToDate) }
        if reason == "the log changed", let meta, let head = meta["head"] as String?, let old = meta["events"] as Int?,
           old > 0, old < count, (try? event(at: old - 1).id) == head,
           try extendDerived(derived, fold: fold, from: old, to: count, minimumKeyframeInterval: minimumKeyframeInterval,
                             onProgress: onProgress) {
            return (SQLiteDerivedData(store: self, rules: fold.rules.fingerprint), .built(reason: "the log grew: extended by \(count - old) events"))
        }
        try queue.write { db in
            for table in ["transitions", "days", "day_changes", "keyframes", "derived_meta"] {
                try db.execute(sql: "DELETE FROM \(table)")
            }
            // Cached states of the same rules stay valid only while the timeline is unchanged.
            // (index_cache rows check the event before them when read: they need no clearing.)
            if reason != "the rules changed" { try db.execute(sql: "DELETE FROM cached_states") }
            try db.execute(sql: "INSERT INTO derived_meta VALUES (1, ?, ?, ?, 0, NULL)",
                           arguments: [fold.rules.fingerprint, DerivedDataVersion.current, count])
        }
        var sink = SQLiteDerivedSink(store: self, rules: fold.rules.fingerprint)
        var builder = DerivedBuilder(fold: fold, minimumInterval: minimumKeyframeInterval)
        builder.onProgress = onProgress
        try builder.build(from: ChunkedReader(store: self), into: &sink)
        try sink.flush()
        try markDerivedComplete(count)
        return (SQLiteDerivedData(store: self, rules: fold.rules.fingerprint), .built(reason: reason))
    }

    func markDerivedComplete(_ count: Int) throws {
        let head = count > 0 ? try event(at: count - 1).id : nil
        try queue.write { db in
            try db.execute(sql: "UPDATE derived_meta SET complete = 1, events = ?, head = ?", arguments: [count, head])
        }
    }

    /// Extends derived data built for the first `old` events, when the log grew at its end.
    /// Returns false when it cannot (no head keyframe), and the caller rebuilds.
    func extendDerived(_ derived: SQLiteDerivedData, fold: Fold, from old: Int, to count: Int,
                       minimumKeyframeInterval: Int, onProgress: @escaping (Int, Int) -> Void) throws -> Bool {
        guard (try? derived.keyframePositions().contains(old)) == true, let (head, _) = try? derived.keyframe(at: old) else { return false }
        let lastDay = try derived.squashedDays().last
        try queue.write { db in
            try db.execute(sql: "UPDATE derived_meta SET complete = 0, events = ?", arguments: [count])
            // Cached states stay valid: positions before the old head did not move.
        }
        var sink = SQLiteDerivedSink(store: self, rules: fold.rules.fingerprint)
        var builder = DerivedBuilder(fold: fold, minimumInterval: minimumKeyframeInterval)
        builder.onProgress = onProgress
        try builder.extend(from: ChunkedReader(store: self), start: old, state: head, lastDay: lastDay, into: &sink)
        try sink.flush()
        try markDerivedComplete(count)
        return true
    }

    /// Transitions and squashed days as text, in order (tests compare builds with it).
    public func derivedDump() throws -> String {
        try queue.read { db in
            var out = ""
            for row in try Row.fetchAll(db, sql: "SELECT * FROM transitions ORDER BY pos") { out += "t: \(row)\n" }
            for row in try Row.fetchAll(db, sql: "SELECT * FROM days ORDER BY day") { out += "d: \(row)\n" }
            for row in try Row.fetchAll(db, sql: "SELECT * FROM day_changes ORDER BY day, service, stream") { out += "c: \(row)\n" }
            return out
        }
    }

    /// Bytes the derived data takes, per kind (for `rewind bench` and `compare`).
    public func derivedBytes() throws -> [String: Int] {
        try queue.read { db in
            func sum(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql) ?? 0 }
            return [
                "diff": try sum("SELECT COALESCE(SUM(LENGTH(before) + LENGTH(after) + LENGTH(service) + LENGTH(stream) + 32), 0) FROM transitions")
                    + (try sum("SELECT COALESCE(SUM(LENGTH(state)), 0) FROM keyframes")),
                "squash": try sum("SELECT COALESCE(SUM(LENGTH(doc) + LENGTH(service) + LENGTH(stream) + 16), 0) FROM day_changes"),
                "cache": try sum("SELECT COALESCE(SUM(LENGTH(state)), 0) FROM cached_states"),
            ]
        }
    }
}

/// Reads the timeline in chunks, each read finished before the caller sees its events, so the
/// caller may write to the same store between events (GRDB connections are not re-entrant).
public struct ChunkedReader: EventSource {
    public let store: SQLiteStore
    public var chunk = 20_000

    public init(store: SQLiteStore, chunk: Int = 20_000) {
        self.store = store
        self.chunk = chunk
    }

    public func eventCount() throws -> Int { try store.eventCount() }
    public func position(at time: Timestamp) throws -> Int { try store.position(at: time) }
    public func event(at position: Int) throws -> Event { try store.event(at: position) }

    @discardableResult
    public func forEachEvent(in range: Range<Int>, _ body: (Event) throws -> Void) throws -> Int {
        var bytes = 0
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(range.upperBound, start + chunk)
            var events: [Event] = []
            events.reserveCapacity(end - start)
            bytes += try store.forEachEvent(in: start..<end) { events.append($0) }
            for e in events { try body(e) }
            start = end
        }
        return bytes
    }
}
