import ArgumentParser
import Foundation
import RewindCore
import RewindExplorer
import RewindStore
import RewindTerminal

/// `rewind LOG` / `rewind open LOG`: the terminal UI.
struct OpenCommand: LogCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Explore the log in the terminal: scrub every service's state through time.",
        discussion: """
            Keys: ←/→ (h/l) step an event; [ ] a minute, { } an hour, ( ) a day; g goes to a time (09:14:05, 2026-01-02, +5m, #120, start, end); ↑/↓ (k/j) choose a stream, f filters the list, P pins one, s/S its next/previous event; Enter shows the event; / searches; ? lists every key; q or Ctrl-C quits. Click the timeline to jump.

            When standard input or output is not a terminal, prints the state at the end instead. NO_COLOR turns colours off; REWIND_ASCII=1 draws with ASCII only. Values copied with y are also printed on exit.

            Example: rewind open sample-logs/bank.jsonl
            """
    )

    @OptionGroup var logOptions: LogOptions

    func execute(_ opened: OpenedLog) throws -> Bool {
        guard isatty(0) == 1 && isatty(1) == 1 else {
            let count = opened.index.count
            let h = try opened.strategies().hydrate(Strategies.defaultName, to: count)
            let at = count > 0 ? opened.index.timestamp(at: count - 1) : Timestamp(nanoseconds: 0)
            try opened.index.image.check()
            Output.out(StateText.render(try h.state.materialized(), at: at, position: count, total: count, log: opened.displayName))
            return !h.issues.isEmpty
        }
        let data = StoreExplorerData(opened: opened)
        let explorer = try Explorer(data: data, width: 80, height: 24)
        explorer.ascii = ProcessInfo.processInfo.environment["REWIND_ASCII"] == "1"
        // A long-running reader holds no lock: other processes may import and index meanwhile
        // (follow mode takes the lock for each step it imports).
        opened.lock.unlock()
        // From here the UI owns the terminal: follow mode's imports and index builds say nothing
        // on stderr (it would scramble the screen); the UI tells what they did.
        opened.maintenance.onProgress = { _, _ in }
        opened.maintenance.onNotice = { _ in }
        do {
            try Terminal.run(explorer)
        } catch let error as TerminalError {
            throw UsageError(message: error.message)
        }
        // What was copied (y / Y), printed once the terminal is back: for terminals without OSC 52.
        for text in explorer.state.copied { Output.out(text + "\n") }
        return false
    }
}
