import Foundation
import RewindCore

/// What happened in the explorer (actions are named for what the user did).
public enum ExplorerAction: Sendable, Equatable {
    case stepForward, stepBackward
    case jump(seconds: Int64)
    case goToStart, goToEnd
    case openGoto, toggleHelp
    case openInvariant
    case nextBreak, previousBreak
    case openSearch
    case nextMatch, previousMatch
    /// The next event of the selected stream.
    case nextEventOfStream
    /// Field provenance: go to the event that last set the field under the document cursor
    /// (again: the one that set it before).
    case fieldProvenance
    /// The causation view: the event at the cursor, the chain of events that caused it (by
    /// `meta.causationId`) and what it caused in turn (again: back to the document).
    case toggleCausation
    /// The saga view: every event of the cursor event's `meta.sagaId`, with each step's command,
    /// attempt and compensation, and the saga flagged when stuck or half-applied.
    case toggleSaga
    /// Go to the first event of the next saga (after the cursor).
    case nextSaga
    /// The deliveries view: every event the cursor event's message (`meta.messageId`) left,
    /// delivery by delivery — attempts, consumers, duplicates suppressed, dead letters.
    case toggleDeliveries
    /// The projection-lag view: `data.lagMs` of the read model's events over time.
    case toggleLag
    /// Show every strategy's cost at the cursor (again: back to the document).
    case toggleStrategies
    /// Let the next strategy drive the view (diff → undo → squash → cache → diff).
    case switchStrategy
    /// Check the cache against a full replay.
    case verifyCache
    /// Follow a growing log: the head advances as lines are appended.
    case toggleFollow
    /// Time passed (the terminal polls twice a second).
    case ticked
    /// Arrow keys move in the streams list or in the document.
    case toggleFocus
    case moveTreeCursor(by: Int)
    /// Fold or unfold the container under the document cursor.
    case toggleNode
    /// Show the document, or the changes since the previous event (or the mark).
    case toggleDiff
    /// Pin the cursor's position as the mark the diff compares against (again: unpin).
    case toggleMark
    case selectNextStream, selectPreviousStream
    case typed(Character), erased, submitted, cancelled
    case resized(width: Int, height: Int)
    case clickedTimeline(x: Int)
    case quit
}

/// The explorer's whole state: everything a view needs besides the data.
public struct ExplorerState: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        case normal
        case goto(text: String)
        case invariant(text: String)
        case search(text: String)
        case help
    }

    /// Events applied (0 … count).
    public var position = 0
    public var count = 0
    public var selected: StreamKey?
    public var mode: Mode = .normal
    /// The document pane shows changes instead of the document.
    public var showDiff = false
    /// A pinned position the diff compares against (else: the previous event).
    public var mark: Int?
    /// The invariant set with `i`, and the positions where it turns false.
    public var invariant: String?
    public var breaks: [Int] = []
    /// The search set with `/`, and the timeline indices of its matches.
    public var search: String?
    public var matches: [Int] = []
    /// The document pane shows the strategies at the cursor.
    public var showStrategies = false
    /// The document pane shows the causation of the event at the cursor.
    public var showCausation = false
    /// The document pane shows the saga of the event at the cursor.
    public var showSaga = false
    public var showDeliveries = false
    public var showLag = false
    public var follow = false
    /// Which pane the arrow keys move in.
    public var focusOnDocument = false
    /// The tree row the document cursor is on, and the folded containers (JSON Pointers).
    public var treeRow = 0
    /// The field whose provenance was last followed, and the event found (so `p` again goes
    /// further back).
    public var provenance: (pointer: String, position: Int)? {
        get { provenanceField.map { ($0, provenancePosition) } }
        set { provenanceField = newValue?.pointer; provenancePosition = newValue?.position ?? 0 }
    }
    var provenanceField: String?
    var provenancePosition = 0
    public var collapsed: Set<JSONKey> = []
    public var drivingStrategy = "diff"
    public var message: String?
    public var width: Int
    public var height: Int
    public var quit = false

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }
}

/// The explorer: state + data + `update`. Views draw it into a `ScreenBuffer`. The state at the
/// cursor is a `StateView` over the timeline index: a step applies one event's diff to it, a
/// jump reaches the new position through the driving strategy, and a document is read only
/// when a pane draws it.
public final class Explorer {
    public let data: any ExplorerData
    public private(set) var state: ExplorerState
    /// The state at `state.position`.
    public private(set) var current: StateView
    var directory: StreamDirectory
    public var ascii = false

