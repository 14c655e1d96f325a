/// A key as the explorer sees it; the terminal module translates ncurses codes into these.
public enum Key: Hashable, Sendable, CustomStringConvertible {
    case char(Character)
    case ctrl(Character)
    case up, down, left, right, home, end, pageUp, pageDown
    case enter, escape, backspace, tab
    case resize(width: Int, height: Int)
    case mouseClick(x: Int, y: Int)
    case wheelUp, wheelDown

    public var description: String {
        switch self {
        case .char(let c): return String(c)
        case .ctrl(let c): return "Ctrl-\(c.uppercased())"
        case .up: return "↑"
        case .down: return "↓"
        case .left: return "←"
        case .right: return "→"
        case .home: return "Home"
        case .end: return "End"
        case .pageUp: return "PgUp"
        case .pageDown: return "PgDn"
        case .enter: return "Enter"
        case .escape: return "Esc"
        case .backspace: return "Backspace"
        case .tab: return "Tab"
        case .resize: return "resize"
        case .mouseClick: return "click"
        case .wheelUp: return "wheel up"
        case .wheelDown: return "wheel down"
        }
    }

    /// The description for a terminal without UTF-8 (arrows spelled out).
    public var asciiDescription: String {
        switch self {
        case .up: "Up"
        case .down: "Down"
        case .left: "Left"
        case .right: "Right"
        default: description
        }
    }
}

/// A key binding: keys, what they do, and the line the help overlay shows for them.
public struct Binding: Sendable {
    public var keys: [Key]
    public var action: ExplorerAction
    public var help: String
    /// Consecutive bindings with the same group share one line of the help overlay.
    public var group: String?

    public init(keys: [Key], action: ExplorerAction, help: String, group: String? = nil) {
        self.keys = keys
        self.action = action
        self.help = help
        self.group = group
    }
}

