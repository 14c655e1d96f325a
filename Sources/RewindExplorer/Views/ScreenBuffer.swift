import RewindCore

/// How a cell is drawn. Roles, not colours: the terminal maps them (or ignores colour).
public struct CellStyle: Hashable, Sendable {
    public var bold = false
    public var reverse = false
    public var dim = false
    public var underline = false
    public var role: Role = .normal

    public enum Role: Int, Sendable, CaseIterable { case normal, accent, warning, changed, marker }

    public init(bold: Bool = false, reverse: Bool = false, dim: Bool = false, underline: Bool = false, role: Role = .normal) {
        self.bold = bold
        self.reverse = reverse
        self.dim = dim
        self.underline = underline
        self.role = role
    }

    public static let plain = CellStyle()
    public static let title = CellStyle(bold: true, role: .accent)
    public static let selected = CellStyle(reverse: true)
    public static let faint = CellStyle(dim: true)
    public static let changed = CellStyle(bold: true, role: .changed)
    public static let warning = CellStyle(bold: true, role: .warning)
    public static let marker = CellStyle(bold: true, role: .marker)
    /// A search match: underlined, so that it differs from a heading (bold) and a changed field
    /// (marked `•`) without colour too.
    public static let match = CellStyle(underline: true, role: .accent)

    /// One letter per style, for golden screens: the styles a view uses, and `?` for any other.
    public var letter: Character {
        switch self {
        case .plain: " "
        case .title: "T"
        case .selected: "S"
        case .faint: "f"
        case .changed: "C"
        case .warning: "W"
        case .marker: "M"
        case .match: "u"
        case CellStyle(bold: true, reverse: true): "H"
        default: "?"
        }
    }
}

/// One screen cell: a character and its style. A wide character (CJK, emoji) takes two cells:
/// the first holds it, the second is its continuation (drawn by the first).
public struct Cell: Hashable, Sendable {
    public var character: Character
    public var style: CellStyle
    public var isContinuation = false

    public init(character: Character, style: CellStyle, isContinuation: Bool = false) {
        self.character = character
        self.style = style
        self.isContinuation = isContinuation
    }
}

