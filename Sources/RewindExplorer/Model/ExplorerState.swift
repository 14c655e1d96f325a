import RewindCore

/// What happened in the explorer (actions are named for what the user did, or for what long
/// work reported back).
public enum ExplorerAction: Sendable, Equatable {
    case stepForward, stepBackward
    case jump(seconds: Int64)
    case goToStart, goToEnd
    case openGoto, toggleHelp
    case openInvariant
    case nextBreak, previousBreak
    case openSearch
    case nextMatch, previousMatch
    /// The next / previous event of the selected stream.
    case nextEventOfStream, previousEventOfStream
    /// Pin the selected stream to the top of the streams list (again: unpin).
    case togglePin
    /// Select the stream of the event at the cursor.
    case selectEventStream
    /// Narrow the streams list as you type (fuzzy, smart case).
    case openFilter
    /// The `:` command bar.
    case openCommand
    /// Field provenance: go to the event that last set the field under the document cursor
    /// (again: the one that set it before).
    case fieldProvenance
    /// The event at the cursor, every field of it as written (again: back to the document).
    case toggleEvent
    /// Every service at the cursor's time: its streams, the recently changed first.
    case toggleOverview
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
    /// Follow mode read the log's end: a grown timeline (nil: nothing new), or why it could not.
    case followed(TimelineUpdate?, error: String?)
    /// Arrow keys move in the streams list or in the document pane.
    case toggleFocus
    case moveTreeCursor(by: Int)
    /// Fold or unfold the container under the document cursor; on a line of a list, show it whole.
    case toggleNode
    /// Show the document, or the changes since the previous event (or the mark).
    case toggleDiff
    /// Pin the cursor's position as the mark the diff compares against (again: unpin).
    case toggleMark
    case selectNextStream, selectPreviousStream
    /// A page of the focused list (streams, or the document pane's rows).
    case page(by: Int)
    /// Copy the value (or, `path: true`, the JSON Pointer) under the document cursor.
    case copy(path: Bool)
    /// Zoom the timeline to the stretch around the cursor (again: closer); out: back.
    case zoomIn, zoomOut
    case typed(Character), erased, erasedWord, erasedLine, submitted, cancelled
    case historyBack, historyForward
    /// The prompt's cursor moves (← → Home End, Ctrl-B Ctrl-F Ctrl-A Ctrl-E); the text put
    /// there is kept.
    case movedPromptCursor(Prompt.Move)
    /// Scroll the help overlay.
    case scrollHelp(by: Int)
    case resized(width: Int, height: Int)
    case clickedTimeline(x: Int)
    case clickedStream(row: Int)
    case clickedEvent(row: Int)
    case wheel(by: Int)
    /// A key no binding knows.
    case unknownKey(String)
    /// Long work reports how far it got, and then what it found.
    case workProgressed(id: Int, done: Int, total: Int, seconds: Double)
    case workFinished(id: Int, WorkResult)
    /// Escape while long work runs.
    case cancelWork
    case quit
}

/// A one-line prompt in the footer.
public struct Prompt: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable, CaseIterable { case goto, search, invariant, filter, command }
    public var kind: Kind
    public var text: String
    /// The text was put there (the previous one, or the cursor's time): typing replaces it.
    public var selected: Bool
    /// Where ↑ / ↓ is in the history (nil: the text being typed).
    public var historyIndex: Int?
    /// Where typing goes, in characters from the start.
    public var cursor: Int

    public enum Move: Sendable, Equatable { case left, right, home, end }

    public init(kind: Kind, text: String = "", selected: Bool = false) {
        self.kind = kind
        self.text = text
        self.selected = selected && !text.isEmpty
        cursor = text.count
    }

    public var label: String {
        switch kind {
        case .goto: "go to (09:14:05, 2026-01-02, RFC 3339, +5m, -1h, #120, start, end)"
        case .search: "search (words, service:S stream:X type:T; lower case ignores case)"
        case .invariant: "invariant (e.g. all(accounts/*/balance >= 0))"
        case .filter: "filter streams"
        case .command: ""
        }
    }

    public var shortLabel: String {
        switch kind {
        case .goto: "go to"
        case .search: "search"
        case .invariant: "invariant"
        case .filter: "filter"
        case .command: ""
        }
    }

    static let limits: [Kind: Int] = [.goto: 64, .search: 200, .invariant: 400, .filter: 100, .command: 400]
}

