import ArgumentParser
import Foundation
import RewindCore
import RewindStore

/// `rewind state LOG --at T [--service S] [--stream X] [--strategy NAME] [--json]`
struct StateCommand: LogCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Print every service's state at a point in time.",
        discussion: """
            The state at T applies every event with ts <= T. --at takes what ts takes (RFC 3339, or integer epoch milliseconds), or `start` / `end`; without --at, the end of the log.

            With --json, stdout is exactly one JSON object: {"at": "<RFC 3339 UTC>", "position": <events applied>, "services": {...}}.

            The default strategy, undo, is the fastest measured: it reaches any T through the timeline index from the keyframe after T with at most 4 096 inverses; replay folds the whole log from the start. With --strategy undo the irreversible events it crossed are listed.

            Example: rewind state sample-logs/bank.jsonl --at 2026-03-02T09:14:07Z --service accounts --json
            """
    )

    @OptionGroup var logOptions: LogOptions

    @Option(parsing: .unconditional, help: "The time: RFC 3339 (2026-03-02T09:14:07Z), epoch milliseconds (negative before 1970), start or end.")
    var at: String?

    @Option(help: "Only this service.")
    var service: String?

    @Option(help: "Only this stream.")
    var stream: String?

    @Option(help: "The hydration strategy: \(Strategies.names.joined(separator: ", ")).")
    var strategy: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        if let strategy, !Strategies.names.contains(strategy) {
            throw ValidationError("unknown strategy '\(Output.safe(strategy))' (available: \(Strategies.names.joined(separator: ", ")))")
        }
    }

    func execute(_ opened: OpenedLog) throws -> Bool {
        var problems = false
        let store = opened.store
        let (time, position) = try TimeArgument.resolve(at, in: opened)
        let hydration = try opened.strategies().hydrate(strategy ?? Strategies.fastest, to: position)
        // What undo crossed is said when undo was asked for, not for the default's own path.
        if strategy == "undo" && !hydration.crossed.isEmpty && !json {
            Output.diagnostic(try UndoReport.text(hydration.crossed, store: store))
        }
        let log = opened.sourcePath ?? opened.displayName
        for issue in hydration.issues.prefix(20) {
            Output.diagnostic("\(Output.safe(log)):\(issue.line): \(Output.safe(issue.message))")
        }
        if hydration.issues.count > 20 {
            Output.diagnostic("\(Output.safe(log)): … and \(hydration.issues.count - 20) more ops skipped before this point")
        }
        if !hydration.issues.isEmpty { problems = true }
        if json {
            try StateJSON.write(hydration.state, service: service, stream: stream, at: time, position: hydration.position)
        } else {
            Output.out(StateText.render(try hydration.state.materialized(service: service, stream: stream), at: time,
                                        position: hydration.position, total: opened.index.count, log: opened.displayName))
        }
        return problems
    }
}

/// Resolves `--at` against a log's timeline.
enum TimeArgument {
    /// T and its position, read from the index (checked: a damaged chunk is never a time).
    static func resolve(_ text: String?, in opened: OpenedLog) throws -> (Timestamp, Int) {
        let resolved = try resolveUnchecked(text, in: opened)
        try opened.index.image.check()
        return resolved
    }

    static func resolveUnchecked(_ text: String?, in opened: OpenedLog) throws -> (Timestamp, Int) {
        let count = opened.index.count
        switch text?.lowercased() {
        case nil, "end", "now", "latest":
            guard count > 0 else { return (Timestamp(nanoseconds: 0), 0) }
            return (opened.index.timestamp(at: count - 1), count)
        case "start":
            guard count > 0 else { return (Timestamp(nanoseconds: 0), 0) }
            let first = opened.index.timestamp(at: 0)
            return (first, opened.index.position(at: first))
        default:
            let t: Timestamp
            do throws(TimestampError) {
                t = try Timestamp.parse(text!)
            } catch {
                throw UsageError(message: "--at: \(error.message)")
            }
            return (t, opened.index.position(at: t))
        }
    }
}

enum StateJSON {
    /// The state as one JSON object (`ReachedState.specJSON`), written whole.
    static func write(_ state: ReachedState, service: String?, stream: String?, at time: Timestamp, position: Int) throws {
        Output.write(try state.specJSON(service: service, stream: stream, at: time, position: position))
    }
}

/// The readable (non-JSON) state: one block per service and stream.
enum StateText {
    static func render(_ state: State, at time: Timestamp, position: Int, total: Int, log: String) -> String {
        var lines = ["\(Output.safe(log)) at \(time.rfc3339): \(position) of \(total) events applied", ""]
        if state.services.isEmpty { lines.append("(no state)") }
        for service in state.services.keys.sorted() {
            let streams = state.services[service]!
            lines.append("\(Output.safe(service.string)) (\(streams.count) stream\(streams.count == 1 ? "" : "s"))")
            for stream in streams.keys.sorted() {
                let doc = streams[stream]!.prettyText(indent: 1)
                lines.append("  \(Output.safe(stream.string)): \(doc)")
            }
            lines.append("")
        }
        return lines.joined(separator: "\n")
    }
}

/// What the undo strategy could not take back.
enum UndoReport {
    static func text(_ crossed: [Int], store: any EventStore) throws -> String {
        var lines = ["undo crossed \(crossed.count) irreversible event\(crossed.count == 1 ? "" : "s"): the state is rewound, but their effects outside the store remain:"]
        for p in crossed.prefix(20) {
            let e = try store.event(at: p)
            lines.append("  line \(e.line): \(Output.safe(e.id)) \(Output.safe(e.service))/\(Output.safe(e.stream)) \(Output.safe(e.type))")
        }
        if crossed.count > 20 { lines.append("  … and \(crossed.count - 20) more") }
        return lines.joined(separator: "\n")
    }
}
