import Foundation
import RewindCore

/// The explorer: its state, the data it reads, and `update`, which applies an action and returns
/// the effects for a driver to run (`ExplorerDriver`): long work — search, invariant breaks,
/// strategy comparison, verification — runs off the key loop and comes back as actions; so does
/// copying to the clipboard and reading the log's end in follow mode. What `update` reads itself is bounded: the
/// state at the cursor is a `StateView` over the memory-mapped timeline index, a step applies one
/// event's diff to it, a jump reaches the new position through the driving strategy (a keyframe
/// and at most 4 096 diffs), and a document is read only when a pane draws it.
public final class Explorer {
    public let data: any ExplorerData
    public internal(set) var state: ExplorerState
    /// The state at `state.position`.
    public private(set) var current: StateView
    var directory: StreamDirectory
    public var ascii = false

    /// Views computed once and kept while what they depend on stays the same.
    struct Caches {
        var causation: (position: Int, nodes: [CausationNode])?
        var saga: (position: Int, report: SagaReport?)?
        var deliveries: (position: Int, report: DeliveryReport?)?
        var lag: (count: Int, width: Int, report: LagReport)?
        var diff: (position: Int, mark: Int?, changes: [PathChange])?
        var columns: [String: (width: Int, count: Int, zoom: Range<Int>?, indices: [Int], columns: [Int])] = [:]
        /// Per zoom (kept for a few, so zooming back out is at once).
        var markers: [Range<Int>?: (width: Int, count: Int, irreversible: [Int], cells: [(Int, TimelineMarker.Kind)], counts: [TimelineMarker.Kind: Int])] = [:]
        var filter: (text: String, count: Int, ids: [UInt32])?
        var recent: (position: Int, rows: [OverviewRow])?
    }
    var caches = Caches()

    public init(data: any ExplorerData, width: Int, height: Int) throws {
        self.data = data
        state = ExplorerState(width: width, height: height)
        let index = data.index
        state.count = index.count
        state.drivingStrategy = data.drivingStrategy
        current = StateView(index: index, versions: index.head, position: index.count)
        directory = StreamDirectory(index: index, versions: current.versions)
        state.position = index.count
        // At first, the stream of the last event is selected; from then on the user chooses.
        if index.count > 0 {
            let e = try data.event(at: index.count - 1)
            state.selected = StreamKey(service: e.service, stream: e.stream)
        }
    }

    var index: TimelineIndex { data.index }

    /// The cursor's time: the timestamp of the last event applied (the first event's at 0).
    public func cursorTime() throws -> Timestamp? {
        guard state.count > 0 else { return nil }
        return try data.event(at: max(0, state.position - 1)).ts
    }

    /// The id of the selected stream.
    var selectedID: UInt32? { state.selected.flatMap { index.streamID(service: $0.service, stream: $0.stream) } }

    /// The document pane's tree rows: the selected stream's document, or the event at the cursor.
    public func documentRows() throws -> [DocumentTree.Row] {
        try documentWindow { _ in 0..<Int.max }.rows
    }

    /// The document pane's rows in the range `window` picks given how many rows there are, and
    /// that count: a frame makes only the rows it draws.
    public func documentWindow(_ window: (Int) -> Range<Int>) throws -> (rows: [DocumentTree.Row], count: Int) {
        let doc: JSONValue?
        if state.pane == .event {
            doc = try eventDocument()
        } else {
            doc = try selectedID.flatMap { try current.document(of: $0) }
        }
        guard let doc else { return ([], 0) }
        let count = DocumentTree.count(doc, pointer: "", collapsed: state.collapsed)
        return (DocumentTree.window(doc, collapsed: state.collapsed, ascii: ascii, rows: window(count)).rows, count)
    }

    /// The selected stream's document.
    public func selectedDocument() throws -> JSONValue? {
        guard let id = selectedID else { return nil }
        return try current.document(of: id)
    }

    /// The event at the cursor as one object: every field as written, and where it stands.
    public func eventDocument() throws -> JSONValue? {
        guard state.position > 0 else { return nil }
        let e = try data.event(at: state.position - 1)
        var o: [JSONKey: JSONValue] = [
            "id": .string(e.id), "ts": e.tsRaw, "service": .string(e.service), "stream": .string(e.stream),
            "type": .string(e.type), "data": e.data, "line": .int(Int64(e.line)), "position": .int(Int64(state.position)),
        ]
        if let meta = e.meta { o["meta"] = meta }
        for (k, v) in e.extra where o[k] == nil { o[k] = v }
        return .object(o)
    }

    /// Services with a stream that exists at the cursor.
    public var serviceCount: Int { directory.serviceCount }

    // MARK: streams

    /// One row of the streams pane.
    public enum StreamRow: Equatable {
        case heading(String)
        case service(String, count: Int)
        /// A stream; `exists`: it has a document at the cursor.
        case stream(StreamKey, exists: Bool)
    }

    /// Built on the first use of the filter (a log of few streams filters on the key loop).
    var streamFilter: StreamFilter?
    /// Above this many streams the filter runs as long work (1.45 million names take 250 ms).
    public var filterInline = 100_000