/// What the document pane (the right-hand pane) shows.
public enum Pane: Sendable, Equatable {
    case document, diff, strategies, causation, saga, deliveries, lag, event, overview
}

/// Long work the driver runs off the key loop.
public enum WorkRequest: Sendable, Equatable {
    case search(EventQuery)
    case breaks(String)
    case strategies(position: Int)
    case verify
    /// The streams whose names match the filter (among the last result's, when it narrows it).
    case filter(String, narrowing: FilterBase?)
    /// Write the state after `position` events to a file as `rewind state --json` prints it
    /// (`:export`: a state of a million streams takes a while to write).
    case export(path: String, position: Int, at: Timestamp)

    /// Requests of one kind replace each other; of different kinds, wait for each other.
    public var kind: Int {
        switch self {
        case .search: 0
        case .breaks: 1
        case .strategies: 2
        case .verify: 3
        case .filter: 4
        case .export: 5
        }
    }

    /// What its progress counts.
    public var unit: String {
        if case .filter = self { return "streams" }
        return "events"
    }

    public var title: String {
        switch self {
        case .filter: "filtering the streams by"
        case .export(let path, let position, _): "exporting the state at position \(position) to \(path)"
        case .search: "searching"
        case .breaks: "checking the invariant"
        case .strategies(let p): "comparing the strategies at position \(p)"
        case .verify: "verifying against a full replay"
        }
    }
}

/// The filter's last result, which a longer text narrows.
public struct FilterBase: Sendable, Equatable {
    public var text: String
    public var ids: [UInt32]
    public init(_ base: (String, [UInt32])) { (text, ids) = base }
}

/// What long work found.
public enum WorkResult: Sendable, Equatable {
    case matches([Int])
    /// Where the invariant turns false, and the paths it names that select nothing.
    case breaks([Int], warnings: [String])
    case strategies([StrategyRun])
    /// A one-line account (verification, an export).
    case summary(String)
    case streams([UInt32])
    case failed(String)
    case cancelled
}

/// Long work running now, as the status line shows it.
public struct Work: Sendable, Equatable {
    public var id: Int
    public var request: WorkRequest
    /// What the user asked for (the search or invariant text).
    public var text: String
    public var done = 0
    public var total = 0
    public var seconds = 0.0

    /// "searching "x": 43% (120 000 of 280 000 events) 2.1 s, about 2.8 s left — Esc cancels"
    public var status: String { status(then: []) }

    /// The status, with the work waiting after it named before the hint.
    public func status(then waiting: [Work]) -> String {
        var s = request.title + (text.isEmpty ? "" : " \(text)") + ":"
        if total > 0 {
            let fraction = Double(done) / Double(total)
            s += " \(Int(fraction * 100))% (\(done) of \(total) \(request.unit))"
            s += " " + Work.seconds(seconds)
            if done > 0 && fraction < 1 && seconds > 0.2 { s += ", about \(Work.seconds(seconds / fraction - seconds)) left" }
        } else {
            s += " " + Work.seconds(seconds)
        }
        if !waiting.isEmpty { s += "; then " + waiting.map { $0.request.title + ($0.text.isEmpty ? "" : " " + $0.text) }.joined(separator: ", ") }
        return s + " — Esc cancels"
    }

    static func seconds(_ s: Double) -> String {
        s < 10 ? "\(Double(Int(s * 10)) / 10) s" : "\(Int(s)) s"
    }
}

