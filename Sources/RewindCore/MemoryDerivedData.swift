import Foundation

/// `DerivedData` held in memory: for tests and small logs (the explorer over an in-memory
/// timeline). Built by `DerivedBuilder` like the store's.
public final class MemoryDerivedData: DerivedData, DerivedSink, @unchecked Sendable {
    private let lock = NSLock()
    private var transitions: [StreamTransition] = []
    private var keyframes: [Int: State] = [:]
    private var days: [SquashedDay] = []
    private var cached: [Int: State] = [:]

    public init(source: any EventSource, fold: Fold, minimumKeyframeInterval: Int = 256) throws {
        var sink = self
        try DerivedBuilder(fold: fold, minimumInterval: minimumKeyframeInterval).build(from: source, into: &sink)
    }

    public func transition(_ t: StreamTransition) { lock.withLock { transitions.append(t) } }
    public func keyframe(_ state: State, at position: Int) { lock.withLock { keyframes[position] = state } }
    public func day(_ day: SquashedDay) { lock.withLock { days.append(day) } }

    public func keyframePositions() -> [Int] { lock.withLock { keyframes.keys.sorted() } }

    public func keyframe(at position: Int) throws -> (State, Int) {
        guard let s = lock.withLock({ keyframes[position] }) else { throw DerivedDataDamage("keyframe at position \(position) (missing)") }
        return (s, 0)
    }

    public func forEachTransition(in range: Range<Int>, backward: Bool, _ body: (StreamTransition) throws -> Void) throws -> Int {
        let slice = lock.withLock { Array(transitions[range.clamped(to: 0..<transitions.count)]) }
        for t in backward ? slice.reversed() : slice { try body(t) }
        return 0
    }

    public func squashedDays() -> [SquashedDayIndex] {
        lock.withLock { days.map { SquashedDayIndex(day: $0.day, first: $0.first, end: $0.end) } }
    }

    public func forEachDayChange(day: Int64, _ body: (StreamKey, JSONValue?) throws -> Void) throws -> Int {
        let changes = lock.withLock { days.first { $0.day == day }?.changes ?? [:] }
        for (k, v) in changes { try body(k, v) }
        return 0
    }

    public func cachedPositions() -> [Int] { lock.withLock { cached.keys.sorted() } }

    public func cachedState(at position: Int) throws -> (State, Int) {
        guard let s = lock.withLock({ cached[position] }) else { throw DerivedDataDamage("cached state at position \(position) (missing)") }
        return (s, 0)
    }

    public func storeCachedState(_ state: State, at position: Int) { lock.withLock { cached[position] = state } }
}
