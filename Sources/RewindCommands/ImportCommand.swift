import ArgumentParser
import Foundation
import RewindCore
import RewindStore

/// `rewind import LOG [--format jsonl|kcat|debezium] [--to STORE]`
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a log into a store (once; again only when the file changed).",
        discussion: """
            Prints a summary: lines read = accepted + duplicates + rejected. Rejected lines are reported as FILE:LINE: reason and copied unchanged to NAME.rejected.jsonl; the exit code is then 1. A file that only grew imports just its new tail; an interrupted import continues where its last commit ended.

            Example: rewind import sample-logs/bank.jsonl
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case jsonl, kcat, debezium
    }

    @Argument(help: "The log file to import.")
    var log: String

    @Option(help: "The input format: jsonl (SPEC §1), kcat (kcat -J envelopes) or debezium (change events); default: detected from the first line, then remembered for the file.")
    var format: Format?

    @Option(help: "The store to write: a file (default: NAME.rewind beside NAME.jsonl, or in $XDG_CACHE_HOME/rewind or ~/.cache/rewind when that folder cannot be written), or a PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DB (?host=/socket/dir for a unix socket; PGPASSWORD and ~/.pgpass work as for psql; rewind keeps its tables in the schema `rewind`, or ?schema=NAME, and the first import creates it; a schema holds one log).")
    var to: String?

    func run() throws {
        var problems = false
        let chosen = format.map { LogFormat(rawValue: $0.rawValue)! }
        let opened = try LogOptions.open(log, rules: nil, storePath: to, quiet: true, problems: &problems) { importer in
            if let chosen { importer.requestedFormat = chosen }
        }
        guard let result = opened.importResult else {
            throw OpenError("\(Output.safe(log)): is a store already; give the log file to import")
        }
        if result.kind == .upToDate {
            Output.out("\(Output.safe(log)): already imported into \(Output.safe(opened.store.location)) (unchanged)")
        }
        Output.out(ImportReporter.summaryLine(file: log, result: result))
        Output.out("store: \(Output.safe(opened.store.location)); timeline index: \(opened.index.count) events, \(opened.index.streamCount) streams")
        if result.summary.rejected > 0 { throw ExitCode(1) }
    }
}
