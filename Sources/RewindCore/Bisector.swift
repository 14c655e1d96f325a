/// Finds the first position (1 … events) at which an invariant is false, by seeking through the
/// per-event diffs instead of folding: the state is kept by applying each transition, and the
/// invariant is evaluated only after transitions of streams its paths can select (others cannot
/// change its value). Aggregates are kept incrementally per stream, so a sum over thousands of
/// accounts costs O(1) per event. Exact also for invariants that break and later hold again.
public struct Bisector {
    public var invariant: Invariant

    public init(invariant: Invariant) { self.invariant = invariant }

    /// The position after which the invariant first fails, or nil when it always holds.
    public func firstFailure(in index: TimelineIndex) throws -> Int? {
        try breaks(events: index.count, limit: 1, transitions: transitions(of: index)).first
    }

    /// The index's transitions, with documents read only for streams the invariant's paths can
    /// select (the others cannot change its value).
    public func transitions(of index: TimelineIndex) -> (Range<Int>, (IndexedTransition) throws -> Void) throws -> Void {
        var relevant: [UInt32: Bool] = [:]
        let paths = invariant.paths
        return { range, body in
            try index.forEachTransition(in: range, wanted: { id in
                if let r = relevant[id] { return r }
                let r = (try? index.streamKey(id)).map { key in paths.contains { $0.matches(service: key.service, stream: key.stream) } } ?? true
                relevant[id] = r
                return r
            }, body)
        }
    }

    /// Positions (1 … count) where the invariant turns false: the first position when it is
    /// false there, and every position where it was true just before. At most `limit`.
    /// `transitions` hands over the transitions of a range, in order. With a `control`, progress
    /// is reported and cancellation checked after each chunk.
    public func breaks(events count: Int, limit: Int = .max, chunk: Int = 50_000, control: WorkControl? = nil,
                       transitions: (Range<Int>, (IndexedTransition) throws -> Void) throws -> Void) throws -> [Int] {
        var state = State()
        var trackers = invariant.aggregates.map { AggregateTracker(aggregate: $0) }
        var found: [Int] = []
        var holding = true
        var start = 0
        while start < count && found.count < limit {
            let end = min(count, start + chunk)
            try transitions(start..<end) { t in
                guard found.count < limit else { return }
                let relevant = invariant.paths.contains { $0.matches(service: t.key.service, stream: t.key.stream) }
                if relevant {
                    state.set(service: t.key.service, stream: t.key.stream, to: t.after)
                    let key = t.key
                    for i in trackers.indices where trackers[i].aggregate.path.matches(service: t.key.service, stream: t.key.stream) {
                        trackers[i].update(key, document: t.after)
                    }
                }
                if relevant || t.position == 0 {
                    var values: [JSONValue] = []
                    for i in trackers.indices { values.append(trackers[i].value(state: state, aggregates: values)) }
                    let holds = InvariantEvaluator(state: state, aggregateValues: values).truth(invariant.root)
                    if !holds && holding { found.append(t.position + 1) }
                    holding = holds
                }
            }
            start = end
            control?.report(done: end, total: count)
            try control?.check()
        }
        return found
    }
}

/// One aggregate's selection, kept per stream and summed incrementally.
struct AggregateTracker {
    let aggregate: InvariantAggregate
    var contributions: [StreamKey: [JSONValue]] = [:]
    var count = 0
    var intSum: Int64 = 0
    /// Doubles, or an Int64 overflow, make the sum recomputed from the contributions (exactly as
    /// `Invariant.holds(in:)` computes it) rather than kept by subtraction, which would drift.
    var inexact = 0
    /// For all/any with a literal operand: how many selected values pass the test.
    var passing = 0

    init(aggregate: InvariantAggregate) {
        self.aggregate = aggregate
        heap = ExtremeHeap(max: aggregate.kind == .max)
    }

    var literalOperand: JSONValue? {
        if case .literal(let v)? = aggregate.operand { return v }
        return nil
    }

