import RewindCore

/// How a cell is drawn. Roles, not colours: the terminal maps them (or ignores colour).
public struct CellStyle: Hashable, Sendable {
    public var bold = false
    public var reverse = false
    public var dim = false
    public var role: Role = .normal

    public enum Role: Int, Sendable, CaseIterable { case normal, accent, warning, changed, marker }

    public init(bold: Bool = false, reverse: Bool = false, dim: Bool = false, role: Role = .normal) {
        self.bold = bold
        self.reverse = reverse
        self.dim = dim
        self.role = role
    }

    public static let plain = CellStyle()
    public static let title = CellStyle(bold: true, role: .accent)
    public static let selected = CellStyle(reverse: true)
    public static let faint = CellStyle(dim: true)
    public static let changed = CellStyle(bold: true, role: .changed)
    public static let warning = CellStyle(bold: true, role: .warning)
    public static let marker = CellStyle(bold: true, role: .marker)
}

/// One screen cell: a single-column character and its style.
public struct Cell: Hashable, Sendable {
    public var character: Character
    public var style: CellStyle
}

/// An in-memory screen: views draw into it, tests read it back, the terminal module copies it
/// to ncurses. Text is drawn as data: control characters become visible escapes, so nothing from
/// a log can reach the terminal as a sequence. With `ascii` set, anything outside ASCII is shown
/// as `?` (for terminals without UTF-8).
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

    /// Text safe to draw: control characters (C0, DEL, C1) as `\u{…}`, wide or combining
    /// characters as `?`, and non-ASCII as `?` in ASCII mode — one column per character.
    public static func displayable(_ text: String, ascii: Bool) -> [Character] {
        var out: [Character] = []
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if scalar.isTerminalUnsafe {
                out.append(contentsOf: scalar.visibleEscape)
            } else if v < 0x7F {
                out.append(Character(scalar))
            } else if ascii || scalar.properties.generalCategory == .nonspacingMark
                        || scalar.properties.isEmojiPresentation || (0x1100...0x115F).contains(v)
                        || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v)
                        || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v)
                        || (0xFF00...0xFF60).contains(v) || (0xFFE0...0xFFE6).contains(v) || v >= 0x1F000 {
                out.append("?")
            } else {
                out.append(Character(scalar))
            }
        }
        return out
    }

    /// Draws `text` at (x, y), clipped to the screen and to `maxWidth` columns. Returns the
    /// number of columns drawn.
    @discardableResult
    public mutating func put(_ x: Int, _ y: Int, _ text: String, _ style: CellStyle = .plain, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height, x < width else { return 0 }
        let limit = min(width - max(x, 0), maxWidth ?? Int.max)
        var column = x
        var drawn = 0
        for c in ScreenBuffer.displayable(text, ascii: ascii) {
            guard drawn < limit else { break }
            if column >= 0 { cells[y * width + column] = Cell(character: c, style: style) }
            column += 1
            drawn += 1
        }
        return drawn
    }

    /// Our own glyphs: `unicode` normally, `fallback` on an ASCII terminal.
    public func glyph(_ unicode: String, _ fallback: String) -> String { ascii ? fallback : unicode }

    public mutating func fill(_ x: Int, _ y: Int, _ w: Int, _ character: Character = " ", _ style: CellStyle = .plain) {
        guard y >= 0, y < height else { return }
        for column in max(0, x)..<min(width, x + w) { cells[y * width + column] = Cell(character: character, style: style) }
    }

    public mutating func setStyle(_ x: Int, _ y: Int, _ w: Int, _ style: CellStyle) {
        guard y >= 0, y < height else { return }
        for column in max(0, x)..<min(width, x + w) { cells[y * width + column].style = style }
    }

    public func cell(_ x: Int, _ y: Int) -> Cell { cells[y * width + x] }

    /// The screen as text, one string per row (trailing spaces kept).
    public var lines: [String] {
        (0..<height).map { y in String(cells[(y * width)..<((y + 1) * width)].map(\.character)) }
    }

    public var text: String { lines.joined(separator: "\n") }
}
