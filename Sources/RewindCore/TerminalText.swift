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