    /// The streams the filter matches, as `StreamFilter` finds them; nil when there is no filter.
    /// With many streams the matching runs off the key loop: until it lands, the last result.
    func filtered() -> [UInt32]? {
        guard let text = state.filter, !text.isEmpty else { return nil }
        if let c = caches.filter, c.text.utf8.elementsEqual(text.utf8), c.count == index.streamCount { return c.ids }
        guard index.streamCount <= filterInline else { return caches.filter?.ids ?? [] }
        if streamFilter?.count != directory.sorted.count { streamFilter = StreamFilter(index: index, sorted: directory.sorted) }
        let narrowing = caches.filter.flatMap { c in c.count == index.streamCount && text.utf8.starts(with: c.text.utf8) ? c.ids : nil }
        let ids = streamFilter!.matches(text, among: narrowing)
        caches.filter = (text, index.streamCount, ids)
        return ids
    }

    /// Whether the filter's matches for the text typed are still being found.
    public var filterPending: Bool {
        guard let text = state.filter, !text.isEmpty else { return false }
        return !(caches.filter.map { $0.text.utf8.elementsEqual(text.utf8) } ?? false)
    }

    /// The streams pane's rows: pinned streams, then the streams around the selected one (the
    /// filter's matches when one is set).
    /// How many pinned streams the pane shows (under their heading, at most a third of it).
    public func pinnedRows(height: Int) -> Int { state.pinned.isEmpty ? 0 : min(state.pinned.count, max(1, height / 3)) }

    public func streamRows(height: Int) throws -> [StreamRow] {
        var rows: [StreamRow] = []
        if !state.pinned.isEmpty {
            rows.append(.heading("pinned (\(state.pinned.count))"))
            for key in state.pinned.prefix(pinnedRows(height: height)) {
                let exists = index.streamID(service: key.service, stream: key.stream).map { current.exists($0) } ?? false
                rows.append(.stream(key, exists: exists))
            }
        }
        let room = height - rows.count
        guard room > 0 else { return Array(rows.prefix(height)) }
        if let ids = filtered() {
            rows.append(.heading("filter \(state.filter ?? ""): " + (filterPending ? "finding…" : "\(ids.count)")))
            let at = selectedID.flatMap { id in ids.firstIndex(of: id) } ?? 0
            let start = max(0, min(at - (room - 1) / 2, ids.count - (room - 1)))
            for id in ids.dropFirst(start).prefix(room - 1) {
                rows.append(.stream(try index.streamKey(id), exists: current.exists(id)))
            }
            return rows
        }
        for row in directory.rows(around: selectedID, height: room, in: current.versions) {
            switch row {
            case .service(let name, let count): rows.append(.service(name, count: count))
            case .stream(let id): rows.append(.stream(try index.streamKey(id), exists: current.exists(id)))
            }
        }
        return rows
    }

    /// The stream `delta` places from the selected one, in the list the pane shows.
    func neighbourStream(by delta: Int) throws -> StreamKey? {
        // In the pinned rows: through them, then down into the list.
        if state.inPins, let at = state.selected.flatMap({ state.pinned.firstIndex(of: $0) }) {
            let next = at + delta
            if next >= 0 && next < state.pinned.count { return state.pinned[next] }
            if next < 0 { return state.pinned[0] }
            state.inPins = false
            return try firstListed()
        }
        if delta < 0, !state.pinned.isEmpty, let first = try firstListed(), first == state.selected {
            state.inPins = true
            return state.pinned[state.pinned.count - 1]
        }
        if let ids = filtered() {
            guard !ids.isEmpty else { return nil }
            let at = selectedID.flatMap { id in ids.firstIndex(of: id) }
            let next = at.map { max(0, min(ids.count - 1, $0 + delta)) } ?? 0
            return try index.streamKey(ids[next])
        }
        guard let id = selectedID ?? directory.nearest(nil, in: current.versions) else { return nil }
        guard !current.exists(id) else { return try index.streamKey(directory.neighbour(of: id, by: delta, in: current.versions) ?? id) }
        // A stream with no document here sits between two that have one: the next step is either.
        var found: UInt32?, steps = 0
        let r = Int(directory.rank[Int(id)])
        directory.walk(from: delta > 0 ? r + 1 : r - 1, forward: delta > 0, in: current.versions) { next in
            found = next
            steps += 1
            return steps < abs(delta)
        }
        return try found.map { try index.streamKey($0) } ?? state.selected
    }

    /// The first stream of the list under the pinned rows.
    func firstListed() throws -> StreamKey? {
        if let ids = filtered() { return try ids.first.map { try index.streamKey($0) } }
        return try directory.nearest(nil, in: current.versions).map { try index.streamKey($0) }
    }

    // MARK: the events pane

    /// One row of the events pane: a day's name where the day changes, or an event.
    public enum EventRow: Equatable {
        case day(String)
        case event(Int)
    }

    /// The events pane's rows: the events around the cursor, with a row naming the day wherever
    /// it changes, the current event in view.
    public func eventRows(height h: Int) throws -> [EventRow] {
        guard state.count > 0, h > 0 else { return [] }
        let current = state.position - 1
        let start = max(0, min(current - h / 2, state.count - h))
        let end = min(state.count, start + h)
        let times = try data.timestamps(of: Array(max(0, start - 1)..<end))
        var previousDay = start > 0 ? times[0].utcDay : nil
        var rows: [EventRow] = []
        for (offset, t) in times.dropFirst(start > 0 ? 1 : 0).enumerated() {
            if t.utcDay != previousDay { rows.append(.day(String(t.rfc3339.prefix { $0 != "T" }))) }
            previousDay = t.utcDay
            rows.append(.event(start + offset))
        }
        // Keep the current event in view once the day rows are in.
        let at = rows.firstIndex { $0 == .event(max(0, current)) } ?? 0
        let first = max(0, min(at - h / 2, rows.count - h))
        return Array(rows.dropFirst(first).prefix(h))
    }

