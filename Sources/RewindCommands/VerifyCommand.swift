import ArgumentParser
import Foundation
import RewindCore
import RewindStore

/// `rewind verify LOG`: recompute by full replay and check every cached state and keyframe.
struct VerifyCommand: LogCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the timeline index and the cached states against a full replay; rebuild the bad ones.",
        discussion: """
            Checks every record of the timeline index against its checksum, then replays the whole log once and compares each event's stream, flags and document, every keyframe and every cached state with it. A record or row whose content no longer matches its checksum is damaged; one whose content differs from replay's drifted: rewind names the first event where it drifted (the last event of a differing stream the stored state includes). A bad index is rebuilt from the store; bad cached states are rewritten. Cached states written under other rules are ignored, never trusted. Exit 1 when anything was damaged or drifted.

            Example: rewind verify sample-logs/bank.jsonl
            """
    )

    @OptionGroup var logOptions: LogOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    func execute(_ opened: OpenedLog) throws -> Bool {
        let store = opened.store
        let cache = opened.cache(budget: .max)
        let progress = ProgressBar(label: "replaying to verify")
        let report = try IndexVerifier(index: opened.index, source: store, fold: opened.fold, cache: cache)
            .run { progress.update(Int64($0), of: Int64($1)) }
        progress.finish()
        let log = opened.sourcePath ?? opened.displayName
        var described: [JSONValue] = []
        for f in report.findings {
            var o: [JSONKey: JSONValue] = ["kind": .string(f.kind), "position": .int(Int64(f.position)),
                                          "problem": .string(f.damaged ? "damaged" : "drifted"), "detail": .string(f.detail)]
            var text = "\(Output.safe(log)): \(f.kind) at position \(f.position) "
            if f.damaged {
                text += "is damaged (\(Output.safe(f.detail))); rebuilt"
            } else {
                o["streams"] = .array(f.streams.map { .string("\($0.service)/\($0.stream)") })
                text += "drifted from replay (\(Output.safe(f.detail)))"
                if !f.streams.isEmpty {
                    text += " in " + f.streams.prefix(5).map { Output.safe("\($0.service)/\($0.stream)") }.joined(separator: ", ")
                    if f.streams.count > 5 { text += " and \(f.streams.count - 5) more" }
                }
                if let p = f.firstEvent, p < report.events {
                    let e = try store.event(at: p)
                    o["event"] = e.jsonObject
                    o["eventPosition"] = .int(Int64(p + 1))
                    text += "; first drifting event: \(Output.safe(e.id)) (line \(e.line), position \(p + 1), \(Output.safe(e.service))/\(Output.safe(e.stream)) \(Output.safe(e.type)))"
                }
                text += "; rebuilt"
            }
            described.append(.object(o))
            if !json { Output.out(text) }
        }
        // Rebuild what was bad. The index's records carry checksums and the store's rows do not:
        // an index that drifted from a replay of the store means the store changed under it, so
        // the store is imported again from the log (when there is one) rather than the index
        // rebuilt from a store that cannot be trusted. Damaged records: the index from the store.
        var rebuilt = 0
        let waiting = { Output.diagnostic("\(Output.safe(log)): waiting for another rewind process using it") }
        let drifted = report.findings.contains { !$0.damaged && $0.kind != "cached state" }
        if drifted, opened.rebuildable, let source = opened.sourcePath {
            Output.diagnostic("\(Output.safe(log)): the index disagrees with a replay of the store: the store is imported again from the log")
            try opened.lock.lock(.exclusive, waiting: waiting)
            try store.discardForRebuild()
            try? FileManager.default.removeItem(atPath: opened.maintenance.path)
            opened.lock.unlock()
            var problems = false
            _ = try LogOptions.open(source, rules: logOptions.rules, storePath: store.location, quiet: true, problems: &problems)
            rebuilt += 1
        } else if report.indexBad {
            try opened.rebuildIndex(waiting: waiting)
            rebuilt += 1
        }
        let bad = report.badCachedStates
        if !bad.isEmpty && !(drifted && opened.rebuildable) {
            try store.removeCachedStates(at: bad)
            let fresh = opened.cache(budget: .max)
            for p in bad where p <= opened.index.count { fresh.keep(opened.index.diff(to: p).versions, at: p) }
            rebuilt += bad.count
        }
        if json {
            Output.out(JSONValue.object([
                "ok": .bool(report.findings.isEmpty), "events": .int(Int64(report.events)), "cachedStates": .int(Int64(report.cachedStates)),
                "keyframes": .int(Int64(report.maps)), "findings": .array(described), "rebuilt": .int(Int64(rebuilt)),
                "ignored": .int(Int64(report.foreign)),
            ]).jsonText)
        } else {
            Output.out(report.summary + ", \(rebuilt) rebuilt")
        }
        return !report.findings.isEmpty
    }
}
