import ArgumentParser
import Foundation
import RewindCore
import RewindStore

/// `rewind bisect LOG --invariant EXPR [--json]` (SPEC §7).
struct BisectCommand: LogCommand {
    static let configuration = CommandConfiguration(
        commandName: "bisect",
        abstract: "Find the first event after which an invariant is false.",
        discussion: """
            EXPR is true or false over the state, e.g. 'all(accounts/*/balance >= 0)', 'sum(accounts/*/balance) == 1200', 'transfers/transfer-1/status != "failed"'. Paths are service/stream/key/…, '*' matches any one segment. Exit 1 when the invariant breaks, 0 when it holds at every position. With --json: {"holds": true} or {"holds": false, "position": N, "event": {…}}.

            Example: rewind bisect sample-logs/bank.jsonl --invariant 'all(accounts/*/balance >= 0)'
            """
    )

    @OptionGroup var logOptions: LogOptions

    @Option(help: "The invariant.")
    var invariant: String

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        // A syntax error stops before the log is opened (exit 2).
        do { _ = try parseInvariant() } catch let e as UsageError { throw ValidationError(e.message) }
    }

    func parseInvariant() throws -> Invariant {
        do throws(InvariantSyntaxError) {
            return try Invariant(invariant)
        } catch {
            throw UsageError(message: "--invariant: \(error)\n  \(invariant)\n  \(String(repeating: " ", count: max(0, error.column - 1)))^")
        }
    }

    func execute(_ opened: OpenedLog) throws -> Bool {
        let parsed = try parseInvariant()
        let count = opened.index.count
        guard let position = try Bisector(invariant: parsed).firstFailure(in: opened.index) else {
            if json { Output.out(#"{"holds":true}"#) } else { Output.out("holds at every position (\(count) events)") }
            return false
        }
        let event = try opened.store.event(at: position - 1)
        if json {
            Output.out(JSONValue.object(["holds": .bool(false), "position": .int(Int64(position)), "event": event.jsonObject]).jsonText)
        } else {
            Output.out("first false at position \(position) of \(count), \(event.ts.rfc3339), after line \(event.line):")
            Output.out("  " + event.jsonObject.jsonText)
        }
        return true
    }
}
