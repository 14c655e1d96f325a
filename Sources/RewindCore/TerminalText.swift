extension Unicode.Scalar {
    /// What must never reach a terminal as it is: C0 controls, DEL and the C1 range (escape
    /// sequences), and the invisible or direction-changing — format characters (bidirectional
    /// overrides and isolates, zero-width spaces and joiners, the BOM, soft hyphens…) and the
    /// line and paragraph separators.
    public var isTerminalUnsafe: Bool {
        let v = value
        if v < 0x20 || (0x7F..<0xA0).contains(v) { return true }
        if v < 0xAD { return false }
        switch properties.generalCategory {
        case .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }

    /// How many terminal columns the scalar takes (as `wcwidth` would, without depending on the
    /// locale): 0 for combining marks, 2 for East Asian wide and fullwidth characters and emoji
    /// shown as emoji, 1 otherwise. Unsafe scalars are escaped before they are measured.
    public var terminalColumns: Int {
        let v = value
        if v < 0x300 { return 1 }
        switch properties.generalCategory {
        case .nonspacingMark, .enclosingMark: return 0
        default: break
        }
        if (0x1160...0x11FF).contains(v) { return 0 }  // Hangul vowels and finals join the syllable
        if properties.isEmojiPresentation { return 2 }
        for range in Unicode.Scalar.wideRanges where range.contains(v) { return 2 }
        return 1
    }

    /// East Asian Wide (W) and Fullwidth (F) blocks (Unicode's EastAsianWidth.txt, by block).
    static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x2329...0x232A, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
        0xA000...0xA4CF, 0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F,
        0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x16FE0...0x16FE4, 0x17000...0x18CFF, 0x1B000...0x1B2FF,
        0x1F200...0x1F2FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD,
    ]

    /// `\u{1b}` for an unsafe scalar: how rewind shows one as text.
    public var visibleEscape: String { "\\u{\(String(value, radix: 16))}" }
}

extension String {
    /// This text as rewind prints it: every scalar that `isTerminalUnsafe` shown as a `\u{…}`
    /// escape (text from outside — names, payloads, paths, arguments — is data). With
    /// `keepingNewlines`, `\n` stays (for messages of several lines).
    public func escapingForTerminal(keepingNewlines: Bool) -> String {
        guard unicodeScalars.contains(where: { $0.isTerminalUnsafe && !(keepingNewlines && $0 == "\n") }) else { return self }
        var out = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            if scalar.isTerminalUnsafe && !(keepingNewlines && scalar == "\n") {
                out.append(contentsOf: scalar.visibleEscape.unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// `escapingForTerminal(keepingNewlines: false)`: for one name or value.
    public var escapingForTerminal: String { escapingForTerminal(keepingNewlines: false) }
}
