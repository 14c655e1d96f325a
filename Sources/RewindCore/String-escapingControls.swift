extension Unicode.Scalar {
    /// C0 controls, DEL and the C1 range: what must never reach a terminal from a log.
    public var isTerminalControl: Bool { value < 0x20 || (0x7F..<0xA0).contains(value) }

    /// `\u{1b}` for a control scalar: how rewind shows one as text.
    public var visibleEscape: String { "\\u{\(String(value, radix: 16))}" }
}

extension String {
    /// This text with control characters shown as `\u{…}` escapes (text from a log is data).
    public var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: \.isTerminalControl) else { return self }
        var out = ""
        for scalar in unicodeScalars {
            if scalar.isTerminalControl { out += scalar.visibleEscape } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }
}