    // MARK: the timeline

    /// The stretch of the timeline the scrubber spans (all of it unless zoomed).
    public var span: Range<Int> { state.zoom ?? 0..<state.count }

    /// Scrubber columns of timeline indices (by their events' times over the span), computed once
    /// per set of indices, width, zoom and timeline length. Indices outside the span get none.
    public func scrubberColumns(_ name: String, _ indices: [Int]) throws -> [Int?] {
        let w = state.width, n = state.count
        let key = "\(name) \(state.zoom.map { "\($0)" } ?? "")"
        if let c = caches.columns[key], c.width == w, c.count == n, c.indices == indices {
            return c.columns.map { $0 < 0 ? nil : $0 }
        }
        var columns: [Int] = []
        let span = self.span
        if !span.isEmpty, !indices.isEmpty {
            let ends = try data.timestamps(of: [span.lowerBound, span.upperBound - 1])
            let times = try data.timestamps(of: indices)
            columns = zip(indices, times).map { i, t in
                span.contains(i) ? Int(t.fraction(from: ends[0], to: ends[1]) * Double(max(0, w - 1)) + 0.5) : -1
            }
        }
        if caches.columns.count >= 64 { caches.columns.removeAll() }
        caches.columns[key] = (w, n, state.zoom, indices, columns)
        return columns.map { $0 < 0 ? nil : $0 }
    }

    /// The scrubber's marker rows: the columns holding an irreversible event (a row of their
    /// own: at scale they fill it), and on the next row backwards timestamps and duplicated
    /// deliveries, the rarer kind winning a column where both fall — with how many of each kind
    /// lie in the span.
    public func markerCells() throws -> (irreversible: [Int], cells: [(Int, TimelineMarker.Kind)], counts: [TimelineMarker.Kind: Int]) {
        let w = state.width, n = state.count
        if let c = caches.markers[state.zoom], c.width == w, c.count == n { return (c.irreversible, c.cells, c.counts) }
        let span = self.span
        let markers = try data.markers().filter { span.contains($0.index) }
        let columns = try scrubberColumns("markers", markers.map(\.index))
        var counts: [TimelineMarker.Kind: Int] = [:]
        for m in markers { counts[m.kind, default: 0] += 1 }
        let irreversible = index.irreversibleColumns(width: w, in: span)
        counts[.irreversible] = irreversible.count
        try index.image.check()
        var byColumn: [Int: TimelineMarker.Kind] = [:]
        // The more frequent kind is laid down first, so the rarer one overwrites it.
        for kind in [TimelineMarker.Kind.duplicate, .backwards].sorted(by: { (counts[$0] ?? 0) > (counts[$1] ?? 0) }) {
            for (m, x) in zip(markers, columns) where m.kind == kind { if let x { byColumn[x] = kind } }
        }
        let cells = byColumn.keys.sorted().map { ($0, byColumn[$0]!) }
        if caches.markers.count >= 8 { caches.markers.removeAll() }
        caches.markers[state.zoom] = (w, n, irreversible.columns, cells, counts)
        return (irreversible.columns, cells, counts)
    }