/// An in-memory screen: views draw into it, tests read it back, the terminal module copies it
/// to ncurses. Text is drawn as data: control, invisible and direction-changing characters become
/// visible escapes, so nothing from a log can reach the terminal as a sequence. Wide characters
/// take two columns, combining marks none (they join the character before). With `ascii` set,
/// anything outside ASCII is shown as `?` (for terminals without UTF-8).
public struct ScreenBuffer: Sendable {
    public let width: Int
    public let height: Int
    public var ascii: Bool
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int, ascii: Bool = false) {
        self.width = max(0, width)
        self.height = max(0, height)
        self.ascii = ascii
        cells = Array(repeating: Cell(character: " ", style: .plain), count: self.width * self.height)
    }

    /// One thing drawn: a character and the columns it takes (1 or 2).
    public struct Glyph: Equatable, Sendable {
        public var character: Character
        public var columns: Int
    }

    /// Text safe to draw: unsafe scalars as `\u{…}`, combining marks joined to the glyph before
    /// them (or to a space), non-ASCII as `?` in ASCII mode.
    public static func glyphs(_ text: String, ascii: Bool) -> [Glyph] {
        var out: [Glyph] = []
        for scalar in text.unicodeScalars {
            if scalar.isTerminalUnsafe {
                out.append(contentsOf: scalar.visibleEscape.map { Glyph(character: $0, columns: 1) })
            } else if scalar.value < 0x7F {
                out.append(Glyph(character: Character(scalar), columns: 1))
            } else if ascii {
                // Our own punctuation has an ASCII spelling; anything else from a log becomes `?`.
                for c in ScreenBuffer.asciiSpelling[scalar] ?? "?" { out.append(Glyph(character: c, columns: 1)) }
            } else {
                let columns = scalar.terminalColumns
                if columns == 0 {
                    var base = out.popLast() ?? Glyph(character: " ", columns: 1)
                    base.character = Character(String(base.character) + String(scalar))
                    out.append(base)
                } else {
                    out.append(Glyph(character: Character(scalar), columns: columns))
                }
            }
        }
        return out
    }

    /// `text` cut to `columns` in the middle (`transfers/…-00011836`), so that both the start
    /// and the end of a long name stay readable.
    public static func middle(_ text: String, columns: Int, ascii: Bool = false) -> String {
        let g = glyphs(text, ascii: ascii)
        let total = g.reduce(0) { $0 + $1.columns }
        guard total > columns else { return text }
        guard columns > 1 else { return columns == 1 ? (ascii ? "~" : "…") : "" }
        let keep = columns - 1
        var head = "", tail = "", used = 0
        var i = 0, j = g.count - 1
        var headCols = 0, tailCols = 0
        while used < keep {
            if headCols <= tailCols + 1, i <= j, used + g[i].columns <= keep {
                head.append(g[i].character); headCols += g[i].columns; used += g[i].columns; i += 1
            } else if j >= i, used + g[j].columns <= keep {
                tail = String(g[j].character) + tail; tailCols += g[j].columns; used += g[j].columns; j -= 1
            } else { break }
        }
        return head + (ascii ? "~" : "…") + tail
    }

    /// The end of `text` in `columns`, `…` first when it is longer (what is being typed).
    public static func tail(_ text: String, columns: Int, ascii: Bool = false) -> String {
        let g = glyphs(text, ascii: ascii)
        guard g.reduce(0, { $0 + $1.columns }) > columns else { return text }
        var out = "", used = 0
        for glyph in g.reversed() {
            guard used + glyph.columns <= columns - 1 else { break }
            out = String(glyph.character) + out
            used += glyph.columns
        }
        return (ascii ? "~" : "…") + out
    }

    /// `text` cut to `columns` at the end with `…` when it is longer.
    public static func truncated(_ text: String, columns: Int, ascii: Bool = false) -> String {
        let g = glyphs(text, ascii: ascii)
        guard g.reduce(0, { $0 + $1.columns }) > columns else { return text }
        var out = "", used = 0
        for glyph in g {
            guard used + glyph.columns <= columns - 1 else { break }
            out.append(glyph.character)
            used += glyph.columns
        }
        return out + (ascii ? "~" : "…")
    }

    static let asciiSpelling: [Unicode.Scalar: String] = [
        "…": "...", "↑": "^", "↓": "v", "←": "<", "→": ">", "▲": "^", "│": "|", "─": "-", "•": "*", "◆": "*",
        "▾": "-", "▸": "+", "–": "-", "—": "-", "►": ">", "×": "x", "≤": "<=", "≥": ">=",
    ]

    /// The columns `text` takes when drawn.
    public static func columns(_ text: String, ascii: Bool = false) -> Int {
        glyphs(text, ascii: ascii).reduce(0) { $0 + $1.columns }
    }

    /// Writes one cell, keeping wide characters whole: a wide character whose half is written
    /// over becomes a space.
    mutating func set(_ x: Int, _ y: Int, _ cell: Cell) {
        let i = y * width + x
        if cells[i].isContinuation, x > 0, !cell.isContinuation { cells[i - 1] = Cell(character: " ", style: cells[i - 1].style) }
        if x + 1 < width, cells[i + 1].isContinuation { cells[i + 1] = Cell(character: " ", style: cells[i + 1].style) }
        cells[i] = cell
    }

    /// Draws `text` at (x, y), clipped to the screen and to `maxWidth` columns (a wide character
    /// that would not fit is not drawn). Returns the number of columns drawn.
    @discardableResult
    public mutating func put(_ x: Int, _ y: Int, _ text: String, _ style: CellStyle = .plain, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height, x < width else { return 0 }
        let limit = min(width - max(x, 0), maxWidth ?? Int.max)
        var column = x
        var drawn = 0
        for glyph in ScreenBuffer.glyphs(text, ascii: ascii) {
            guard drawn + glyph.columns <= limit else { break }
            if glyph.columns == 2 {
                if column >= 0 {
                    set(column, y, Cell(character: glyph.character, style: style))
                    set(column + 1, y, Cell(character: " ", style: style, isContinuation: true))
                } else if column + 1 >= 0 {
                    set(column + 1, y, Cell(character: " ", style: style))
                }
            } else if column >= 0 {
                set(column, y, Cell(character: glyph.character, style: style))
            }
            column += glyph.columns
            drawn += glyph.columns
        }
        return drawn
    }

    /// `put`, ending in `…` when the text does not fit (so that a cut is seen as one).
    @discardableResult
    public mutating func clip(_ x: Int, _ y: Int, _ text: String, _ style: CellStyle = .plain, maxWidth: Int? = nil) -> Int {
        let limit = min(width - max(x, 0), maxWidth ?? Int.max)
        guard limit > 0 else { return 0 }
        return put(x, y, ScreenBuffer.truncated(text, columns: limit, ascii: ascii), style, maxWidth: limit)
    }

    /// Our own glyphs: `unicode` normally, `fallback` on an ASCII terminal.
    public func glyph(_ unicode: String, _ fallback: String) -> String { ascii ? fallback : unicode }

    public mutating func fill(_ x: Int, _ y: Int, _ w: Int, _ character: Character = " ", _ style: CellStyle = .plain) {
        guard y >= 0, y < height, max(0, x) < min(width, x + w) else { return }
        for column in max(0, x)..<min(width, x + w) { set(column, y, Cell(character: character, style: style)) }
    }

    public mutating func setStyle(_ x: Int, _ y: Int, _ w: Int, _ style: CellStyle) {
        guard y >= 0, y < height, max(0, x) < min(width, x + w) else { return }
        for column in max(0, x)..<min(width, x + w) { cells[y * width + column].style = style }
    }

    public func cell(_ x: Int, _ y: Int) -> Cell { cells[y * width + x] }

    /// The screen as text, one string per row (trailing spaces kept; a wide character once).
    public var lines: [String] {
        (0..<height).map { y in String(cells[(y * width)..<((y + 1) * width)].filter { !$0.isContinuation }.map(\.character)) }
    }

    public var text: String { lines.joined(separator: "\n") }

    /// The styles, one letter per cell (`CellStyle.letter`), one string per row.
    public var styleLines: [String] {
        (0..<height).map { y in String(cells[(y * width)..<((y + 1) * width)].map(\.style.letter)) }
    }
}
