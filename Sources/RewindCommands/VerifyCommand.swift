import ArgumentParser
import Foundation
import RewindCore
import RewindStore

/// `rewind verify LOG`: recompute by full replay and check every cached state and keyframe.
struct VerifyCommand: LogCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check cached states and keyframes against a full replay; rebuild the bad ones.",
        discussion: """
            Replays the whole log once. A stored state whose content no longer matches its hash is
            damaged; one whose content differs from replay's drifted: rewind names the first event
            where it drifted (the earliest event of a stream that differs). Bad entries are rebuilt.
            Cached states written under other rules are ignored, never trusted. The states the
            in-memory index's cache kept (table index_cache) are checked too. Exit 1 when anything
            was damaged or drifted.
            """
    )

    @OptionGroup var logOptions: LogOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    func execute(_ opened: OpenedLog) throws -> Bool {
        let hydrator = Hydrator(opened: opened)
        let derived = try hydrator.derived()
        let store = opened.store
        let report = try DerivedVerifier(store: store, derived: derived, fold: hydrator.fold).run()
        let (findings, rebuilt, ignored, count) = (report.findings, report.rebuilt, report.ignored, report.events)
        let cached = report.cachedStates, keyframes = report.keyframes
        let log = opened.sourcePath ?? opened.displayName
        var described: [JSONValue] = []
        for f in findings {
            var o: [String: JSONValue] = ["kind": .string(f.kind), "position": .int(Int64(f.position)),
                                          "problem": .string(f.damaged ? "damaged" : "drifted")]
            var text = "\(log): \(f.kind) at position \(f.position) "
            if f.damaged {
                text += "is damaged (its content does not match its hash); rebuilt from replay"
            } else {
                o["streams"] = .array(f.streams.map { .string("\($0.service)/\($0.stream)") })
                text += "drifted from replay in \(f.streams.prefix(5).map { Output.safe("\($0.service)/\($0.stream)") }.joined(separator: ", "))"
                if f.streams.count > 5 { text += " and \(f.streams.count - 5) more" }
                if let p = f.firstEvent {
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
        let summary = report.summary
        if json {
            Output.out(JSONValue.object([
                "ok": .bool(findings.isEmpty), "events": .int(Int64(count)), "cachedStates": .int(Int64(cached)),
                "keyframes": .int(Int64(keyframes)), "indexCachedStates": .int(Int64(report.indexCached)),
                "findings": .array(described), "rebuilt": .int(Int64(rebuilt)),
                "ignored": .int(Int64(ignored)),
            ]).jsonText)
        } else {
            Output.out(summary)
        }
        return !findings.isEmpty || hydrator.foundDamage
    }
}
