import ArgumentParser
import Foundation
import RewindCore
import RewindStore

/// The LOG argument and `--rules`, shared by the commands that read a log.
struct LogOptions: ParsableArguments {
    @Argument(help: "A .jsonl event log, a store file, or a PostgreSQL store: postgres://USER@HOST:PORT/DB (?host=/socket/dir for a unix socket, ?schema=NAME; ?preset=message-db|marten|eventuous or ?table=S.T&columns=… read another program's event table).")
    var log: String

    @Option(help: "A rules file (default: NAME.rules.yaml beside NAME.jsonl, if present).")
    var rules: String?

    /// Opens the log, importing and indexing it if needed, and reports the import on stderr.
    /// `problems` becomes true when the log has rejected lines.
    func open(quiet: Bool = false, problems: inout Bool) throws -> OpenedLog {
        try LogOptions.open(log, rules: rules, quiet: quiet, problems: &problems)
    }

    static func open(_ log: String, rules: String?, storePath: String? = nil, quiet: Bool = false,
                     problems: inout Bool, configure: @escaping (JSONLImporter) -> Void = { _ in }) throws -> OpenedLog {
        var damaged = false
        let progress = ProgressBar(label: "importing \(Output.safe(log))")
        let indexing = ProgressBar(label: "building the timeline index")
        let reporter = ImportReporter(file: log)
        var reporting = LogOpener.Reporting()
        reporting.notice = { Output.diagnostic($0) }
        reporting.damage = { why in
            Output.diagnostic("\(Output.safe(log)): the store is damaged (\(why)); rebuilding it from the log")
            damaged = true
        }
        reporting.indexProgress = { indexing.update(Int64($0), of: Int64($1)) }
        reporting.configure = { importer in
            importer.onDiagnostic = { reporter.report($0) }
            importer.onProgress = { progress.update($0, of: $1) }
            configure(importer)
        }
        let opened = try LogOpener.open(log, rulesPath: rules, storePath: storePath, reporting: reporting)
        if damaged { problems = true }
        progress.finish()
        indexing.finish()
        reporter.finish()
        if let result = opened.importResult {
            if result.kind != .upToDate && !quiet {
                Output.diagnostic(ImportReporter.summaryLine(file: log, result: result))
            } else if result.summary.rejected > 0 {
                Output.diagnostic("\(Output.safe(log)): \(result.summary.rejected) line\(result.summary.rejected == 1 ? "" : "s") rejected"
                                  + (result.quarantinePath.map { " (quarantined in \(Output.safe($0)))" } ?? ""))
            }
            if result.summary.rejected > 0 { problems = true }
        }
        return opened
    }
}

/// A command that works on one LOG: it opens the log (importing it if needed, rebuilding a
/// damaged store) and runs `execute`, which returns whether it found a problem (exit 1).
protocol LogCommand: ParsableCommand {
    var logOptions: LogOptions { get }
    func execute(_ opened: OpenedLog) throws -> Bool
}

extension LogCommand {
    func run() throws {
        var problems = false
        let found = try logOptions.withLog(problems: &problems) { opened in try execute(opened) }
        if found || problems { throw ExitCode(1) }
    }
}

extension LogOptions {
    /// Opens the log and runs `body`. When the store turns out to be damaged midway and it was
    /// made from a `.jsonl`, the store is rebuilt from the log and `body` runs once more; when
    /// the timeline index does, it is rebuilt from the store (either way the command exits 1).
    func withLog<T>(problems: inout Bool, _ body: (OpenedLog) throws -> T) throws -> T {
        let opened = try open(problems: &problems)
        do {
            return try body(opened)
        } catch let damage as IndexDamage {
            Output.diagnostic("\(Output.safe(log)): \(damage); not used, rebuilding the index from the store")
            problems = true
            try opened.rebuildIndex { Output.diagnostic("\(Output.safe(log)): waiting for another rewind process using it") }
            return try body(opened)
        } catch where StoreError.isDamage(error) && opened.rebuildable {
            Output.diagnostic("\(Output.safe(log)): the store is damaged (\(error)); rebuilding it from the log")
            problems = true
            try opened.lock.lock(.exclusive) { Output.diagnostic("\(Output.safe(log)): waiting for another rewind process using it") }
            try opened.store.discardForRebuild()
            try? FileManager.default.removeItem(atPath: opened.maintenance.path)
            opened.lock.unlock()
            return try body(try open(problems: &problems))
        }
    }
}

/// Prints what an import noticed: every rejected line, and the first few duplicates and
/// backwards timestamps (then a count), as `FILE:LINE: …` on stderr.
final class ImportReporter {
    let file: String
    let limit = 20
    var duplicates = 0
    var backwards = 0

    init(file: String) { self.file = file }

    func report(_ d: ImportDiagnostic) {
        switch d {
        case .rejected(let line, let reason):
            Output.diagnostic("\(file):\(line): rejected: \(Output.safe(reason))")
        case .duplicate(let line, let id, let first):
            duplicates += 1
            if duplicates <= limit {
                Output.diagnostic("\(file):\(line): duplicate delivery of id \(JSONValueText.quoted(id)) (first at line \(first)); not applied")
            }
        case .backwards(let line, let ts, let latest):
            backwards += 1
            if backwards <= limit {
                Output.diagnostic("\(file):\(line): timestamp goes backwards (\(ts.rfc3339) is before \(latest.rfc3339)); kept in timeline order")
            }
        }
    }

    func finish() {
        if duplicates > limit { Output.diagnostic("\(file): … and \(duplicates - limit) more duplicate deliveries") }
        if backwards > limit { Output.diagnostic("\(file): … and \(backwards - limit) more backwards timestamps") }
    }

    static func summaryLine(file: String, result: ImportResult) -> String {
        let s = result.summary
        var text = "\(file): \(s.linesRead) lines read: \(s.accepted) accepted, \(s.duplicates) duplicate\(s.duplicates == 1 ? "" : "s"), \(s.rejected) rejected"
        if s.blank > 0 { text += " (\(s.blank) blank line\(s.blank == 1 ? "" : "s") ignored)" }
        if s.backwards > 0 { text += "; \(s.backwards) timestamp\(s.backwards == 1 ? "" : "s") went backwards" }
        if let q = result.quarantinePath { text += "; rejected lines copied to \(q)" }
        if case .resumed(let line) = result.kind { text += " [continued from line \(line)]" }
        return text
    }
}

enum JSONValueText {
    static func quoted(_ s: String) -> String { JSONValue.string(s).jsonText }
}
