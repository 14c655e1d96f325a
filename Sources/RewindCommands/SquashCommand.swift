import ArgumentParser
import Foundation
import RewindCore
import RewindStore

/// `rewind squash LOG`: build the per-UTC-day composite diffs and show them.
struct SquashCommand: LogCommand {
    static let configuration = CommandConfiguration(
        commandName: "squash",
        abstract: "Build the daily squashed diffs (one composite diff per UTC day) and list them.",
        discussion: "The squash strategy reaches T by applying whole days, then that day's events."
    )

    @OptionGroup var logOptions: LogOptions

    func execute(_ opened: OpenedLog) throws -> Bool {
        var problems = false
        let hydrator = Hydrator(opened: opened)
        let derived = try hydrator.derived()
        Output.out("day         events  first   end      streams changed")
        for day in try derived.squashedDays() {
            var streams = 0
            try derived.forEachDayChange(day: day.day) { _, _ in streams += 1 }
            let date = String(Timestamp(nanoseconds: day.day * 86_400_000_000_000).rfc3339.prefix(10))
            Output.out(String(format: "%@ %8d %7d %7d %8d", date as NSString, day.end - day.first, day.first, day.end, streams))
        }
        let bytes = try opened.store.derivedBytes()
        Output.out("squashed days take \(bytes["squash"] ?? 0) bytes")
        return problems
    }
}