    // MARK: moving

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
        // The selection stays where the user put it, whether or not the stream exists here.
        if state.pane == .event { state.treeRow = 0 }
    }

    /// Goes to where the go-to prompt's text says.
    func go(to text: String) throws {
        let entry: TimeEntry
        let cursor = try cursorTime()
        do throws(TimestampError) {
            entry = try TimeEntry.parse(text, cursor: cursor)
        } catch {
            state.message = "cannot go there: \(error.message)"
            return
        }
        switch entry {
        case .start:
            guard state.count > 0 else { return }
            let first = try data.event(at: 0).ts
            try move(to: try data.position(at: first))
            state.message = "went to the start, \(first.rfc3339)"
        case .end:
            try move(to: state.count)
            state.message = "went to the end"
        case .position(let p):
            try move(to: p)
            state.message = p > state.count ? "went to the last position, \(state.count)" : "went to position \(state.position)"
        case .offset(let ns):
            guard let cursor = try cursorTime() else { return }
            let t = state.asked.flatMap { $0.position == state.position ? $0.time : nil } ?? cursor
            let target = t.adding(nanoseconds: ns)
            try move(to: try data.position(at: target))
            state.asked = Asked(time: target, position: state.position)
            state.message = "went to \(target.rfc3339) (\(text.trimmingCharacters(in: .whitespaces)))" + (try landing(target))
        case .time(let t):
            try move(to: try data.position(at: t))
            state.asked = Asked(time: t, position: state.position)
            state.message = "went to \(t.rfc3339)" + (try landing(t))
        }
    }

    /// Where a time lies against the log's events, when not among them.
    func landing(_ t: Timestamp) throws -> String {
        guard state.count > 0 else { return "" }
        let ends = try data.timestamps(of: [0, state.count - 1])
        if t < ends[0] { return ", before the first event: position 0" }
        if ends[1] < t { return ", after the last event: position \(state.count)" }
        return ""
    }

    // MARK: keys

    /// Where the panes are on a screen of this size (the view draws them there).
    public struct Layout: Equatable {
        public var top: Int, bottom: Int, left: Int, middle: Int
        public init(width: Int, height: Int) {
            top = 6
            bottom = height - 2
            left = max(16, min(30, width / 5))
            // On narrow screens the events pane takes a little more than the document pane: its
            // columns need it; on wide ones they share.
            middle = width < 120 ? (width - left) * 9 / 16 : (width - left) / 2
        }
    }

    /// What a key does in the current mode.
    public func action(for key: Key) -> ExplorerAction? {
        if case .resize(let w, let h) = key { return .resized(width: w, height: h) }
        if case .ctrl("c") = key { return .quit }
        switch state.mode {
        case .prompt:
            switch key {
            case .enter: return .submitted
            case .escape: return .cancelled
            case .backspace: return .erased
            case .ctrl("w"): return .erasedWord
            case .ctrl("u"): return .erasedLine
            case .up: return .historyBack
            case .down: return .historyForward
            case .left, .ctrl("b"): return .movedPromptCursor(.left)
            case .right, .ctrl("f"): return .movedPromptCursor(.right)
            case .home, .ctrl("a"): return .movedPromptCursor(.home)
            case .end, .ctrl("e"): return .movedPromptCursor(.end)
            case .char(let c): return .typed(c)
            default: return nil
            }
        case .help:
            switch key {
            case .char("q"): return .quit
            case .down, .char("j"): return .scrollHelp(by: 1)
            case .up, .char("k"): return .scrollHelp(by: -1)
            case .pageDown, .char(" "): return .scrollHelp(by: 10)
            case .pageUp: return .scrollHelp(by: -10)
            default: return .toggleHelp  // any other key closes the help
            }
        case .normal:
            if state.expanded != nil { return key == .char("q") ? .quit : .toggleNode }
            if key == .escape { return .cancelWork }
            if case .mouseClick(let x, let y) = key {
                if y == 1 || y == 2 { return .clickedTimeline(x: x) }
                let layout = Layout(width: state.width, height: state.height)
                if x < layout.left - 1 && y >= layout.top && y <= layout.bottom { return .clickedStream(row: y - layout.top) }
                if x >= layout.left && x < layout.left + layout.middle - 1 && y >= layout.top && y <= layout.bottom { return .clickedEvent(row: y - layout.top) }
                return nil
            }
            if key == .wheelUp { return .wheel(by: -3) }
            if key == .wheelDown { return .wheel(by: 3) }
            if state.focusOnDocument {
                switch key {
                case .up, .char("k"): return .moveTreeCursor(by: -1)
                case .down, .char("j"): return .moveTreeCursor(by: 1)
                case .enter, .char(" "): return .toggleNode
                default: break
                }
            }
            if let a = KeyBindings.action(for: key) { return a }
            return .unknownKey(key.description)
        }
    }

    // MARK: update

    /// Applies an action; returns what the driver must do.
    @discardableResult
    public func update(_ action: ExplorerAction) throws -> [ExplorerEffect] {
        switch action {
        case .workProgressed, .ticked: break
        case .followed(let update, let error) where update == nil && error == nil: break
        default: state.message = nil
        }
        var effects: [ExplorerEffect] = []
        func start(_ request: WorkRequest, text: String = "") { effects += startWork(request, text: text) }
        /// The strategies pane compares at the cursor whenever it moves.
        func compareIfShown() {
            guard state.pane == .strategies, state.strategyRuns?.position != state.position else { return }
            if case .strategies(let p)? = state.work?.request, p == state.position { return }
            start(.strategies(position: state.position))
        }
        func show(_ pane: Pane) {
            state.pane = state.pane == pane ? .document : pane
            state.treeRow = 0
            state.focusOnDocument = state.focusOnDocument && state.pane != .document ? true : state.focusOnDocument
        }
        switch action {
        case .stepForward:
            if state.position < state.count { try move(to: state.position + 1) } else { state.message = "at the last event" }
        case .stepBackward:
            if state.position > 0 { try move(to: state.position - 1) } else { state.message = "at the start" }
        case .jump(let seconds):
            guard let t = try cursorTime() else { break }
            let target = t.adding(seconds: seconds)
            var p = try data.position(at: target)
            if seconds < 0 && p >= state.position { p = max(0, state.position - 1) }
            if seconds > 0 && p <= state.position { p = min(state.count, state.position + 1) }
            try move(to: p)
        case .goToStart: try move(to: 0)
        case .goToEnd: try move(to: state.count)
        case .openGoto:
            // The cursor's time — at position 0, before any event, its position.
            let here = state.position == 0 ? "#0" : try cursorTime()?.rfc3339 ?? ""
            state.mode = .prompt(Prompt(kind: .goto, text: here, selected: true))
        case .openSearch: state.mode = .prompt(Prompt(kind: .search, text: state.search ?? "", selected: true))
        case .openInvariant: state.mode = .prompt(Prompt(kind: .invariant, text: state.invariant ?? "", selected: true))
        case .openFilter:
            state.mode = .prompt(Prompt(kind: .filter, text: state.filter ?? "", selected: true))
            state.focusOnDocument = false
        case .openCommand: state.mode = .prompt(Prompt(kind: .command))
        case .toggleHelp:
            state.mode = state.mode == .help ? .normal : .help
            state.helpOffset = 0
        case .scrollHelp(let delta):
            state.helpOffset = max(0, min(KeyBindings.helpRows - 1, state.helpOffset + delta))
        case .toggleDiff: show(.diff)
        case .toggleEvent: show(.event)
        case .toggleOverview: show(.overview)
        case .toggleCausation: show(.causation)
        case .toggleSaga: show(.saga)
        case .toggleDeliveries: show(.deliveries)
        case .toggleLag: show(.lag)
        case .toggleStrategies: show(.strategies)
        case .toggleMark:
            if state.mark == state.position {
                state.mark = nil
                state.message = "mark removed"
            } else {
                state.mark = state.position
                state.pane = .diff
                state.message = "mark pinned at position \(state.position); the diff compares against it"
            }
        case .selectNextStream, .selectPreviousStream:
            if let key = try neighbourStream(by: action == .selectNextStream ? 1 : -1) { state.selected = key }
            if let key = state.selected, !state.pinned.contains(key) { state.inPins = false }
        case .page(let pages):
            let layout = Layout(width: state.width, height: state.height)
            let rows = max(1, layout.bottom - layout.top)
            if state.focusOnDocument {
                state.treeRow = max(0, state.treeRow + pages * rows)
                try clampTreeRow()
            } else if let key = try neighbourStream(by: pages * rows) { state.selected = key }
        case .wheel(let delta):
            if state.focusOnDocument {
                state.treeRow = max(0, state.treeRow + delta)
                try clampTreeRow()
            } else if let key = try neighbourStream(by: delta) { state.selected = key }
        case .clickedStream(let row):
            let layout = Layout(width: state.width, height: state.height)
            let rows = try streamRows(height: layout.bottom - layout.top + 1)
            if row < rows.count, case .stream(let key, _) = rows[row] {
                state.selected = key
                state.inPins = row >= 1 && row <= pinnedRows(height: layout.bottom - layout.top + 1)
                state.focusOnDocument = false
            }
        case .clickedEvent(let row):
            let layout = Layout(width: state.width, height: state.height)
            let rows = try eventRows(height: layout.bottom - layout.top + 1)
            if row < rows.count, case .event(let i) = rows[row] { try move(to: i + 1) }
        case .selectEventStream:
            guard state.position > 0 else { state.message = "no event at the cursor (→ steps to the first)"; break }
            let e = try data.event(at: state.position - 1)
            state.selected = StreamKey(service: e.service, stream: e.stream)
            if let ids = filtered(), let id = selectedID, !ids.contains(id) { state.filter = nil; caches.filter = nil }
            state.message = "selected \(e.service)/\(e.stream), the stream of \(e.id)"
        case .togglePin:
            guard let key = state.selected else { state.message = "select a stream first (j / k)"; break }
            if let i = state.pinned.firstIndex(of: key) {
                state.pinned.remove(at: i)
                state.inPins = false
                state.message = "unpinned \(key.service)/\(key.stream)"
            } else {
                state.pinned.append(key)
                state.message = "pinned \(key.service)/\(key.stream): it stays at the top of the streams list"
            }
        case .nextMatch, .previousMatch:
            // A match is shown as the current event: the cursor goes just after it.
            let here = state.position - 1
            guard !state.matches.isEmpty else { state.message = "no matches (search with /)"; break }
            let forward = action == .nextMatch
            var target = forward ? state.matches.first { $0 > here } : state.matches.last { $0 < here }
            var wrapped = false
            if target == nil {
                target = forward ? state.matches.first : state.matches.last
                wrapped = true
            }
            try move(to: target! + 1)
            let i = state.matches.lowerBound(target!) + 1
            state.message = "match \(i) of \(state.matches.count)" + (wrapped ? (forward ? " (wrapped to the first)" : " (wrapped to the last)") : "")
        case .nextBreak, .previousBreak:
            guard !state.breaks.isEmpty else {
                state.message = state.work.map { if case .breaks = $0.request { return "still checking the invariant" }; return nil } ?? nil
                    ?? "no invariant breaks (set one with i)"
                break
            }
            let forward = action == .nextBreak
            guard let target = forward ? state.breaks.first(where: { $0 > state.position }) : state.breaks.last(where: { $0 < state.position }) else {
                state.message = "no more breaks that way"
                break
            }
            try move(to: target)
            state.message = "invariant breaks here (break \(state.breaks.lowerBound(target) + 1) of \(state.breaks.count))"
        case .switchStrategy:
            // The index's strategies drive the view (replay reaches no versions to draw from).
            let names = Array(Strategies.names.dropFirst())
            let next = names[((names.firstIndex(of: data.drivingStrategy) ?? -1) + 1) % names.count]
            data.drivingStrategy = next
            state.drivingStrategy = next
            state.message = "\(next) now reaches the positions you jump to"
        case .verifyCache:
            start(.verify)
        case .toggleFocus:
            state.focusOnDocument.toggle()
            state.treeRow = 0
            state.message = state.focusOnDocument ? "document: ↑/↓ move, Enter folds or opens a line, y copies; Tab back to streams" : nil
        case .moveTreeCursor(let delta):
            state.treeRow = max(0, state.treeRow + delta)
            try clampTreeRow()
        case .toggleNode:
            if state.expanded != nil { state.expanded = nil; break }
            if let rows = try paneRows() {
                guard state.treeRow < rows.count else { break }
                let row = rows[state.treeRow]
                // A row that stands for an event goes there (the overview's: selects its stream);
                // any other line is shown whole.
                if let key = row.key {
                    state.selected = key
                    state.pane = .document
                    state.treeRow = 0
                    state.message = "selected \(key.service)/\(key.stream)"
                } else if let p = row.position, state.pane != .diff {
                    try move(to: p + 1)
                    state.message = "went to \(try data.event(at: p).id), position \(p + 1)"
                } else {
                    state.expanded = row.text
                }
                break
            }
            let rows = try documentRows()
            guard state.treeRow < rows.count else { break }
            guard rows[state.treeRow].isContainer else {
                state.expanded = rows[state.treeRow].pointer + " = " + (rows[state.treeRow].value?.jsonText ?? "")
                break
            }
            let key = JSONKey(rows[state.treeRow].pointer)
            if state.collapsed.contains(key) { state.collapsed.remove(key) } else { state.collapsed.insert(key) }
        case .copy(let path):
            let rows = try documentRows()
            guard state.pane == .document || state.pane == .event, !rows.isEmpty else {
                state.message = "copy works on the document or the event view (Tab, then a row, then y)"
                break
            }
            let row = rows[min(state.focusOnDocument ? state.treeRow : 0, rows.count - 1)]
            let text = path ? (row.pointer.isEmpty ? "/" : row.pointer) : (row.value?.jsonText ?? "")
            state.copied.append(text)
            effects.append(.copy(text))
            state.message = "copied \(path ? "the path" : "the value") \(text.count > 60 ? String(text.prefix(57)) + "…" : text)"
        case .zoomIn:
            // A quarter of the stretch's time around the cursor (by time: a burst of events widens).
            guard state.count > 1, let at = try cursorTime() else { break }
            let current = span
            let ends = try data.timestamps(of: [current.lowerBound, current.upperBound - 1])
            let first = Double(ends[0].nanoseconds), last = Double(ends[1].nanoseconds)
            let width = (last - first) / 4
            let start = max(first, min(Double(at.nanoseconds) - width / 2, last - width))
            let from = Timestamp(nanoseconds: Int64(start)), to = Timestamp(nanoseconds: Int64(start + width))
            let lower = max(current.lowerBound, min(try data.position(at: from.adding(nanoseconds: -1)), current.upperBound - 1))
            let upper = min(current.upperBound, max(try data.position(at: to), lower + 1))
            guard width >= 1, upper - lower >= 2, upper - lower < current.count else { state.message = "zoomed in as far as it goes"; break }
            state.zoomStack.append(state.zoom)
            state.zoom = lower..<upper
            state.message = "timeline zoomed to \(from.rfc3339) … \(to.rfc3339), positions \(lower)…\(upper) (z: closer, Z: back out)"
        case .zoomOut:
            // Back to the stretch shown before the last zoom in (its drawing is still at hand).
            guard state.zoom != nil else { state.message = "the timeline shows the whole log"; break }
            state.zoom = state.zoomStack.popLast() ?? nil
            state.message = state.zoom.map { "timeline zoomed to positions \($0.lowerBound)…\($0.upperBound)" } ?? "the timeline shows the whole log"
        case .toggleFollow:
            state.follow.toggle()
            state.message = state.follow ? "following the log: new events appear as they are appended" : "stopped following"
            if state.follow { effects += try update(.ticked) }
        case .ticked:
            guard state.follow, !state.reading else { break }
            state.reading = true
            effects.append(.readAppended)
        case .followed(let update, let error):
            state.reading = false
            if let error { state.message = "following: cannot read the log: \(error)" }
            guard state.follow, let update else { break }
            data.take(update)
            let atHead = state.position == state.count
            let before = state.count, wasAt = state.position
            state.count = index.count
            caches = Caches()
            streamFilter = nil
            // The timeline may have been rebuilt, not only grown: start from the new index's head.
            current = StateView(index: index, versions: index.head, position: index.count)
            directory = StreamDirectory(index: index, versions: current.versions)
            state.position = index.count
            if let z = state.zoom, z.upperBound > state.count { state.zoom = nil; state.zoomStack = [] }
            try move(to: atHead ? state.count : min(wasAt, state.count))
            state.message = "following: \(state.count - before) new event\(state.count - before == 1 ? "" : "s")"
                + (update.rejected == 0 ? "" : "; \(update.rejected) line\(update.rejected == 1 ? "" : "s") rejected (copied to \(update.quarantine ?? "the quarantine file"))")
        case .nextEventOfStream, .previousEventOfStream:
            guard let key = state.selected, let id = selectedID else { state.message = "select a stream first (j / k)"; break }
            let forward = action == .nextEventOfStream
            guard let p = forward ? index.nextEvent(of: id, from: state.position) : index.previousEvent(of: id, before: state.position - 1) else {
                state.message = "no \(forward ? "later" : "earlier") event of \(key.service)/\(key.stream)"
                break
            }
            try move(to: p + 1)
            state.message = "\(try data.event(at: p).type) of \(key.service)/\(key.stream)"
        case .fieldProvenance:
            try followProvenance()
        case .nextSaga:
            try goToNextSaga()
        case .movedPromptCursor:
            guard var p = state.prompt else { break }
            edit(&p, action)
            state.mode = .prompt(p)
        case .typed, .erased, .erasedWord, .erasedLine, .historyBack, .historyForward:
            guard var p = state.prompt else { break }
            edit(&p, action)
            state.mode = .prompt(p)
            if p.kind == .filter { try setFilter(p.text) }
        case .cancelled:
            if state.prompt?.kind == .filter { state.filter = nil; caches.filter = nil }
            state.mode = .normal
        case .submitted:
            guard let p = state.prompt else { break }
            state.mode = .normal
            remember(p)
            try submit(p, start: start)
        case .resized(let w, let h):
            state.width = w
            state.height = h
        case .clickedTimeline(let x):
            guard !span.isEmpty, state.width > 1 else { break }
            // The scrubber spans the (zoomed) stretch's time range, as the sparkline does.
            let ends = try data.timestamps(of: [span.lowerBound, span.upperBound - 1])
            let t = Timestamp.between(ends[0], ends[1], fraction: Double(max(0, min(x, state.width - 1))) / Double(state.width - 1))
            try move(to: try data.position(at: t))
        case .unknownKey(let name):
            state.message = "\(name) does nothing here — ? for keys"
        case .workProgressed(let id, let done, let total, let seconds):
            guard state.work?.id == id else { break }
            state.work!.done = done
            state.work!.total = total
            state.work!.seconds = seconds
        case .workFinished(let id, let result):
            guard let work = state.work, work.id == id else { break }
            state.work = nil
            try finish(work, result)
            // Then what waited for it.
            if !state.queue.isEmpty {
                let next = state.queue.removeFirst()
                effects += startWork(next.request, text: next.text)
            }
        case .cancelWork:
            if let w = state.work {
                effects.append(.cancel(id: w.id))
                state.work = nil
                let queued = state.queue.count
                state.queue = []
                if case .breaks = w.request {
                    state.invariant = nil
                    state.breaks = []
                }
                state.message = "cancelled: \(w.request.title)\(w.text.isEmpty ? "" : " " + w.text)"
                    + (queued == 0 ? "" : " and \(queued) waiting after it")
                    + (w.request.kind == WorkRequest.breaks("").kind ? " (no invariant is set)" : "")
            } else if state.filter != nil {
                state.filter = nil
                caches.filter = nil
                state.message = "filter cleared"
            } else if state.pane != .document {
                state.pane = .document
                state.treeRow = 0
            } else {
                state.message = "nothing to cancel — ? for keys"
            }
        case .quit:
            if let w = state.work { effects.append(.cancel(id: w.id)) }
            state.quit = true
        }
        if state.inPins, !(state.selected.map { state.pinned.contains($0) } ?? false) { state.inPins = false }
        compareIfShown()
        effects += pendingEffects
        pendingEffects = []
        return effects
    }

    /// Starts long work, cancelling what runs (one piece of work at a time).
    /// Work of the kind that runs is replaced by the new request (a new search stops the old
    /// one); work of another kind waits for it, one of each kind.
    func startWork(_ request: WorkRequest, text: String) -> [ExplorerEffect] {
        var effects: [ExplorerEffect] = []
        if let w = state.work, w.request.kind != request.kind {
            state.queue.removeAll { $0.request.kind == request.kind }
            state.queue.append(Work(id: 0, request: request, text: text))
            return []
        }
        if let w = state.work { effects.append(.cancel(id: w.id)) }
        let id = state.nextWorkID
        state.nextWorkID += 1
        state.work = Work(id: id, request: request, text: text)
        effects.append(.start(id: id, request))
        return effects
    }

    /// Keeps the document pane's cursor on a row that exists.
    func clampTreeRow() throws {
        let count = try paneLines()?.count ?? documentWindow { _ in 0..<0 }.count
        state.treeRow = max(0, min(count - 1, state.treeRow))
    }

    /// One line of a list pane, how it is drawn, and the event or stream it stands for (where
    /// Enter goes).
    public struct PaneRow: Equatable {
        public var text: String
        public var style: CellStyle
        public var position: Int? = nil
        public var key: StreamKey? = nil
    }

    /// The rows of the pane when it shows a list (nil: a tree) — what the view draws, the cursor
    /// moves over and Enter acts on, one list for all three.
    public func paneRows() throws -> [PaneRow]? {
        let cursor = state.position - 1
        switch state.pane {
        case .document, .event: return nil
        case .lag: return []
        case .diff:
            return try changes().map { c in
                PaneRow(text: c.description, style: c.kind == .added ? .changed : c.kind == .removed ? .warning : CellStyle(role: .accent))
            }
        case .strategies:
            guard let compared = state.strategyRuns, compared.position == state.position else { return [] }
            let runs = compared.runs
            var rows = zip(runs, ExplorerView.strategyLines(runs, driving: state.drivingStrategy)).map { o, line in
                PaneRow(text: line, style: o.agrees ? (o.name == state.drivingStrategy ? .title : .plain) : .warning)
            }
            rows.append(PaneRow(text: "", style: .plain))
            let crossed = runs.first { $0.name == "undo" }?.crossed ?? []
            for (i, line) in try crossedLines(runs).enumerated() {
                rows.append(PaneRow(text: line, style: line.hasSuffix("crossing no irreversible event") ? .faint : line.hasPrefix("undo") ? .warning : .plain,
                                    position: i == 0 ? nil : crossed[i - 1]))
            }
            return rows
        case .causation:
            let nodes = try causation()
            guard nodes.count > 1 else { return [] }
            return nodes.map { n in
                PaneRow(text: String(repeating: " ", count: 2 * n.depth) + (n.isCursor ? "► " : "  ") + "\(n.event.id) \(n.event.service)/\(n.event.stream) \(n.event.type)",
                        style: n.isCursor ? .selected : .plain, position: n.position)
            }
        case .saga:
            guard let saga = try saga() else { return [] }
            var rows = saga.flags.map { PaneRow(text: "! " + $0, style: .warning) }
            for step in saga.steps {
                let t = step.event.ts.rfc3339
                let time = t.count >= 19 ? String(t.dropFirst(11)) : t
                let line = (step.position == cursor ? "► " : "  ") + time + " " + step.event.type + " " + step.event.service + "/" + step.event.stream
                    + (step.command.isEmpty ? "" : "  " + step.command) + (step.attempt > 1 ? "  attempt \(step.attempt)" : "")
                rows.append(PaneRow(text: line, style: step.position == cursor ? .selected : step.isCompensation ? .warning : .plain, position: step.position))
            }
            return rows
        case .deliveries:
            guard let report = try deliveries() else { return [] }
            let attempts = report.rows.map(\.attempt).max() ?? 1
            var rows = [PaneRow(text: "\(report.rows.count) deliver\(report.rows.count == 1 ? "y" : "ies") left events; \(report.applied) applied; highest attempt \(attempts)",
                                style: report.applied > 1 ? .warning : .plain)]
            if report.applied > 1 { rows.append(PaneRow(text: "! applied \(report.applied) times: the effect was not deduplicated", style: .warning)) }
            for r in report.rows {
                rows.append(PaneRow(text: (r.position == cursor ? "► " : "  ") + "attempt \(r.attempt)  \(r.consumer)  \(r.type)  \(r.outcome)  \(r.id)",
                                    style: r.position == cursor ? .selected : r.outcome == "applied" ? .plain : .faint, position: r.position))
            }
            if !report.hasBusLog {
                rows.append(PaneRow(text: "(deliveries that crashed or lost their ack left no event: simulate with --delivery-log to see every one)", style: .faint))
            }
            return rows
        case .overview:
            return try overview().map { r in
                PaneRow(text: r.text, style: r.key == nil ? (r.text.hasPrefix("  …") ? .faint : .title) : (r.key == state.selected ? .changed : .plain),
                        position: r.lastEvent, key: r.key)
            }
        }
    }

    /// The pane's lines as text (what Enter opens whole).
    public func paneLines() throws -> [String]? { try paneRows()?.map(\.text) }

    /// The irreversible events undo crosses, as the strategies pane lists them: undo starts at
    /// the keyframe after the cursor (or the head) and walks back to it.
    func crossedLines(_ runs: [StrategyRun]) throws -> [String] {
        guard let undo = runs.first(where: { $0.name == "undo" }) else { return [] }
        let from = state.position + undo.applied
        let start = from == state.count ? "the head, position \(from)" : "the keyframe at position \(from)"
        let walked = "undo walked back \(undo.applied) event\(undo.applied == 1 ? "" : "s") from \(start)"
        guard !undo.crossed.isEmpty else { return [walked + ", crossing no irreversible event"] }
        var lines = [walked + ", crossing \(undo.crossed.count) irreversible event\(undo.crossed.count == 1 ? "" : "s") (rewound, not undone):"]
        for p in undo.crossed.prefix(200) {
            let t = try data.event(at: p)
            lines.append("  line \(t.line): \(t.id) \(t.service)/\(t.stream) \(t.type)")
        }
        return lines
    }

    /// Effects queued outside `update`'s own list (by a command or the filter); `update` returns them.
    var pendingEffects: [ExplorerEffect] = []

    /// Applies what long work found.
    func finish(_ work: Work, _ result: WorkResult) throws {
        switch result {
        case .matches(let found):
            state.matches = found
            if found.isEmpty {
                state.message = "no event matches \(work.text)"
            } else {
                let target = found.first { $0 >= state.position } ?? found[0]
                try move(to: target + 1)
                state.message = "match \(found.lowerBound(target) + 1) of \(found.count); n / N: next / previous"
            }
        case .breaks(let found, let warnings):
            state.breaks = found
            let note = warnings.isEmpty ? "" : " — but \(warnings.joined(separator: "; ")): check the path"
            if let first = found.first {
                try move(to: first)
                state.message = "breaks \(found.count) time\(found.count == 1 ? "" : "s"); first at position \(first) (x / X: next / previous)" + note
            } else {
                state.message = "holds at every position" + note
            }
        case .strategies(let runs):
            if case .strategies(let p) = work.request { state.strategyRuns = StrategyRuns(position: p, runs: runs) }
        case .summary(let summary):
            state.message = summary
        case .streams(let ids):
            guard case .filter(let text, _) = work.request else { break }
            caches.filter = (text, index.streamCount, ids)
            if let filter = state.filter, filter.utf8.elementsEqual(text.utf8), let first = ids.first {
                state.selected = try index.streamKey(first)
                state.inPins = false
            }
        case .failed(let why):
            state.message = "\(work.request.title) failed: \(why)"
        case .cancelled:
            state.message = "cancelled: \(work.request.title)"
        }
    }
}
