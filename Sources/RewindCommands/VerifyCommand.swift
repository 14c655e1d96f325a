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
            Cached states written under other rules are ignored, never trusted. Exit 1 when anything
            was damaged or drifted.
            """
    )

    @OptionGroup var logOptions: LogOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    struct Finding {
        var kind: String       // "cached state" or "keyframe"
        var position: Int
        var damaged: Bool
        var streams: [StreamKey] = []
        var firstEvent: Int?
    }

    func execute(_ opened: OpenedLog) throws -> Bool {
        var problems = false
        let hydrator = Hydrator(opened: opened)
        let derived = try hydrator.derived()
        let store = opened.store
        let keyframes = Set(try derived.keyframePositions())
        let cached = Set(try derived.cachedPositions())
        let ignored = try derived.allCachedRows().filter { $0.rules != derived.rules }.count
        let checkpoints = keyframes.union(cached).sorted()
        let count = try store.eventCount()

        var findings: [Finding] = []
        var replayed: [Int: State] = [:]
        var state = State()
        var issues: [FoldIssue] = []
        var firstTouch: [StreamKey: Int] = [:]
        var lastTouch: [StreamKey: Int] = [:]
        var next = 0

        func check(_ position: Int) {
            for kind in ["keyframe", "cached state"] where (kind == "keyframe" ? keyframes : cached).contains(position) {
                do {
                    let (stored, _) = kind == "keyframe" ? try derived.keyframe(at: position) : try derived.cachedState(at: position)
                    guard stored != state else { continue }
                    var keys = Set<StreamKey>()
                    for (svc, streams) in stored.services { for s in streams.keys { keys.insert(StreamKey(service: svc, stream: s)) } }
                    for (svc, streams) in state.services { for s in streams.keys { keys.insert(StreamKey(service: svc, stream: s)) } }
                    let differing = keys.filter {
                        stored.document(service: $0.service, stream: $0.stream) != state.document(service: $0.service, stream: $0.stream)
                    }.sorted()
                    // The drift began at the first event of a differing stream whose effect the stored state lost.
                    let first = differing.compactMap { lastTouch[$0] }.min() ?? differing.compactMap { firstTouch[$0] }.min()
                    findings.append(Finding(kind: kind, position: position, damaged: false, streams: differing, firstEvent: first))
                    replayed[position] = state
                } catch is DerivedDataDamage {
                    findings.append(Finding(kind: kind, position: position, damaged: true))
                    replayed[position] = state
                } catch {
                    findings.append(Finding(kind: kind, position: position, damaged: true))
                    replayed[position] = state
                }
            }
        }

        if checkpoints.first == 0 { check(0); next = 1 }
        var position = 0
        try ChunkedReader(store: store).forEachEvent(in: 0..<count) { event in
            hydrator.fold.apply(event, to: &state, issues: &issues)
            let key = StreamKey(service: event.service, stream: event.stream)
            if firstTouch[key] == nil { firstTouch[key] = position }
            lastTouch[key] = position
            position += 1
            while next < checkpoints.count && checkpoints[next] < position { next += 1 }
            if next < checkpoints.count && checkpoints[next] == position {
                check(position)
                next += 1
            }
        }

        // Rebuild what was bad: cached states from replay, keyframes by rebuilding the derived data.
        var rebuilt = 0
        for f in findings where f.kind == "cached state" {
            try derived.storeCachedState(replayed[f.position]!, at: f.position)
            rebuilt += 1
        }
        if findings.contains(where: { $0.kind == "keyframe" }) {
            _ = try hydrator.derived(forceReason: "verify found a bad keyframe")
            rebuilt += findings.filter { $0.kind == "keyframe" }.count
        }

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
        let summary = "verified \(cached.count) cached state\(cached.count == 1 ? "" : "s") and \(keyframes.count) keyframes against a full replay of \(count) events: "
            + "\(findings.filter { !$0.damaged }.count) drifted, \(findings.filter(\.damaged).count) damaged, \(rebuilt) rebuilt"
            + (ignored > 0 ? "; \(ignored) cached state\(ignored == 1 ? "" : "s") written under other rules ignored" : "")
        if json {
            Output.out(JSONValue.object([
                "ok": .bool(findings.isEmpty), "events": .int(Int64(count)), "cachedStates": .int(Int64(cached.count)),
                "keyframes": .int(Int64(keyframes.count)), "findings": .array(described), "rebuilt": .int(Int64(rebuilt)),
                "ignored": .int(Int64(ignored)),
            ]).jsonText)
        } else {
            Output.out(summary)
        }
        return !findings.isEmpty || problems || hydrator.foundDamage
    }
}
