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
            For each of replay, diff, undo, squash and cache: events, diffs or days applied; wall time
            to reach T; bytes read from the store; the state's hash; whether it agrees with replay.
            Exit 1 when any strategy disagrees. Derived data is built first when needed (not timed).
            """
    )

    @OptionGroup var logOptions: LogOptions

    @Option(help: "The time: RFC 3339, epoch milliseconds, start or end (default: end).")
    var at: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    func execute(_ opened: OpenedLog) throws -> Bool {
        let (time, position) = try TimeArgument.resolve(at, in: opened.store)
        let hydrator = Hydrator(opened: opened)
        _ = try hydrator.derived()
        var rows: [(name: String, hydration: Hydration, seconds: Double)] = []
        for name in Hydrator.names {
            let start = DispatchTime.now().uptimeNanoseconds
            let h = try hydrator.hydrate(name, to: position)
            rows.append((name, h, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
        }
        // A hash serialises the whole state: once per strategy.
        let hashes = rows.map { $0.hydration.state.hash }
        let reference = hashes[0]
        var disagree = false
        var entries: [JSONValue] = []
        for (row, hash) in zip(rows, hashes) {
            let agrees = hash == reference
            if !agrees { disagree = true }
            var o: [String: JSONValue] = [
                "name": .string(row.name), "applied": .int(Int64(row.hydration.applied)),
                "seconds": .double(row.seconds), "bytes": .int(Int64(row.hydration.bytesRead)),
                "hash": .string(hash), "agrees": .bool(agrees),
            ]
            if row.name == "undo" {
                o["irreversible"] = .array(row.hydration.irreversibleCrossed.map {
                    .object(["id": .string($0.eventID), "line": .int(Int64($0.line)), "service": .string($0.service),
                             "stream": .string($0.stream), "type": .string($0.type)])
                })
            }
            entries.append(.object(o))
        }
        if json {
            Output.out(JSONValue.object(["at": .string(time.rfc3339), "position": .int(Int64(position)),
                                         "strategies": .array(entries)]).jsonText)
        } else {
            Output.out("\(Output.safe(opened.displayName)) at \(time.rfc3339): position \(position) of \(try opened.store.eventCount())")
            Output.out("")
            Output.out("strategy   applied      seconds        bytes  hash              agrees")
            for (row, hash) in zip(rows, hashes) {
                let name = row.name.padding(toLength: 8, withPad: " ", startingAt: 0)
                Output.out(name + String(format: " %9d %12.6f %12d  ", row.hydration.applied, row.seconds, row.hydration.bytesRead)
                           + hash + "  " + (hash == reference ? "yes" : "NO"))
            }
            let crossed = rows.first { $0.name == "undo" }!.hydration.irreversibleCrossed
            if !crossed.isEmpty {
                Output.out("")
                Output.out(UndoReport.text(crossed))
            }
        }
        return disagree || hydrator.foundDamage
    }
}