/// Every key of the explorer, as data: the help overlay is generated from this table.
public enum KeyBindings {
    public static let all: [Binding] = [
        Binding(keys: [.right, .char("l")], action: .stepForward, help: "step one event forward"),
        Binding(keys: [.left, .char("h")], action: .stepBackward, help: "step one event back"),
        Binding(keys: [.char("]"), .char("[")], action: .jump(seconds: 60), help: "jump a minute forward / back", group: "jump a minute / hour / day forward / back"),
        Binding(keys: [.char("}"), .char("{")], action: .jump(seconds: 3600), help: "jump an hour forward / back", group: "jump a minute / hour / day forward / back"),
        Binding(keys: [.char(")"), .char("(")], action: .jump(seconds: 86_400), help: "jump a day forward / back", group: "jump a minute / hour / day forward / back"),
        Binding(keys: [.home, .end], action: .goToStart, help: "before the first event / after the last"),
        Binding(keys: [.char("g")], action: .openGoto, help: "go to 09:14:05, 2026-01-02, +5m, -1h, #120, end…"),
        Binding(keys: [.down, .char("j")], action: .selectNextStream, help: "next stream", group: "next / previous stream; a page of them"),
        Binding(keys: [.up, .char("k")], action: .selectPreviousStream, help: "previous stream", group: "next / previous stream; a page of them"),
        Binding(keys: [.pageDown, .pageUp], action: .page(by: 1), help: "a page down / up", group: "next / previous stream; a page of them"),
        Binding(keys: [.char("f")], action: .openFilter, help: "filter the streams as you type (Esc clears)"),
        Binding(keys: [.char("@")], action: .selectEventStream, help: "select the stream of the event at the cursor"),
        Binding(keys: [.char("P")], action: .togglePin, help: "pin the stream to the top of the list (again: unpin)"),
        Binding(keys: [.char("s"), .char("S")], action: .nextEventOfStream, help: "next / previous event of the selected stream"),
        Binding(keys: [.tab], action: .toggleFocus, help: "focus streams / right pane (Enter folds, opens)"),
        Binding(keys: [.enter, .char("e")], action: .toggleEvent, help: "the event at the cursor, every field as written"),
        Binding(keys: [.char("y"), .char("Y")], action: .copy(path: false), help: "copy the value / the path (OSC 52)"),
        Binding(keys: [.char("d")], action: .toggleDiff, help: "changes since the previous event or the mark"),
        Binding(keys: [.char("m")], action: .toggleMark, help: "pin the mark the diff compares with (again: unpin)"),
        Binding(keys: [.char("O")], action: .toggleOverview, help: "every service at the cursor, recent changes first"),
        Binding(keys: [.char("i")], action: .openInvariant, help: "set an invariant; its breaks are marked x"),
        Binding(keys: [.char("x"), .char("X")], action: .nextBreak, help: "next / previous invariant break"),
        Binding(keys: [.char("/")], action: .openSearch, help: "search words, service:S stream:X type:T"),
        Binding(keys: [.char("n"), .char("N")], action: .nextMatch, help: "next / previous match"),
        Binding(keys: [.char("p")], action: .fieldProvenance, help: "the event that set the field (again: earlier)"),
        Binding(keys: [.char("o")], action: .toggleCausation, help: "causation: what caused this event, what it caused", group: "causation, saga (A: next), deliveries, read-model lag"),
        Binding(keys: [.char("a")], action: .toggleSaga, help: "saga: its steps, commands, retries, compensations", group: "causation, saga (A: next), deliveries, read-model lag"),
        Binding(keys: [.char("A")], action: .nextSaga, help: "the next saga", group: "causation, saga (A: next), deliveries, read-model lag"),
        Binding(keys: [.char("w")], action: .toggleDeliveries, help: "deliveries of this event's message: attempts, dedup", group: "causation, saga (A: next), deliveries, read-model lag"),
        Binding(keys: [.char("L")], action: .toggleLag, help: "the read model's lag (data.lagMs) over time", group: "causation, saga (A: next), deliveries, read-model lag"),
        Binding(keys: [.char("c")], action: .toggleStrategies, help: "the five strategies here: cost, agreement"),
        Binding(keys: [.char("t")], action: .switchStrategy, help: "switch the strategy that drives the view"),
        Binding(keys: [.char("v")], action: .verifyCache, help: "verify the cache against a full replay"),
        Binding(keys: [.char("z"), .char("Z")], action: .zoomIn, help: "zoom the timeline in / back out"),
        Binding(keys: [.char("F")], action: .toggleFollow, help: "follow the log as it grows"),
        Binding(keys: [.char(":")], action: .openCommand, help: "commands: goto, pin, filter, search, export FILE…"),
        Binding(keys: [.escape], action: .cancelWork, help: "cancel long work, close a view, clear the filter"),
        Binding(keys: [.char("?")], action: .toggleHelp, help: "show / hide this help"),
        Binding(keys: [.char("q"), .ctrl("c")], action: .quit, help: "quit"),
    ]

    /// Lines of the help overlay (bindings of one group share one).
    public static var helpRows: Int {
        var n = 0
        var last: String?
        for b in all {
            if b.group == nil || b.group != last { n += 1 }
            last = b.group
        }
        return n
    }

    /// The action a key means in normal mode (the second key of a pair means the reverse).
    public static func action(for key: Key) -> ExplorerAction? {
        for b in all {
            guard let i = b.keys.firstIndex(of: key) else { continue }
            switch (b.action, i) {
            case (.jump(let s), 1): return .jump(seconds: -s)
            case (.goToStart, 1): return .goToEnd
            case (.nextBreak, 1): return .previousBreak
            case (.nextMatch, 1): return .previousMatch
            case (.nextEventOfStream, 1): return .previousEventOfStream
            case (.page, 1): return .page(by: -1)
            case (.copy, 1): return .copy(path: true)
            case (.zoomIn, 1): return .zoomOut
            default: return b.action
            }
        }
        return nil
    }
}
