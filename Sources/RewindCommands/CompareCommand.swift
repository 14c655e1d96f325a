import ArgumentParser
import Foundation
import RewindCore
import RewindStore

/// `rewind compare LOG --at T [--json]`: every strategy at T, and whether it agrees with replay.
struct CompareCommand: LogCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Reach T with every hydration strategy and compare cost and result.",
        discussion: """
            For each of replay, diff, undo, squash and cache: events, diffs or days applied; wall time to reach T; bytes read from the store or the timeline index; the state's hash; whether it agrees with replay. Exit 1 when any strategy disagrees. The index is built first when needed (not timed); hashing a state is not timed either.

            Example: rewind compare sample-logs/bank.jsonl --at 2026-03-02T09:14:07Z
            """
    )

    @OptionGroup var logOptions: LogOptions

    @Option(parsing: .unconditional, help: "The time: RFC 3339, epoch milliseconds (negative before 1970), start or end (default: end).")
    var at: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    func execute(_ opened: OpenedLog) throws -> Bool {
        let (time, position) = try TimeArgument.resolve(at, in: opened)
        let runs = try opened.strategies().compare(at: position)
        let disagree = runs.contains { !$0.agrees }
        let undo = runs.first { $0.name == "undo" }!
        let crossed = try undo.crossed.map { try opened.store.event(at: $0) }
        if json {
            let entries: [JSONValue] = runs.map { run in
                var o: [JSONKey: JSONValue] = [
                    "name": .string(run.name), "applied": .int(Int64(run.applied)), "seconds": .double(run.seconds),
                    "bytes": .int(Int64(run.bytesRead)), "hash": .string(run.hash), "agrees": .bool(run.agrees),
                ]
                if run.name == "undo" {
                    o["irreversible"] = .array(crossed.map {
                        .object(["id": .string($0.id), "line": .int(Int64($0.line)), "service": .string($0.service),
                                 "stream": .string($0.stream), "type": .string($0.type)])
                    })
                }
                return .object(o)
            }
            Output.out(JSONValue.object(["at": .string(time.rfc3339), "position": .int(Int64(position)),
                                         "strategies": .array(entries)]).jsonText)
        } else {
            Output.out("\(Output.safe(opened.displayName)) at \(time.rfc3339): position \(position) of \(opened.index.count)")
            Output.out("")
            Output.out("strategy   applied      seconds        bytes  hash              agrees")
            for run in runs {
                let name = run.name.padding(toLength: 8, withPad: " ", startingAt: 0)
                Output.out(name + String(format: " %9d %12.6f %12d  ", run.applied, run.seconds, run.bytesRead)
                           + run.hash + "  " + (run.agrees ? "yes" : "NO"))
            }
            if !undo.crossed.isEmpty {
                Output.out("")
                Output.out(try UndoReport.text(undo.crossed, store: opened.store))
            }
        }
        return disagree
    }
}
