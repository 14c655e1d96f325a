/// Data derived from the timeline by one forward fold, which the strategies read:
/// per-event transitions, keyframes, squashed days and cached states. Every row carries the
/// rules fingerprint and `DerivedData.version`; rows from other rules or versions are not used.
public protocol DerivedData: Sendable {
    /// Positions that have a keyframe (always 0 and the head), ascending.
    func keyframePositions() throws -> [Int]
    /// The state after the first `position` events, and the bytes read; throws
    /// `DerivedDataDamage` when the row's hash does not match its content (never served).
    func keyframe(at position: Int) throws -> (State, Int)
    /// Transitions at `range`, ascending (or descending when `backward`). Returns bytes read.
    @discardableResult
    func forEachTransition(in range: Range<Int>, backward: Bool, _ body: (StreamTransition) throws -> Void) throws -> Int
    /// The squashed days, ascending.
    func squashedDays() throws -> [SquashedDayIndex]
    /// One day's composite changes. Returns bytes read.
    @discardableResult
    func forEachDayChange(day: Int64, _ body: (StreamKey, JSONValue?) throws -> Void) throws -> Int
    /// Positions of cached states, ascending.
    func cachedPositions() throws -> [Int]
    func cachedState(at position: Int) throws -> (State, Int)
    func storeCachedState(_ state: State, at position: Int) throws
}

public enum DerivedDataVersion {
    /// Bump when the meaning of derived rows changes: older rows are then rebuilt.
    public static let current = 1
}

/// Where a day starts and ends on the timeline.
public struct SquashedDayIndex: Sendable, Equatable {
    public var day: Int64
    public var first: Int
    public var end: Int
    public init(day: Int64, first: Int, end: Int) {
        self.day = day
        self.first = first
        self.end = end
    }
}

/// A derived row whose content does not match its hash (damaged on disk).
public struct DerivedDataDamage: Error, Sendable, CustomStringConvertible {
    public var what: String
    public init(_ what: String) { self.what = what }
    public var description: String { "\(what) is damaged (its hash does not match)" }
}

/// Receives what `DerivedBuilder` produces, in timeline order.
public protocol DerivedSink {
    mutating func transition(_ t: StreamTransition) throws
    mutating func keyframe(_ state: State, at position: Int) throws
    mutating func day(_ day: SquashedDay) throws
}

/// Folds the timeline once and emits transitions, keyframes and squashed days.
///
/// Keyframe placement is by size, as a video encoder places I-frames: a new keyframe when the
/// transitions written since the last one weigh as much as the state itself. Storage then stays
/// within twice the transitions, and reaching any T never reads more than about one state's worth
/// of transitions after loading a keyframe. `minimumInterval` keeps tiny states from writing a
/// keyframe every few events.
public struct DerivedBuilder {
    public var fold: Fold
    public var minimumInterval: Int
    /// Called now and then with (events done, events in all).
    public var onProgress: (Int, Int) -> Void = { _, _ in }

    public init(fold: Fold, minimumInterval: Int = 256) {
        self.fold = fold
        self.minimumInterval = minimumInterval
    }

    static func weight(_ v: JSONValue?) -> Int {
        guard let v else { return 1 }
        switch v {
        case .object(let o): return o.reduce(2) { $0 + $1.key.utf8.count + 3 + weight($1.value) }
        case .array(let a): return a.reduce(2) { $0 + 1 + weight($1) }
        case .string(let s): return s.utf8.count + 2
        default: return 8
        }
    }

    /// Returns the issues the fold reported.
    @discardableResult
    public func build<S: DerivedSink>(from source: any EventSource, into sink: inout S) throws -> [FoldIssue] {
        try sink.keyframe(State(), at: 0)
        return try extend(from: source, start: 0, state: State(), lastDay: nil, into: &sink)
    }

    /// Continues a build after the first `start` events, from `state` (the state there — the head
    /// keyframe of the earlier build). `lastDay` is the earlier build's last day, which the new
    /// events may continue: its composite is then re-emitted with only their changes (a sink
    /// upserts them) and its original first position.
    @discardableResult
    public func extend<S: DerivedSink>(from source: any EventSource, start: Int, state initial: State,
                                       lastDay: SquashedDayIndex?, into sink: inout S) throws -> [FoldIssue] {
        let count = try source.eventCount()
        var state = initial
        var issues: [FoldIssue] = []
        var stateWeight = state.services.values.reduce(0) { $0 + $1.values.reduce(0) { $0 + DerivedBuilder.weight($1) } }
        var sinceKeyframe = 0
        var lastKeyframe = start
        var dayStart = lastDay?.first ?? start
        var currentDay: Int64? = lastDay?.day
        var dayChanges: [StreamKey: JSONValue?] = [:]
        var position = start
        try source.forEachEvent(in: start..<count) { event in
            let day = event.ts.utcDay
            if let d = currentDay, d != day {
                try sink.day(SquashedDay(day: d, first: dayStart, end: position, changes: dayChanges))
                dayChanges.removeAll(keepingCapacity: true)
                dayStart = position
            }
            currentDay = day
            let before = state.document(service: event.service, stream: event.stream)
            fold.apply(event, to: &state, issues: &issues)
            let after = state.document(service: event.service, stream: event.stream)
            try sink.transition(StreamTransition(position: position, service: event.service, stream: event.stream,
                                                 before: before, after: after, irreversible: fold.isIrreversible(event),
                                                 eventID: event.id, line: event.line, type: event.type))
            dayChanges[StreamKey(service: event.service, stream: event.stream)] = .some(after)
            let (weightBefore, weightAfter) = (DerivedBuilder.weight(before), DerivedBuilder.weight(after))
            stateWeight += weightAfter - weightBefore
            sinceKeyframe += weightBefore + weightAfter
            position += 1
            if position % 20_000 == 0 { onProgress(position, count) }
            if sinceKeyframe >= stateWeight && position - lastKeyframe >= minimumInterval && position < count {
                try sink.keyframe(state, at: position)
                sinceKeyframe = 0
                lastKeyframe = position
            }
        }
        if let d = currentDay, count > start || lastDay == nil {
            try sink.day(SquashedDay(day: d, first: dayStart, end: position, changes: dayChanges))
        }
        if count > 0 && count > start { try sink.keyframe(state, at: count) }
        onProgress(count, count)
        return issues
    }
}
