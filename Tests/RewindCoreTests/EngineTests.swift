import Foundation
import Testing
@testable import RewindCore
import RewindTestSupport

/// The timeline index against replay, on random logs with layouts small enough that a few
/// hundred events cross every boundary (keyframes, document blocks, segments, days).
@Suite struct EngineTests {
    static let tiny = IndexLayout(keyframeInterval: 8, docBlockEvents: 4, segmentEvents: 50, deltaFrom: 16)

    func log(seed: UInt64, lines: Int = 400) throws -> (ParsedLog, Fold) {
        (ParsedLog(text: RandomLog.text(seed: seed, lines: lines)), Fold(rules: try Rules.parse(yaml: RandomLog.rules, file: "r.rules.yaml")))
    }

    /// Replay's state after every position of `timeline`.
    func replayStates(_ timeline: MemoryTimeline, fold: Fold) -> [State] {
        var state = State()
        var issues: [FoldIssue] = []
        var out = [state]
        for e in timeline.events {
            fold.apply(e, to: &state, issues: &issues)
            out.append(state)
        }
        return out
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func everyStrategyReturnsReplaysStateAtEveryPosition(seed: UInt64) throws {
        let (log, fold) = try log(seed: seed)
        let (index, _) = try buildMemoryIndex(log.events, fold: fold, layout: EngineTests.tiny)
        let expected = replayStates(log.timeline, fold: fold)
        #expect(index.count == log.events.count)
        #expect(index.image.segmentCount == (log.events.count + 49) / 50)
        #expect(index.dayCount > 3)
        // Both kinds of document entry: whole texts, and changes (documents past `deltaFrom`).
        let deltas = (0..<index.count).filter { index.image.documentEntry(after: $0)?.first == IndexFormat.deltaEntry }.count
        #expect(deltas > index.count / 10 && deltas < index.count, "\(deltas) change entries")
        let cache = IndexCache(index: index, rules: "", budget: 8 * 1024, store: MemoryCachedStates()) { log.timeline.events[$0].id }
        var rng = SplitMix64(seed: seed)
        for position in (0...index.count).shuffled(using: &rng) {
            for (name, reach) in [("diff", index.diff(to:)), ("undo", index.undo(to:)), ("squash", index.squash(to:)),
                                  ("cache", { cache.reach($0, keep: true) })] as [(String, (Int) -> Reach)] {
                let r = reach(position)
                let view = StateView(index: index, versions: r.versions, position: position)
                let state = try view.materialized()
                #expect(state == expected[position], "\(name) at \(position) (seed \(seed))")
                #expect(try view.hash() == expected[position].hash, "\(name) hash at \(position)")
                #expect(view.streamCount == expected[position].streamCount)
            }
        }
        #expect(cache.cachedPositions.count > 10)
    }

    /// An import hands the builder each event's `data` as text (merged as it is read when no rule
    /// applies): the index is byte for byte the one built from parsed events.
    @Test(arguments: [11, 12, 13] as [UInt64])
    func dataGivenAsTextBuildsTheSameIndex(seed: UInt64) throws {
        let (log, fold) = try log(seed: seed, lines: 600)
        let (_, parsed) = try buildMemoryIndex(log.events, fold: fold, layout: EngineTests.tiny)
        let (index, text) = try buildMemoryIndex(log.events, fold: fold, layout: EngineTests.tiny, dataAsText: true)
        #expect(index.count == log.events.count)
        #expect(text.bytes == parsed.bytes)
    }

    @Test func undoListsTheIrreversibleEventsItCrosses() throws {
        let (log, fold) = try log(seed: 9)
        let (index, _) = try buildMemoryIndex(log.events, fold: fold, layout: EngineTests.tiny)
        let events = log.timeline.events
        for position in stride(from: 0, through: index.count, by: 7) {
            let r = index.undo(to: position)
            let start = position + r.applied
            let expected = (position..<start).filter { fold.isIrreversible(events[$0]) }.reversed()
            #expect(r.crossed == Array(expected))
        }
        #expect(index.irreversible(in: 0..<index.count) == events.indices.filter { fold.isIrreversible(events[$0]) })
    }

    @Test func anExtensionGivesTheSameIndexAsOneBuild() throws {
        let (log, fold) = try log(seed: 4, lines: 500)
        let events = log.timeline.events
        let expected = replayStates(log.timeline, fold: fold)
        let output = MemoryIndexOutput()
        var ids: [StreamKey: UInt32] = [:]
        var names: [StreamKey] = []
        for e in events where ids[StreamKey(service: e.service, stream: e.stream)] == nil {
            ids[StreamKey(service: e.service, stream: e.stream)] = UInt32(names.count)
            names.append(StreamKey(service: e.service, stream: e.stream))
        }
        // Built in three runs: 0..<130, then 130..<131 (a tiny segment), then cut back to 120
        // (a changed tail) and on to the end.
        var registered = 0
        func run(from: Int?, to end: Int) throws {
            let previous = output.bytes.count > IndexFormat.headerSize ? try output.image() : nil
            let b = try IndexBuilder(output: output, fold: fold, identity: IndexIdentity(store: "m", rules: ""), layout: EngineTests.tiny,
                                     previous: previous, from: from)
            registered = b.streams
            for p in b.position..<end {
                let key = StreamKey(service: events[p].service, stream: events[p].stream)
                while registered <= Int(ids[key]!) {
                    b.addStream(service: names[registered].service, stream: names[registered].stream)
                    registered += 1
                }
                try b.add(events[p], stream: ids[key]!)
            }
            try b.finish(lastEventID: events[end - 1].id)
        }
        try run(from: nil, to: 130)
        try run(from: nil, to: 131)
        try run(from: 120, to: events.count)
        let index = TimelineIndex(image: try output.image())
        #expect(index.count == events.count)
        #expect(index.image.lastEventID == events.last!.id)
        for position in 0...index.count {
            for reach in [index.diff(to:), index.undo(to:), index.squash(to:)] {
                #expect(try StateView(index: index, versions: reach(position).versions, position: position).materialized() == expected[position],
                        "at \(position)")
            }
        }
        // Each stream's id resolves by name, and the sorted list is in byte order.
        for (key, id) in ids { #expect(index.streamID(service: key.service, stream: key.stream) == id) }
        let sorted = try index.sortedStreams.all().map { try index.streamKey($0) }
        #expect(sorted == names.sorted())
    }

    /// A stream whose document gains a key per event (and one whose array grows by `append`):
    /// the index keeps each event's change, not the whole document after it, so it grows with
    /// the log, not as the square of it — and answers as replay at every position.
    @Test func aGrowingDocumentCostsWhatItsEventsCost() throws {
        var lines: [String] = []
        for i in 0..<3_000 {
            let ts = String(format: "2026-01-01T00:%02d:%02d.%03dZ", i / 60_000 % 60, i / 1000 % 60, i % 1000)
            lines.append(#"{"id":"g\#(i)","ts":"\#(ts)","service":"ledger","stream":"big","type":"Entry","data":{"k\#(i)":\#(i),"last":"\#(i)"}}"#)
            if i % 3 == 0 {
                lines.append(#"{"id":"a\#(i)","ts":"\#(ts)","service":"mail","stream":"box","type":"Sent","data":{"to":"user\#(i)@example.com"}}"#)
            }
            if i % 500 == 0 {  // now and then a key removed, a whole value replaced
                lines.append(#"{"id":"r\#(i)","ts":"\#(ts)","service":"ledger","stream":"big","type":"Entry","data":{"k\#(i / 2)":null,"last":{"n":\#(i)}}}"#)
            }
        }
        let text = lines.joined(separator: "\n") + "\n"
        let log = ParsedLog(text: text)
        let fold = Fold(rules: try Rules.parse(yaml: """
            services:
              mail:
                Sent:
                  ops:
                    - append: /sent
                      value: $.data.to
                    - inc: /count
                      by: 1
            """, file: "g.rules.yaml"))
        let (index, output) = try buildMemoryIndex(log.events, fold: fold)
        let expected = replayStates(log.timeline, fold: fold)
        // Whole documents after every event: ~65 MB of text here.
        #expect(output.bytes.count < 2 * text.utf8.count, "the index takes \(output.bytes.count) bytes for a \(text.utf8.count)-byte log")
        var rng = SplitMix64(seed: 11)
        for position in (0...index.count).shuffled(using: &rng).prefix(120) + [index.count] {
            for reach in [index.diff(to:), index.undo(to:), index.squash(to:)] {
                #expect(try StateView(index: index, versions: reach(position).versions, position: position).materialized() == expected[position],
                        "at \(position)")
            }
        }
    }

    /// An index extended many times, copied to a new one with only its live records: the copy is
    /// smaller, checks whole, answers exactly as before (squash's day watermarks included), and
    /// extends like the original.
    @Test func aCompactedCopyAnswersAsTheOriginalAndExtends() throws {
        let (log, fold) = try log(seed: 6, lines: 600)
        let source = NumberedMemoryTimeline(log.events)
        let events = source.timeline.events
        let expected = replayStates(source.timeline, fold: fold)
        let output = MemoryIndexOutput()
        var position = 0
        for end in stride(from: 37, to: 500, by: 37) + [500] {
            let previous = position == 0 ? nil : try output.image()
            let b = try IndexBuilder(output: output, fold: fold, identity: IndexIdentity(store: "m", rules: ""), layout: EngineTests.tiny,
                                     previous: previous, from: previous.map { max(0, $0.count - 5) })
            try b.add(from: source, to: end)
            try b.finish(lastEventID: events[end - 1].id)
            position = end
        }
        let original = try output.image()
        let copy = MemoryIndexOutput()
        try IndexCompaction.copy(original, to: copy)
        #expect(copy.bytes.count < output.bytes.count)
        let compacted = TimelineIndex(image: try copy.image())
        try compacted.image.verifyAllRecords()
        #expect(compacted.count == 500)
        #expect(copy.bytes.count - Int(compacted.image.liveBytes) < 4096, "only the directory lies outside the live records")
        for p in 0...500 {
            for reach in [compacted.diff(to:), compacted.undo(to:), compacted.squash(to:)] {
                #expect(try StateView(index: compacted, versions: reach(p).versions, position: p).materialized() == expected[p], "at \(p)")
            }
        }
        let b = try IndexBuilder(output: copy, fold: fold, identity: IndexIdentity(store: "m", rules: ""), previous: try copy.image())
        try b.add(from: source, to: events.count)
        try b.finish()
        let extended = TimelineIndex(image: try copy.image())
        for p in stride(from: 0, through: events.count, by: 3) {
            #expect(try StateView(index: extended, versions: extended.squash(to: p).versions, position: p).materialized() == expected[p], "at \(p)")
        }
    }

    /// One commit (a single segment): every byte after the header belongs to a record of it.
    @Test(arguments: [false, true]) func aFlippedByteIsDetectedNeverServed(oneCommit: Bool) throws {
        let (log, fold) = try log(seed: 2)
        let layout = oneCommit ? IndexLayout(keyframeInterval: 8, docBlockEvents: 4, segmentEvents: 1 << 20, deltaFrom: 16) : EngineTests.tiny
        let (_, output) = try buildMemoryIndex(log.events, fold: fold, layout: layout)
        let expected = replayStates(log.timeline, fold: fold)
        let clean = output.bytes
        var detected = 0, served = 0
        var rng = SplitMix64(seed: 5)
        for _ in 0..<300 {
            let at = IndexFormat.headerSize + Int(rng.next() % UInt64(clean.count - IndexFormat.headerSize))
            output.truncate(to: 0)
            var damaged = clean
            damaged[at] ^= UInt8(1 << (rng.next() % 8))
            _ = try output.append(damaged.withUnsafeBytes { $0 })
            do {
                let index = TimelineIndex(image: try output.image())
                for p in [0, index.count / 3, index.count / 2, index.count] {
                    for reach in [index.diff(to:), index.undo(to:), index.squash(to:)] {
                        let view = StateView(index: index, versions: reach(p).versions, position: p)
                        let state = try view.materialized()
                        try index.image.check()
                        if state == expected[p] { served += 1 } else { Issue.record("a damaged index served a wrong state at \(p) (byte \(at))") }
                    }
                }
                for p in 0..<index.count { _ = try index.transition(at: p) }
                try index.image.verifyAllRecords()
            } catch is IndexDamage {
                detected += 1
            }
        }
        // With many commits, most bytes are earlier commits' directories, which nothing reads:
        // a flip there changes nothing. With one, all but alignment padding is checked.
        #expect(detected >= (oneCommit ? 290 : 100), "\(detected) of 300 flips detected")
        #expect(served > 0)
    }
}
