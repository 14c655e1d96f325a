import Foundation
import RewindCore

/// Writing to the terminal. Text that comes from a log goes through `safe` (or JSON
/// escaping), so control characters and escape sequences are shown, never sent.
enum Output {
    static let stderrIsTerminal = isatty(2) == 1

    /// A line of text to stdout, escaped for the terminal (it holds names and paths from outside).
    static func out(_ text: String) {
        write(Array((text.escapingForTerminal(keepingNewlines: true) + "\n").utf8))
    }

    /// Raw bytes to stdout (`fd` 1) or stderr (2). Standard output that cannot be written (a full
    /// disk, a closed pipe) ends the command with exit 2 and says so on stderr — never a crash;
    /// a failing stderr is ignored (there is nowhere left to say it).
    static func write(_ bytes: [UInt8], to fd: Int32 = 1) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    guard fd == 1 else { return }
                    let why = String(cString: strerror(errno))
                    write(Array("rewind: standard output: writing failed (\(why))\n".utf8), to: 2)
                    Foundation.exit(2)
                }
                offset += n
            }
        }
    }

    /// An error to stderr. Every message is escaped here, whatever it quotes (file names,
    /// arguments, rules keys, YAML context): nothing from outside reaches the terminal raw.
    static func error(_ text: String) {
        write(Array(("rewind: " + text.escapingForTerminal(keepingNewlines: true) + "\n").utf8), to: 2)
    }

    /// A diagnostic that already names its file (`FILE:LINE: …`), escaped as `error` is.
    static func diagnostic(_ text: String) {
        // A progress bar being drawn on the line is cleared first (it is redrawn after).
        let clear = ProgressBar.drawing ? "\r\u{1B}[K" : ""
        write(Array((clear + text.escapingForTerminal(keepingNewlines: true) + "\n").utf8), to: 2)
    }

    /// One name or value from outside, escaped (a newline too) — for text built into a message.
    static func safe(_ text: String) -> String { text.escapingForTerminal }
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
final class ProgressBar {
    /// A bar is on the terminal's last line now.
    nonisolated(unsafe) static var drawing = false
    let label: String
    let enabled: Bool
    var lastDraw = Date.distantPast
    let started = Date()

    init(label: String) {
        self.label = label
        enabled = Output.stderrIsTerminal
    }

    func update(_ done: Int64, of total: Int64) {
        guard enabled, total > 0 else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.1 || done >= total else { return }
        lastDraw = now
        let fraction = min(1, Double(done) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let elapsed = now.timeIntervalSince(started)
        // How long is left, once enough is done to tell.
        let left = fraction > 0.02 && elapsed > 0.5 && fraction < 1 ? String(format: ", about %.0f s left", elapsed / fraction - elapsed) : ""
        let line = String(format: "\r%@ [%@] %3d%%  %.0f s%@ \u{1B}[K", label, bar, Int(fraction * 100), elapsed, left)
        Output.write(Array(line.utf8), to: 2)
        ProgressBar.drawing = true
    }

    func finish() {
        guard enabled, lastDraw != .distantPast else { return }
        Output.write(Array("\r\u{1B}[K".utf8), to: 2)
        ProgressBar.drawing = false
    }
}
