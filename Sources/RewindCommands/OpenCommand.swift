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
            Keys: f follows a growing log; ←/→ (h/l) step an event, [ ] a minute, { } an hour, ( ) a day, Home/End, g go to a
            time, ↑/↓ (k/j) choose a stream, ? all keys, q or Ctrl-C quit. Click the timeline to jump.
            When standard input or output is not a terminal, prints the state at the end instead.
            NO_COLOR turns colours off; REWIND_ASCII=1 draws with ASCII only.
            """
    )

    @OptionGroup var logOptions: LogOptions

    func execute(_ opened: OpenedLog) throws -> Bool {
        guard isatty(0) == 1 && isatty(1) == 1 else {
            let count = try opened.store.eventCount()
            let h = try Hydrator(opened: opened).hydrate("replay", to: count)
            let at = count > 0 ? try opened.store.event(at: count - 1).ts : Timestamp(nanoseconds: 0)
            Output.out(StateText.render(h.state, at: at, position: count, total: count, log: opened.displayName))
            return !h.issues.isEmpty
        }
        let hydrator = Hydrator(opened: opened)
        // Follow mode re-runs the importer on the same store: only the new tail is read.
        var reimport: (() throws -> Void)?
        if let source = opened.sourcePath, opened.rebuildable {
            let store = opened.store
            let quarantine = LogOpener.quarantinePath(forLog: source)
            reimport = {
                let importer = JSONLImporter(path: source, store: store, quarantinePath: quarantine)
                if let format = try store.checkpoint().flatMap({ LogFormat(rawValue: $0.format) }) { importer.format = format }
                _ = try importer.run()
            }
        }
        let data = try StoreExplorerData(opened: opened, hydrator: hydrator, reimport: reimport)
        let explorer = try Explorer(data: data, width: 80, height: 24)
        explorer.ascii = ProcessInfo.processInfo.environment["REWIND_ASCII"] == "1"
        do {
            try Terminal.run(explorer)
        } catch let error as TerminalError {
            throw UsageError(message: error.message)
        }
        return hydrator.foundDamage
    }
}
