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
            Prints a summary: lines read = accepted + duplicates + rejected. Rejected lines are
            reported as FILE:LINE: reason and copied unchanged to NAME.rejected.jsonl; the exit
            code is then 1. A file that only grew imports just its new tail; an interrupted
            import continues where its last commit ended.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case jsonl, kcat, debezium
    }

    @Argument(help: "The log file to import.")
    var log: String

    @Option(help: "The input format: jsonl (SPEC §1), kcat (kcat -J envelopes) or debezium (change events).")
    var format: Format = .jsonl

    @Option(help: "The store file to write (default: NAME.rewind beside NAME.jsonl).")
    var to: String?

    func run() throws {
        if let to, to.hasPrefix("postgres://") || to.hasPrefix("postgresql://") {
            throw OpenError("\(to): PostgreSQL stores are not supported by this build yet")
        }
        try LogOpener.checkReadableFile(log)
        let storePath = to ?? LogOpener.defaultStorePath(forLog: log)
        let store: SQLiteStore
        do { store = try SQLiteStore(path: storePath) } catch { throw OpenError("\(error)") }
        let progress = ProgressBar(label: "importing \(Output.safe(log))")
        let reporter = ImportReporter(file: log)
        let importer = JSONLImporter(path: log, store: store, quarantinePath: LogOpener.quarantinePath(forLog: log))
        importer.format = LogFormat(rawValue: format.rawValue)!
        importer.onDiagnostic = { reporter.report($0) }
        importer.onProgress = { progress.update($0, of: $1) }
        let result = try importer.run()
        progress.finish()
        reporter.finish()
        if result.kind == .upToDate {
            Output.out("\(log): already imported into \(storePath) (unchanged)")
        }
        Output.out(ImportReporter.summaryLine(file: log, result: result))
        Output.out("store: \(storePath)")
        if result.summary.rejected > 0 { throw ExitCode(1) }
    }
}
