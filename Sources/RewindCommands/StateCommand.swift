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
            The state at T applies every event with ts <= T. --at takes what ts takes (RFC 3339,
            or integer epoch milliseconds), or `start` / `end`; without --at, the end of the log.
            With --json, stdout is exactly one JSON object:
            {"at": "<RFC 3339 UTC>", "position": <events applied>, "services": {...}}.
            """
    )

    @OptionGroup var logOptions: LogOptions

    @Option(help: "The time: RFC 3339 (2026-03-02T09:14:07Z), epoch milliseconds, start or end.")
    var at: String?

    @Option(help: "Only this service.")
    var service: String?

    @Option(help: "Only this stream.")
    var stream: String?

    @Option(help: "The hydration strategy: \(Hydrator.names.joined(separator: ", ")).")
    var strategy: String = "replay"

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard Hydrator.names.contains(strategy) else {
            throw ValidationError("unknown strategy '\(strategy)' (available: \(Hydrator.names.joined(separator: ", ")))")
        }
    }

    func execute(_ opened: OpenedLog) throws -> Bool {
        var problems = false
        let store = opened.store
        let (time, position) = try TimeArgument.resolve(at, in: store)
        let hydrator = Hydrator(opened: opened)
        let hydration = try hydrator.hydrate(strategy, to: position)
        if hydrator.foundDamage { problems = true }
        if !hydration.irreversibleCrossed.isEmpty && !json {
            Output.diagnostic(UndoReport.text(hydration.irreversibleCrossed))
        }
        for issue in hydration.issues {
            Output.diagnostic("\(opened.sourcePath ?? opened.displayName):\(issue.line): \(Output.safe(issue.message))")
        }
        if !hydration.issues.isEmpty { problems = true }
        let state = hydration.state.narrowed(service: service, stream: stream)
        if json {
            StateJSON.write(state, at: time, position: hydration.position)
        } else {
            Output.out(StateText.render(state, at: time, position: hydration.position,
                                        total: try store.eventCount(), log: opened.displayName))
        }
        return problems
    }
}

/// Resolves `--at` against a timeline.
enum TimeArgument {
    static func resolve(_ text: String?, in source: any EventSource) throws -> (Timestamp, Int) {
        let count = try source.eventCount()
        switch text?.lowercased() {
        case nil, "end", "now", "latest":
            guard count > 0 else { return (Timestamp(nanoseconds: 0), 0) }
            let last = try source.event(at: count - 1).ts
            return (last, count)
        case "start":
            guard count > 0 else { return (Timestamp(nanoseconds: 0), 0) }
            let first = try source.event(at: 0).ts
            return (first, try source.position(at: first))
        default:
            let t: Timestamp
            do throws(TimestampError) {
                t = try Timestamp.parse(text!)
            } catch {
                throw UsageError(message: "--at: \(error.message)")
            }
            return (t, try source.position(at: t))
        }
    }
}

/// `{"at": …, "position": …, "services": {…}}` streamed to stdout with sorted keys, without
/// building the whole text first (a million-event state is tens of megabytes).
enum StateJSON {
    static func write(_ state: State, at time: Timestamp, position: Int) {
        var out: [UInt8] = []
        out.reserveCapacity(1 << 21)
        func flushIfLarge() {
            if out.count >= 1 << 20 {
                Output.write(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        out.append(contentsOf: #"{"at":"#.utf8)
        JSONValue.writeString(time.rfc3339, to: &out)
        out.append(contentsOf: #","position":\#(position),"services":{"#.utf8)
        for (i, service) in state.services.keys.sorted().enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.writeString(service, to: &out)
            out.append(contentsOf: ":{".utf8)
            let streams = state.services[service]!
            for (j, stream) in streams.keys.sorted().enumerated() {
                if j > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(stream, to: &out)
                out.append(UInt8(ascii: ":"))
                streams[stream]!.write(to: &out)
                flushIfLarge()
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: "}}\n".utf8)
        Output.write(out)
    }
}

/// The readable (non-JSON) state: one block per service and stream.
enum StateText {
    static func render(_ state: State, at time: Timestamp, position: Int, total: Int, log: String) -> String {
        var lines = ["\(Output.safe(log)) at \(time.rfc3339): \(position) of \(total) events applied", ""]
        if state.services.isEmpty { lines.append("(no state)") }
        for service in state.services.keys.sorted() {
            let streams = state.services[service]!
            lines.append("\(Output.safe(service)) (\(streams.count) stream\(streams.count == 1 ? "" : "s"))")
            for stream in streams.keys.sorted() {
                let doc = streams[stream]!.prettyText(indent: 1)
                lines.append("  \(Output.safe(stream)): \(doc)")
            }
            lines.append("")
        }
        return lines.joined(separator: "\n")
    }
}

/// What the undo strategy could not take back.
enum UndoReport {
    static func text(_ crossed: [StreamTransition]) -> String {
        var lines = ["undo crossed \(crossed.count) irreversible event\(crossed.count == 1 ? "" : "s"): the state is rewound, but their effects outside the store remain:"]
        for t in crossed.prefix(20) {
            lines.append("  line \(t.line): \(Output.safe(t.eventID)) \(Output.safe(t.service))/\(Output.safe(t.stream)) \(Output.safe(t.type))")
        }
        if crossed.count > 20 { lines.append("  … and \(crossed.count - 20) more") }
        return lines.joined(separator: "\n")
    }
}