    mutating func account(_ values: [JSONValue], sign: Int64) {
        count += Int(sign) * values.count
        for v in values {
            switch v {
            case .int(let i):
                let (r, o) = sign > 0 ? intSum.addingReportingOverflow(i) : intSum.subtractingReportingOverflow(i)
                if o { inexact += Int(sign) } else { intSum = r }
            case .double: inexact += Int(sign)
            default: break
            }
            if let operand = literalOperand, aggregate.op!.holds(v, operand) { passing += Int(sign) }
        }
    }

    /// min / max: the selected numbers in a heap, best first (ties: the first in selection
    /// order, as `Invariant.compute` picks), entries of a stream's earlier selections skipped
    /// when they reach the top — so a changed stream costs O(log n), not a pass over all of them.
    var heap: ExtremeHeap

    mutating func update(_ key: StreamKey, document: JSONValue?) {
        if let old = contributions.removeValue(forKey: key) { account(old, sign: -1) }
        let isExtreme = aggregate.kind == .min || aggregate.kind == .max
        if isExtreme { heap.retire(key) }
        guard let document else { return }
        let selected = aggregate.path.select(in: document)
        guard !selected.isEmpty else { return }
        contributions[key] = selected
        account(selected, sign: 1)
        if isExtreme { heap.add(key, selected) }
    }

    var orderedSelection: [JSONValue] { contributions.keys.sorted().flatMap { contributions[$0]! } }

    mutating func value(state: State, aggregates: [JSONValue]) -> JSONValue {
        switch aggregate.kind {
        case .count: return .int(Int64(count))
        case .sum where inexact == 0: return .int(intSum)
        case .all where literalOperand != nil: return .bool(passing == count)
        case .any where literalOperand != nil: return .bool(passing > 0)
        case .min, .max: return heap.best()
        default: return Invariant.compute(aggregate, selection: orderedSelection, state: state, aggregates: aggregates)
        }
    }
}

/// The numbers min / max selects, best first, with lazy removal: a stream's entries carry the
/// generation of its selection, and those of an earlier one are dropped when they reach the top.
struct ExtremeHeap {
    struct Entry {
        var number: Double
        var key: StreamKey
        var index: Int
        var value: JSONValue
        var generation: Int
    }
    private var entries: [Entry] = []
    private var generations: [StreamKey: Int] = [:]
    private var live = 0
    private var liveOf: [StreamKey: Int] = [:]
    private let isMax: Bool

    init(max: Bool) { isMax = max }

    /// a before b: the better number, or on a tie the first in selection order (stream, index).
    private func before(_ a: Entry, _ b: Entry) -> Bool {
        if a.number != b.number { return isMax ? a.number > b.number : a.number < b.number }
        if !(a.key == b.key) { return a.key < b.key }
        return a.index < b.index
    }

    mutating func retire(_ key: StreamKey) {
        generations[key, default: 0] += 1
        live -= liveOf.removeValue(forKey: key) ?? 0
    }

    mutating func add(_ key: StreamKey, _ values: [JSONValue]) {
        let g = generations[key, default: 0]
        var n = 0
        for (i, v) in values.enumerated() {
            guard let number = v.numberValue else { continue }
            push(Entry(number: number, key: key, index: i, value: v, generation: g))
            n += 1
        }
        live += n
        liveOf[key] = n
        // Stale entries outnumbering live ones: rebuild from the live ones.
        if entries.count > 2 * live + 1024 {
            let kept = entries.filter { generations[$0.key, default: 0] == $0.generation }
            entries = []
            for e in kept { push(e) }
        }
    }

    mutating func best() -> JSONValue {
        while let top = entries.first, generations[top.key, default: 0] != top.generation { pop() }
        return entries.first?.value ?? .null
    }

    private mutating func push(_ e: Entry) {
        entries.append(e)
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard before(entries[i], entries[parent]) else { break }
            entries.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func pop() {
        entries.swapAt(0, entries.count - 1)
        entries.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < entries.count, before(entries[l], entries[m]) { m = l }
            if r < entries.count, before(entries[r], entries[m]) { m = r }
            guard m != i else { return }
            entries.swapAt(i, m)
            i = m
        }
    }
}
