import ArgumentParser
import Foundation
import RewindCore
import RewindStore

/// `rewind squash LOG`: build the per-UTC-day composite diffs and show them.
struct SquashCommand: LogCommand {
    static let configuration = CommandConfiguration(
        commandName: "squash",
        abstract: "Build the daily squashed diffs (one composite diff per UTC day) and list them.",
        discussion: """
            The squash strategy reaches T by applying whole days, then that day's events. --compact --before DATE rewrites the store (not the log file): the events of every UTC day before DATE become one squashed event per stream and day, holding the stream's document at the end of that day. It first shows how many intermediate states become unreachable per service, asks for confirmation on a terminal (or takes --yes), and keeps the old store as NAME.rewind.backup-TIME.

            Example: rewind squash sample-logs/bank.jsonl
            """
    )

    @OptionGroup var logOptions: LogOptions

    @Flag(help: "Rewrite the store: one squashed event per stream per day before --before.")
    var compact = false

    @Option(help: "With --compact: the first day to keep whole (YYYY-MM-DD or RFC 3339).")
    var before: String?

    @Flag(help: "With --compact: do not ask for confirmation.")
    var yes = false

    func validate() throws {
        if compact && before == nil { throw ValidationError("--compact needs --before DATE") }
        if !compact && (before != nil || yes) { throw ValidationError("--before and --yes go with --compact") }
        if let before, SquashCommand.parseDate(before) == nil {
            throw ValidationError("--before: '\(before)' is not a date (YYYY-MM-DD) or an RFC 3339 time")
        }
    }

    static func parseDate(_ text: String) -> Timestamp? {
        if let t = try? Timestamp.parse(text) { return t }
        return try? Timestamp.parse(text + "T00:00:00Z")
    }

    func execute(_ opened: OpenedLog) throws -> Bool {
        if compact { return try runCompaction(opened) }
        let index = opened.index
        Output.out("day         events  first   end      streams changed")
        var bytes = 0
        for day in index.days {
            let streams = index.streams(changedIn: day.first..<day.end).count
            bytes += index.patchBytes(day)
            Output.out(String(format: "%@ %8d %7d %7d %8d", day.date as NSString, day.end - day.first, day.first, day.end, streams)
                       + (day.open ? "  (open: the log may continue it)" : ""))
        }
        try index.image.check()
        Output.out("squashed days take \(bytes) bytes of the timeline index")
        return false
    }

    func runCompaction(_ opened: OpenedLog) throws -> Bool {
        let date = SquashCommand.parseDate(before!)!
        let store = opened.store
        let plan = try store.compactionPlan(before: date, index: opened.index)
        let day = Timestamp.date(ofDay: date.utcDay)
        guard plan.end > 0 else {
            Output.out("nothing to compact: no whole UTC day before \(day)")
            return false
        }
        let keptNote = plan.kept == 0 ? "" : " and \(plan.kept) kept as they are (a stream's only event of a day, or events smaller than the document a squashed event would hold)"
        Output.out("compacting \(plan.days) UTC day\(plan.days == 1 ? "" : "s") before \(day): \(plan.events) events become \(plan.squashed) squashed events\(keptNote)")
        guard !plan.replaced.isEmpty else {
            Output.out("nothing to compact: squashing would not make the store smaller")
            return false
        }
        Output.out("service                  events  squashed      kept  intermediate states lost")
        for s in plan.services {
            Output.out(Output.safe(s.service).padding(toLength: 22, withPad: " ", startingAt: 0)
                       + String(format: " %8d %9d %9d %12d", s.events, s.squashed, s.kept, s.unreachable))
        }
        Output.out("States at the end of each compacted day, and everything after \(day), stay reachable.")
        if !yes {
            guard isatty(0) == 1 else {
                throw UsageError(message: "not compacted: confirm with --yes (standard input is not a terminal)")
            }
            Output.write(Array("Compact the store? Type 'yes' to continue: ".utf8), to: 2)
            guard readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "yes" else {
                Output.out("not compacted")
                return false
            }
        }
        try opened.lock.lock(.exclusive) { Output.diagnostic("\(Output.safe(opened.displayName)): waiting for another rewind process using it") }
        let stamp = Timestamp(nanoseconds: Int64(Date().timeIntervalSince1970 * 1e9)).rfc3339
            .replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "").prefix(15)
        let backup = try store.backup(stamp: "\(stamp)Z")
        try store.compact(plan)
        try opened.refreshIndex()
        Output.out("compacted: \(plan.events) events → \(plan.squashed + plan.kept); the old store is kept as \(Output.safe(backup))")
        return false
    }
}