/// What the explorer asks its driver to do.
public enum ExplorerEffect: Sendable, Equatable {
    case start(id: Int, WorkRequest)
    case cancel(id: Int)
    /// Put text on the clipboard (OSC 52) and print it when the explorer ends.
    case copy(String)
    /// Read what was appended to the log (follow mode), off the key loop.
    case readAppended
}

/// The field whose provenance was last followed, and the position of the event found.
public struct Provenance: Sendable, Equatable {
    public var pointer: String
    public var position: Int
    public init(pointer: String, position: Int) { self.pointer = pointer; self.position = position }
    public static func == (a: Provenance, b: Provenance) -> Bool { a.pointer.sameCodePoints(b.pointer) && a.position == b.position }
}

/// The strategies compared at a position.
public struct StrategyRuns: Sendable, Equatable {
    public var position: Int
    public var runs: [StrategyRun]
    public init(position: Int, runs: [StrategyRun]) { self.position = position; self.runs = runs }
}

/// A time `g` was asked for, and the position it reached.
public struct Asked: Sendable, Equatable {
    public var time: Timestamp
    public var position: Int
}

/// The explorer's whole state: everything a view needs besides the data.
public struct ExplorerState: Sendable, Equatable {
    public enum Mode: Sendable, Equatable {
        case normal
        case prompt(Prompt)
        case help
    }

    /// Events applied (0 … count).
    public var position = 0
    public var count = 0
    /// The stream the user chose: it stays selected however time moves.
    public var selected: StreamKey?
    /// Streams pinned to the top of the streams list, and whether the selection is in those rows.
    public var pinned: [StreamKey] = []
    public var inPins = false
    /// The streams list shows only names that match this (fuzzy, smart case).
    public var filter: String?
    public var mode: Mode = .normal
    public var pane: Pane = .document
    /// A pinned position the diff compares against (else: the previous event).
    public var mark: Int?
    /// The invariant set with `i`, and the positions where it turns false (all of them).
    public var invariant: String?
    public var breaks: [Int] = []
    /// The search set with `/`, and the timeline indices of its matches.
    public var search: String?
    public var matches: [Int] = []
    public var follow = false
    /// Follow mode is reading the log's end now.
    public var reading = false
    /// Which pane the arrow keys move in.
    public var focusOnDocument = false
    /// The row the document pane's cursor is on (a tree row, or a line of a list).
    public var treeRow = 0
    /// A line of a list opened whole (Enter on it), shown over the panes.
    public var expanded: String?
    /// The field whose provenance was last followed, and the event found (so `p` again goes
    /// further back).
    public var provenance: Provenance?
    public var collapsed: Set<JSONKey> = []
    /// The first row of the help overlay shown.
    public var helpOffset = 0
    public var drivingStrategy = "diff"
    /// Long work running now, and what waits for it.
    public var work: Work?
    public var queue: [Work] = []
    var nextWorkID = 1
    /// The strategies compared, and the position they were compared at.
    public var strategyRuns: StrategyRuns?
    /// The time `g` was asked for and the position it reached: a relative move counts from it
    /// while the cursor stays there.
    public var asked: Asked?
    /// The stretch of the timeline the scrubber shows (nil: all of it).
    public var zoom: Range<Int>?
    /// The stretches shown before each zoom in (`Z` goes back to the last).
    public var zoomStack: [Range<Int>?] = []
    /// What was typed at each prompt before, newest last.
    public var history: [Prompt.Kind: [String]] = [:]
    /// Values copied, printed when the explorer ends.
    public var copied: [String] = []
    public var message: String?
    public var width: Int
    public var height: Int
    public var quit = false

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    public var showDiff: Bool { pane == .diff }
    public var showStrategies: Bool { pane == .strategies }

    public var prompt: Prompt? {
        if case .prompt(let p) = mode { return p }
        return nil
    }
}