    public init(data: any ExplorerData, width: Int, height: Int) throws {
        self.data = data
        state = ExplorerState(width: width, height: height)
        let index = data.index
        state.count = index.count
        state.drivingStrategy = data.drivingStrategy
        current = StateView(index: index, versions: index.head, position: index.count)
        directory = StreamDirectory(index: index, versions: current.versions)
        state.position = index.count
        try select(afterMovingTo: index.count)
    }

    var index: TimelineIndex { data.index }

    /// The cursor's time: the timestamp of the last event applied (the first event's at 0).
    public func cursorTime() throws -> Timestamp? {
        guard state.count > 0 else { return nil }
        return try data.event(at: max(0, state.position - 1)).ts
    }

    /// Sets (or, with empty text, clears) the invariant and finds where it breaks.
    func setInvariant(_ text: String) throws {
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            state.invariant = nil
            state.breaks = []
            state.message = "invariant cleared"
            return
        }
        let invariant: Invariant
        do throws(InvariantSyntaxError) {
            invariant = try Invariant(text)
        } catch {
            state.message = "invariant: \(error)"
            return
        }
        state.invariant = text
        let bisector = Bisector(invariant: invariant)
        state.breaks = try bisector.breaks(events: state.count, transitions: bisector.transitions(of: index))
        if let first = state.breaks.first {
            try move(to: first)
            state.message = "breaks \(state.breaks.count) time\(state.breaks.count == 1 ? "" : "s"); first at position \(first) (x / X: next / previous)"
        } else {
            state.message = "holds at every position"
        }
    }

    /// The id of the selected stream.
    var selectedID: UInt32? { state.selected.flatMap { index.streamID(service: $0.service, stream: $0.stream) } }

    /// The selected stream's document as tree rows.
    public func documentRows() throws -> [DocumentTree.Row] {
        guard let id = selectedID, let doc = try current.document(of: id) else { return [] }
        return DocumentTree.rows(doc, collapsed: state.collapsed, ascii: ascii)
    }

    /// The selected stream's document.
    public func selectedDocument() throws -> JSONValue? {
        guard let id = selectedID else { return nil }
        return try current.document(of: id)
    }

    /// Services with a stream that exists at the cursor.
    public var serviceCount: Int { directory.serviceCount }

    /// The streams pane's rows around the selected stream.
    func streamRows(height: Int) -> [StreamDirectory.Row] {
        directory.rows(around: selectedID, height: height, in: current.versions)
    }

    private var columnCache: [String: (width: Int, count: Int, indices: [Int], columns: [Int])] = [:]

    /// Scrubber columns of timeline indices (by their events' times), computed once per set of
    /// indices, width and timeline length: a redraw never reads marked events one by one.
    public func scrubberColumns(_ name: String, _ indices: [Int]) throws -> [Int] {
        let w = state.width, n = state.count
        if let c = columnCache[name], c.width == w, c.count == n, c.indices == indices { return c.columns }
        var columns: [Int] = []
        if n > 0, !indices.isEmpty {
            let ends = try data.timestamps(of: [0, n - 1])
            columns = try data.timestamps(of: indices).map { t in
                Int(t.fraction(from: ends[0], to: ends[1]) * Double(max(0, w - 1)) + 0.5)
            }
        }
        columnCache[name] = (w, n, indices, columns)
        return columns
    }

    private var markerCache: (width: Int, count: Int, cells: [(Int, TimelineMarker.Kind)])?

    /// The scrubber's marker row: one marker per column (an irreversible event wins a column,
    /// then a backwards timestamp, then a duplicate), computed once per width and timeline length.
    public func markerCells() throws -> [(Int, TimelineMarker.Kind)] {
        let w = state.width, n = state.count
        if let c = markerCache, c.width == w, c.count == n { return c.cells }
        let markers = try data.markers().filter { $0.index < n }
        let columns = index.columns(of: markers.map(\.index), width: w)
        var best: [Int: TimelineMarker.Kind] = [:]
        for (m, x) in zip(markers, columns) where m.kind == .backwards || best[x] == nil { best[x] = m.kind }
        for (x, marked) in index.irreversibleColumns(width: w).enumerated() where marked { best[x] = .irreversible }
        try index.image.check()
        let cells = best.keys.sorted().map { ($0, best[$0]!) }
        markerCache = (w, n, cells)
        return cells
    }

    private var strategyCache: (position: Int, outcomes: [StrategyRun])?

    /// Every strategy at the cursor (computed once per position).
    public func strategies() throws -> [StrategyRun] {
        if let c = strategyCache, c.position == state.position { return c.outcomes }
        let outcomes = try data.compareStrategies(at: state.position)
        strategyCache = (state.position, outcomes)
        return outcomes
    }

    /// One event of a causation chain, at its depth (0: the root).
    public struct CausationNode: Equatable {
        public var depth: Int
        public var event: Event
        public var isCursor: Bool
        public static func == (a: CausationNode, b: CausationNode) -> Bool {
            a.depth == b.depth && a.isCursor == b.isCursor && a.event.id.sameCodePoints(b.event.id)
        }
    }

    private var causationCache: (position: Int, nodes: [CausationNode])?
    /// How far the causation view walks: ancestors, generations of consequences, nodes.
    static let causationDepth = 16, consequenceDepth = 3, causationNodes = 40

    /// The event at the cursor with its causes (root first) and its consequences (depth first),
    /// found by `meta.causationId`, compared by code points.
    public func causation() throws -> [CausationNode] {
        if let c = causationCache, c.position == state.position { return c.nodes }
        guard state.position > 0 else { return [] }
        func cause(of e: Event) -> String? {
            guard case .string(let id)? = e.meta?["causationId"], !id.sameCodePoints(e.id) else { return nil }
            return id
        }
        func mentioning(_ id: String) throws -> [Event] {
            try data.search(EventQuery(words: [id])).prefix(200).map { try data.event(at: $0) }
        }
        let here = try data.event(at: state.position - 1)
        var chain = [here]
        var seen: Set<JSONKey> = [JSONKey(here.id)]
        while chain.count <= Explorer.causationDepth, let id = cause(of: chain[0]), !seen.contains(JSONKey(id)),
              let parent = try mentioning(id).first(where: { $0.id.sameCodePoints(id) }) {
            seen.insert(JSONKey(id))
            chain.insert(parent, at: 0)
        }
        var nodes = chain.enumerated().map { CausationNode(depth: $0.offset, event: $0.element, isCursor: $0.offset == chain.count - 1) }
        func consequences(of e: Event, depth: Int) throws {
            guard depth - chain.count < Explorer.consequenceDepth else { return }
            for child in try mentioning(e.id) where nodes.count < Explorer.causationNodes {
                guard let c = cause(of: child), c.sameCodePoints(e.id), !seen.contains(JSONKey(child.id)) else { continue }
                seen.insert(JSONKey(child.id))
                nodes.append(CausationNode(depth: depth, event: child, isCursor: false))
                try consequences(of: child, depth: depth + 1)
            }
        }
        try consequences(of: here, depth: chain.count)
        causationCache = (state.position, nodes)
        return nodes
    }

    /// One saga as its events tell it.
    public struct SagaReport: Equatable {
        public struct Step: Equatable {
            public var position: Int
            public var event: Event
            public var command: String
            public var attempt: Int
            public var isCompensation: Bool
            public static func == (a: Step, b: Step) -> Bool { a.position == b.position && a.command.sameCodePoints(b.command) }
        }
        public var id: String
        public var steps: [Step]
        /// completed, compensated, rejected — or stuck (no ending event).
        public var outcome: String
        /// Problems: money that left an account and did not arrive, a saga that never ended.
        public var flags: [String]
        public static func == (a: SagaReport, b: SagaReport) -> Bool { a.id.sameCodePoints(b.id) && a.steps == b.steps && a.outcome == b.outcome }
    }

    private var sagaCache: (position: Int, report: SagaReport?)?

    static func sagaID(of e: Event) -> String? {
        guard case .string(let id)? = e.meta?["sagaId"] else { return nil }
        return id
    }

    /// The saga of the event at the cursor (nil: it has no `meta.sagaId`). Money moved by its
    /// `MoneyDebited` / `MoneyCredited` events (their `data.amount`) must balance once it ends.
    public func saga() throws -> SagaReport? {
        if let c = sagaCache, c.position == state.position { return c.report }
        guard state.position > 0, let id = Explorer.sagaID(of: try data.event(at: state.position - 1)) else {
            sagaCache = (state.position, nil)
            return nil
        }
        var steps: [SagaReport.Step] = []
        for p in try data.search(EventQuery(words: [id])).prefix(500) {
            let e = try data.event(at: p)
            guard let sid = Explorer.sagaID(of: e), sid.sameCodePoints(id) else { continue }
            var attempt = 1
            if case .int(let a)? = e.meta?["attempt"] { attempt = Int(a) }
            let command = e.meta?["commandId"]?.stringValue ?? ""
            let compensation = e.data["compensation"] == .bool(true) || command.hasSuffix("-compensate") || e.type.hasSuffix("Compensated")
            steps.append(.init(position: p, event: e, command: command, attempt: attempt, isCompensation: compensation))
        }
        var net: Double = 0
        for s in steps {
            let amount = s.event.data["amount"]?.numberValue ?? 0
            if s.event.type.sameCodePoints("MoneyDebited") { net -= amount }
            if s.event.type.sameCodePoints("MoneyCredited") { net += amount }
        }
        let types = steps.map(\.event.type)
        let outcome = types.contains { $0.hasSuffix("Completed") } ? "completed"
            : types.contains { $0.hasSuffix("Compensated") } ? "compensated"
            : types.contains { $0.hasSuffix("Rejected") } ? "rejected" : "stuck"
        var flags: [String] = []
        if outcome == "stuck" { flags.append("never ended: no completion, compensation or rejection in the log") }
        if net != 0 {
            let amount = JSONValue.double(abs(net)).jsonText
            flags.append(net < 0 ? "half-applied: \(amount) left an account and arrived nowhere" : "half-applied: \(amount) arrived from nowhere")
        }
        let retries = steps.filter { $0.attempt > 1 }.count
        if retries > 0 { flags.append("\(retries) step\(retries == 1 ? "" : "s") delivered more than once (handled idempotently)") }
        let report = SagaReport(id: id, steps: steps, outcome: outcome, flags: flags)
        sagaCache = (state.position, report)
        return report
    }

    /// What one message's deliveries left in the log.
    public struct DeliveryReport: Equatable {
        public struct Row: Equatable {
            public var position: Int
            public var id: String
            public var type: String
            public var attempt: Int
            public var consumer: String
            public var outcome: String
        }
        public var messageId: String
        public var rows: [Row]
        public var applied: Int { rows.filter { $0.outcome == "applied" }.count }
    }

    private var deliveryCache: (position: Int, report: DeliveryReport?)?

    /// The deliveries of the message that caused the event at the cursor (nil: none did).
    public func deliveries() throws -> DeliveryReport? {
        if let c = deliveryCache, c.position == state.position { return c.report }
        var report: DeliveryReport?
        if state.position > 0, case .string(let id)? = try data.event(at: state.position - 1).meta?["messageId"] {
            var rows: [DeliveryReport.Row] = []
            for p in try data.search(EventQuery(words: [id])).prefix(500) {
                let e = try data.event(at: p)
                guard case .string(let m)? = e.meta?["messageId"], m.sameCodePoints(id) else { continue }
                var attempt = 1
                if case .int(let a)? = e.meta?["attempt"] { attempt = Int(a) }
                let outcome = e.type.sameCodePoints("DuplicateSuppressed") ? "suppressed by dedup"
                    : e.type.sameCodePoints("DeadLettered") ? "dead-lettered" : "applied"
                rows.append(.init(position: p, id: e.id, type: e.type, attempt: attempt,
                                  consumer: e.data["worker"]?.stringValue ?? e.service, outcome: outcome))
            }
            report = DeliveryReport(messageId: id, rows: rows)
        }
        deliveryCache = (state.position, report)
        return report
    }

    /// A read model's lag over the log: the largest `data.lagMs` per time bucket.
    public struct LagReport: Equatable {
        /// Events read, and how many report a lag (more than read: a sample was taken).
        public var events: Int
        public var found = 0
        public var buckets: [Int64?]
        public var max: Int64
        public var maxAt: Timestamp?
        public var median: Int64
    }

    private var lagCache: (count: Int, width: Int, report: LagReport)?

    static let lagSample = 4_000

    /// `data.lagMs` of the events that report one (a sample of `lagSample` when more do), in
    /// `width` time buckets.
    public func lag(width: Int) throws -> LagReport {
        if let c = lagCache, c.count == state.count, c.width == width { return c.report }
        // Every event that mentions lagMs is found by one search; at most `lagSample` of them,
        // spread evenly over the log, are read (each read is a store query: 70 000 took 7 s).
        let found = try data.search(EventQuery(words: ["lagMs"]))
        let step = max(1, (found.count + Explorer.lagSample - 1) / Explorer.lagSample)
        var values: [(Timestamp, Int64)] = []
        for p in stride(from: 0, to: found.count, by: step).map({ found[$0] }) {
            let e = try data.event(at: p)
            if case .int(let v)? = e.data["lagMs"] { values.append((e.ts, v)) }
        }
        var buckets = [Int64?](repeating: nil, count: max(1, width))
        var report = LagReport(events: values.count, buckets: buckets, max: 0, maxAt: nil, median: 0)
        report.found = found.count
        if let first = values.first?.0, let last = values.last?.0 {
            for (t, v) in values {
                let i = min(buckets.count - 1, Int(t.fraction(from: first, to: last) * Double(buckets.count)))
                buckets[i] = Swift.max(buckets[i] ?? 0, v)
                if v > report.max || report.maxAt == nil { report.max = v; report.maxAt = t }
            }
            report.buckets = buckets
            report.median = values.map(\.1).sorted()[values.count / 2]
        }
        lagCache = (state.count, width, report)
        return report
    }

    /// The first event of the next saga after the cursor.
    func goToNextSaga() throws {
        let current = state.position > 0 ? Explorer.sagaID(of: try data.event(at: state.position - 1)) : nil
        var seen: Set<JSONKey> = current.map { [JSONKey($0)] } ?? []
        for p in try data.search(EventQuery(words: ["sagaId"])) where p >= state.position {
            guard let id = Explorer.sagaID(of: try data.event(at: p)) else { continue }
            if seen.contains(JSONKey(id)) { continue }
            seen.insert(JSONKey(id))
            // Its first event, wherever the saga began.
            let first = try data.search(EventQuery(words: [id])).first { (try? Explorer.sagaID(of: data.event(at: $0)))??.sameCodePoints(id) == true } ?? p
            if first < state.position - 1 { continue }
            try move(to: first + 1)
            state.message = "saga \(id)"
            return
        }
        state.message = "no later saga"
    }

    private var diffCache: (position: Int, mark: Int?, changes: [PathChange])?

    /// The changes the diff view shows: since the mark when one is pinned, else since the
    /// previous event. Only the streams whose versions differ are read.
    public func changes() throws -> [PathChange] {
        if let c = diffCache, c.position == state.position, c.mark == state.mark { return c.changes }
        var result: [PathChange] = []
        if let mark = state.mark {
            let before = StateView(index: index, versions: try data.reach(mark), position: mark)
            var differing: [UInt32] = []
            current.versions.forEachDifference(from: before.versions) { id, _, _ in differing.append(id) }
            var keyed: [(StreamKey, UInt32)] = []
            for id in differing { keyed.append((try index.streamKey(id), id)) }
            for (key, id) in keyed.sorted(by: { $0.0 < $1.0 }) {
                result += StateDiff.changes(from: try before.document(of: id), to: try current.document(of: id),
                                            path: "\(key.service)/\(key.stream)")
            }
        } else if state.position > 0 {
            let t = try index.transition(at: state.position - 1)
            result = StateDiff.changes(from: t.before, to: t.after, path: "\(t.key.service)/\(t.key.stream)")
        }
        diffCache = (state.position, state.mark, result)
        return result
    }

    /// Steps within this many events apply their diffs to the state at hand; farther moves
    /// reach the position through the driving strategy.
    static let stepLimit = 2000

    func move(to position: Int) throws {
        let p = max(0, min(state.count, position))
        let old = current.versions
        var versions = old
        if abs(p - state.position) <= Explorer.stepLimit {
            if p > state.position { index.apply(state.position..<p, backward: false, to: &versions) }
            if p < state.position { index.apply(p..<state.position, backward: true, to: &versions) }
        } else {
            versions = try data.reach(p)
        }
        try index.image.check()
        current = StateView(index: index, versions: versions, position: p)
        directory.move(from: old, to: versions)
        state.position = p
        try select(afterMovingTo: p)
    }

    /// The most events of one stream walked back to find who set a field.
    static let provenanceLimit = 200_000

    /// Finds the last event at or before the cursor (or before the last one found, when `p` is
    /// pressed again on the same field) that changed the field under the document cursor, and
    /// goes there: the state right after it, with what it changed in the message.
    func followProvenance() throws {
        guard let key = state.selected, let id = selectedID else { state.message = "select a stream first (j / k)"; return }
        let rows = try documentRows()
        guard !rows.isEmpty else { state.message = "\(key.service)/\(key.stream) has no document here"; return }
        let row = rows[min(state.treeRow, rows.count - 1)]
        guard !row.pointer.isEmpty, let pointer = JSONPointer(row.pointer) else {
            state.message = "move the document cursor to a field (Tab, then j / k)"
            return
        }
        var bound = state.position
        if let last = state.provenance, last.pointer.sameCodePoints(row.pointer), last.position == state.position { bound = state.position - 1 }
        var candidate = index.previousEvent(of: id, before: bound)
        var walked = 0
        while let p = candidate, walked < Explorer.provenanceLimit {
            walked += 1
            let t = try index.transition(at: p)
            let before = t.before?.value(at: pointer), after = t.after?.value(at: pointer)
            if before != after {
                try move(to: p + 1)
                state.provenance = (row.pointer, p + 1)
                // The cursor stays on the field, wherever its row is in the document then.
                if let at = try documentRows().firstIndex(where: { $0.pointer.sameCodePoints(row.pointer) }) { state.treeRow = at }
                let e = try data.event(at: p)
                func show(_ v: JSONValue?) -> String { v.map { String($0.jsonText.prefix(40)) } ?? "(absent)" }
                state.message = "\(row.pointer) set by \(e.type) \(e.id) (line \(e.line), \(e.ts.rfc3339)): \(show(before)) → \(show(after)); p: the one before"
                return
            }
            candidate = index.previousEvent(of: id, before: p)
        }
        state.message = candidate == nil
            ? "no earlier event of \(key.service)/\(key.stream) changed \(row.pointer)"
            : "\(row.pointer): not found in the last \(walked) events of the stream"
    }

    /// Follow the stream the last event changed; keep the selection otherwise, if it still exists.
    private func select(afterMovingTo p: Int) throws {
        if p > 0 {
            let e = try data.event(at: p - 1)
            let key = StreamKey(service: e.service, stream: e.stream)
            if let id = index.streamID(service: e.service, stream: e.stream), current.exists(id) {
                state.selected = key
                return
            }
        }
        if let id = selectedID, current.exists(id) { return }
        state.selected = try directory.nearest(selectedID, in: current.versions).map { try index.streamKey($0) }
    }

    /// What a key does in the current mode.
    public func action(for key: Key) -> ExplorerAction? {
        if case .resize(let w, let h) = key { return .resized(width: w, height: h) }
        if case .ctrl("c") = key { return .quit }
        switch state.mode {
        case .goto, .invariant, .search:
            switch key {
            case .enter: return .submitted
            case .escape: return .cancelled
            case .backspace: return .erased
            case .char(let c): return .typed(c)
            default: return nil
            }
        case .help:
            if key == .char("q") { return .quit }
            return .toggleHelp  // any key closes the help
        case .normal:
            if case .mouseClick(let x, let y) = key, y == 1 || y == 2 { return .clickedTimeline(x: x) }
            if state.focusOnDocument {
                switch key {
                case .up, .char("k"): return .moveTreeCursor(by: -1)
                case .down, .char("j"): return .moveTreeCursor(by: 1)
                case .enter, .char(" "): return .toggleNode
                default: break
                }
            }
            return KeyBindings.action(for: key)
        }
    }

    public func handle(_ key: Key) throws {
        if let a = action(for: key) { try update(a) }
    }

    /// Applies an action.
    public func update(_ action: ExplorerAction) throws {
        state.message = nil
        switch action {
        case .stepForward:
            if state.position < state.count { try move(to: state.position + 1) } else { state.message = "at the last event" }
        case .stepBackward:
            if state.position > 0 { try move(to: state.position - 1) } else { state.message = "at the start" }
        case .jump(let seconds):
            guard let t = try cursorTime() else { return }
            let target = t.adding(seconds: seconds)
            var p = try data.position(at: target)
            if seconds < 0 && p >= state.position { p = max(0, state.position - 1) }
            if seconds > 0 && p <= state.position { p = min(state.count, state.position + 1) }
            try move(to: p)
        case .goToStart: try move(to: 0)
        case .goToEnd: try move(to: state.count)
        case .openGoto: state.mode = .goto(text: "")
        case .toggleHelp: state.mode = state.mode == .help ? .normal : .help
        case .toggleDiff:
            state.showDiff.toggle()
            if state.showDiff { state.showStrategies = false }
        case .toggleMark:
            if state.mark == state.position {
                state.mark = nil
                state.message = "mark removed"
            } else {
                state.mark = state.position
                state.showDiff = true
                state.message = "mark pinned at position \(state.position); the diff compares against it"
            }
        case .selectNextStream, .selectPreviousStream:
            guard let id = selectedID ?? directory.nearest(nil, in: current.versions) else { return }
            let next = directory.neighbour(of: id, by: action == .selectNextStream ? 1 : -1, in: current.versions) ?? id
            state.selected = try index.streamKey(next)
        case .openInvariant: state.mode = .invariant(text: "")
        case .openSearch: state.mode = .search(text: "")
        case .nextMatch, .previousMatch:
            // A match is shown as the current event: the cursor goes just after it.
            let current = state.position - 1
            let candidates = action == .nextMatch ? state.matches.filter { $0 > current } : state.matches.filter { $0 < current }.reversed()
            guard let target = candidates.first else {
                state.message = state.matches.isEmpty ? "no matches (search with /)" : "no more matches that way"
                return
            }
            try move(to: target + 1)
            state.message = "match \((state.matches.firstIndex(of: target) ?? 0) + 1) of \(state.matches.count)"
        case .toggleStrategies:
            state.showStrategies.toggle()
            if state.showStrategies { state.showDiff = false }
        case .switchStrategy:
            // The index's strategies drive the view (replay reaches no versions to draw from).
            let names = Array(Strategies.names.dropFirst())
            let next = names[((names.firstIndex(of: data.drivingStrategy) ?? -1) + 1) % names.count]
            data.drivingStrategy = next
            state.drivingStrategy = next
            state.message = "\(next) now reaches the positions you jump to"
        case .verifyCache:
            state.message = try data.verifyCache()
        case .toggleFocus:
            state.focusOnDocument.toggle()
            state.treeRow = 0
            state.message = state.focusOnDocument ? "document: ↑/↓ move, Enter folds or unfolds; Tab back to streams" : nil
        case .moveTreeCursor(let delta):
            state.treeRow = max(0, min(try documentRows().count - 1, state.treeRow + delta))
        case .toggleNode:
            let rows = try documentRows()
            guard state.treeRow < rows.count, rows[state.treeRow].isContainer else { return }
            let pointer = rows[state.treeRow].pointer
            let key = JSONKey(pointer)
            if state.collapsed.contains(key) { state.collapsed.remove(key) } else { state.collapsed.insert(key) }
        case .toggleFollow:
            state.follow.toggle()
            state.message = state.follow ? "following the log: new events appear as they are appended" : "stopped following"
            if state.follow { try update(.ticked) }
        case .ticked:
            guard state.follow, try data.refresh() else { return }
            let atHead = state.position == state.count
            let before = state.count, wasAt = state.position
            state.count = index.count
            diffCache = nil
            strategyCache = nil
            columnCache = [:]
            markerCache = nil
            // The timeline may have been rebuilt, not only grown: start from the new index's head.
            current = StateView(index: index, versions: index.head, position: index.count)
            directory = StreamDirectory(index: index, versions: current.versions)
            state.position = index.count
            try move(to: atHead ? state.count : min(wasAt, state.count))
            state.message = "following: \(state.count - before) new event\(state.count - before == 1 ? "" : "s")"
        case .nextEventOfStream:
            guard let key = state.selected, let id = selectedID else { return }
            guard let next = index.nextEvent(of: id, from: state.position) else {
                state.message = "no later event of \(key.service)/\(key.stream)"
                return
            }
            try move(to: next + 1)
        case .fieldProvenance:
            try followProvenance()
        case .toggleCausation:
            state.showCausation.toggle()
            if state.showCausation { state.showDiff = false; state.showStrategies = false; state.showSaga = false; state.showDeliveries = false; state.showLag = false }
        case .toggleSaga:
            state.showSaga.toggle()
            if state.showSaga { state.showDiff = false; state.showStrategies = false; state.showCausation = false; state.showDeliveries = false; state.showLag = false }
        case .nextSaga:
            try goToNextSaga()
        case .toggleDeliveries:
            state.showDeliveries.toggle()
            if state.showDeliveries { state.showDiff = false; state.showStrategies = false; state.showCausation = false; state.showSaga = false; state.showLag = false }
        case .toggleLag:
            state.showLag.toggle()
            if state.showLag { state.showDiff = false; state.showStrategies = false; state.showCausation = false; state.showSaga = false; state.showDeliveries = false }
        case .nextBreak, .previousBreak:
            let candidates = action == .nextBreak ? state.breaks.filter { $0 > state.position } : state.breaks.filter { $0 < state.position }.reversed()
            guard let target = candidates.first else {
                state.message = state.breaks.isEmpty ? "no invariant breaks (set one with i)" : "no more breaks that way"
                return
            }
            try move(to: target)
            state.message = "invariant breaks here (break \((state.breaks.firstIndex(of: target) ?? 0) + 1) of \(state.breaks.count))"
        case .typed(let c):
            if case .goto(let text) = state.mode, text.count < 64 { state.mode = .goto(text: text + String(c)) }
            if case .invariant(let text) = state.mode, text.count < 400 { state.mode = .invariant(text: text + String(c)) }
            if case .search(let text) = state.mode, text.count < 200 { state.mode = .search(text: text + String(c)) }
        case .erased:
            if case .goto(let text) = state.mode { state.mode = .goto(text: String(text.dropLast())) }
            if case .invariant(let text) = state.mode { state.mode = .invariant(text: String(text.dropLast())) }
            if case .search(let text) = state.mode { state.mode = .search(text: String(text.dropLast())) }
        case .cancelled:
            state.mode = .normal
        case .submitted:
            if case .invariant(let text) = state.mode {
                state.mode = .normal
                try setInvariant(text)
                return
            }
            if case .search(let text) = state.mode {
                state.mode = .normal
                let query = EventQuery(text)
                guard !query.isEmpty else {
                    state.search = nil
                    state.matches = []
                    state.message = "search cleared"
                    return
                }
                state.search = text
                state.matches = try data.search(query)
                if state.matches.isEmpty {
                    state.message = "no event matches \(text)"
                } else {
                    let target = state.matches.first { $0 >= state.position } ?? state.matches[0]
                    try move(to: target + 1)
                    state.message = "\(state.matches.count) match\(state.matches.count == 1 ? "" : "es"); n / N: next / previous"
                }
                return
            }
            guard case .goto(let text) = state.mode else { return }
            state.mode = .normal
            // The words `state --at` takes: start (the state at the first event's time), end.
            switch text.trimmingCharacters(in: .whitespaces).lowercased() {
            case "start" where state.count > 0:
                let first = try data.event(at: 0).ts
                try move(to: try data.position(at: first))
                state.message = "went to the start, \(first.rfc3339)"
                return
            case "end", "now", "latest":
                try move(to: state.count)
                state.message = "went to the end"
                return
            default: break
            }
            let t: Timestamp
            do throws(TimestampError) {
                t = try Timestamp.parse(text)
            } catch {
                state.message = "cannot go there: \(error.message)"
                return
            }
            try move(to: try data.position(at: t))
            state.message = "went to \(t.rfc3339)"
        case .resized(let w, let h):
            state.width = w
            state.height = h
        case .clickedTimeline(let x):
            guard state.count > 0, state.width > 1 else { return }
            // The scrubber spans the log's time range, as the sparkline does.
            let first = try data.event(at: 0).ts, last = try data.event(at: state.count - 1).ts
            let t = Timestamp.between(first, last, fraction: Double(max(0, min(x, state.width - 1))) / Double(state.width - 1))
            try move(to: try data.position(at: t))
        case .quit:
            state.quit = true
        }
    }
}

