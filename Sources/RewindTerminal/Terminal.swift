import CNcursesw
import Foundation
import RewindExplorer

/// The one place that talks to ncurses: it copies the explorer's screen buffer to the terminal,
/// turns key codes into `Key`s, and always gives the terminal back — on `q`, on Ctrl-C (a key in
/// raw mode), on SIGTERM/SIGHUP, and on a crash.
public enum Terminal {
    nonisolated(unsafe) static var active = false

    /// Runs the explorer until it quits.
    public static func run(_ explorer: Explorer) throws {
        rw_setlocale()
        // A parent that blocks signals must not keep resizes from us.
        var winch = sigset_t()
        sigemptyset(&winch)
        sigaddset(&winch, SIGWINCH)
        sigprocmask(SIG_UNBLOCK, &winch, nil)
        guard initscr() != nil else { throw TerminalError(message: "cannot start the terminal UI (TERM=\(ProcessInfo.processInfo.environment["TERM"] ?? "unset"))") }
        active = true
        installRestoreHandlers()
        defer { restore() }
        raw()
        noecho()
        keypad(rw_stdscr(), true)
        set_escdelay(25)
        curs_set(0)
        rw_enable_mouse()
        let colors = has_colors() && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
        if colors {
            start_color()
            use_default_colors()
            init_pair(1, Int16(COLOR_CYAN), -1)
            init_pair(2, Int16(COLOR_YELLOW), -1)
            init_pair(3, Int16(COLOR_GREEN), -1)
            init_pair(4, Int16(COLOR_MAGENTA), -1)
        }
        explorer.ascii = explorer.ascii || !localeIsUTF8
        let driver = ExplorerDriver(explorer: explorer)
        driver.copyToClipboard = copy
        try driver.send(.resized(width: Int(rw_cols()), height: Int(rw_lines())))
        var lastTick = DispatchTime.now().uptimeNanoseconds
        while !explorer.state.quit {
            try driver.poll()
            draw(try ExplorerView.render(explorer), colors: colors)
            // While work runs, wake often to show how far it got; else twice a second, so follow
            // mode can read appended lines.
            wtimeout(rw_stdscr(), driver.isBusy ? 50 : 500)
            if let key = readKey() {
                try driver.handle(key)
            }
            let now = DispatchTime.now().uptimeNanoseconds
            if explorer.state.follow && now - lastTick >= 500_000_000 {
                lastTick = now
                try driver.send(.ticked)
            }
        }
    }

    /// Puts text on the terminal's clipboard: OSC 52, which terminals (and tmux with
    /// `set-clipboard on`) honour; the text is base64, so nothing in it reaches the terminal raw.
    static func copy(_ text: String) {
        let sequence = "\u{1b}]52;c;" + Data(text.utf8).base64EncodedString() + "\u{07}"
        var bytes = Array(sequence.utf8)
        _ = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
    }

    static var localeIsUTF8: Bool {
        guard let codeset = nl_langinfo(nl_item(CODESET)) else { return false }
        return String(cString: codeset).uppercased().replacingOccurrences(of: "-", with: "") == "UTF8"
    }

    static func attribute(_ style: CellStyle, colors: Bool) -> Int32 {
        var a: Int32 = 0
        if style.bold { a |= rw_a_bold() }
        if style.reverse { a |= rw_a_reverse() }
        if style.dim { a |= rw_a_dim() }
        if style.underline { a |= rw_a_underline() }
        if colors {
            switch style.role {
            case .normal: break
            case .accent: a |= rw_color_pair(1)
            case .warning: a |= rw_color_pair(2)
            case .changed: a |= rw_color_pair(3)
            case .marker: a |= rw_color_pair(4)
            }
        }
        return a
    }

    /// Copies the buffer, a run of equally styled cells at a time.
    static func draw(_ buffer: ScreenBuffer, colors: Bool) {
        erase()
        for y in 0..<buffer.height {
            var x = 0
            while x < buffer.width {
                let style = buffer.cell(x, y).style
                var run = ""
                let start = x
                while x < buffer.width && buffer.cell(x, y).style == style {
                    // A wide character's continuation cell is drawn by the character itself.
                    if !buffer.cell(x, y).isContinuation { run.append(buffer.cell(x, y).character) }
                    x += 1
                }
                // The last column of the last row would scroll the screen: leave it out.
                if y == buffer.height - 1 && x == buffer.width { run = String(run.dropLast()) }
                _ = rw_addstr_attr(Int32(y), Int32(start), run, attribute(style, colors: colors))
            }
        }
        refresh()
    }

    static func readKey() -> Key? {
        var ch: wint_t = 0
        let rc = wget_wch(rw_stdscr(), &ch)
        if rc == rw_err() { return nil }
        if rc == KEY_CODE_YES {
            switch Int32(ch) {
            case KEY_UP: return .up
            case KEY_DOWN: return .down
            case KEY_LEFT: return .left
            case KEY_RIGHT: return .right
            case KEY_HOME: return .home
            case KEY_END: return .end
            case KEY_PPAGE: return .pageUp
            case KEY_NPAGE: return .pageDown
            case KEY_ENTER: return .enter
            case KEY_BACKSPACE: return .backspace
            case rw_key_resize(): return .resize(width: Int(rw_cols()), height: Int(rw_lines()))
            case rw_key_mouse():
                var x: Int32 = 0, y: Int32 = 0
                switch rw_mouse_event(&x, &y) {
                case 1: return .mouseClick(x: Int(x), y: Int(y))
                case 2: return .wheelUp
                case 3: return .wheelDown
                default: return nil
                }
            default: return nil
            }
        }
        switch ch {
        case 3: return .ctrl("c")
        case 9: return .tab
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        case 1...26: return .ctrl(Character(Unicode.Scalar(UInt8(ch) + 96)))
        default:
            guard let scalar = Unicode.Scalar(UInt32(ch)) else { return nil }
            return .char(Character(scalar))
        }
    }

    /// Gives the terminal back (idempotent).
    public static func restore() {
        guard active else { return }
        active = false
        endwin()
    }

    static func installRestoreHandlers() {
        let handler: @convention(c) (Int32) -> Void = { signal in
            Terminal.restore()
            Glibc.signal(signal, SIG_DFL)
            raise(signal)
        }
        for s in [SIGTERM, SIGHUP, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGQUIT] { signal(s, handler) }
        atexit { Terminal.restore() }
    }
}

public struct TerminalError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
