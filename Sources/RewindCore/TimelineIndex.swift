/// The timeline folded once into an in-memory index that the diff, undo, squash and cache
/// strategies reach any point in time from without touching JSON:
///
/// - every stream gets a dense id, in order of first appearance;
/// - every event keeps its stream, the stream's version before it, and its document after it
///   (the text, in a `DocumentArena`) — the reversible diff of the event;
/// - a state is a `VersionMap` (stream id → the position + 1 of the event whose document the
///   stream has), so applying an event's diff is one map update and undoing it another;
/// - keyframes are such maps every `keyframeInterval` events, sharing unchanged nodes;
/// - each UTC day keeps its composite diff: the map nodes the day changed.
///
/// Documents are decoded only when someone reads them (`IndexedState`).
public final class TimelineIndex: @unchecked Sendable {
    public let count: Int
    public let keyframeInterval: Int
    let streamKeys: [StreamKey]
    let streamIDs: [StreamKey: UInt32]
    let eventStream: [UInt32]
    /// The stream's version before each event (0 = it had no document).
    let previousVersion: [UInt32]
    let documents: [DocumentArena.Ref]
    let arena: DocumentArena
    /// Positions of irreversible events, ascending.
    let irreversible: [Int]
    /// `keyframes[i]` is the state after the first `i * keyframeInterval` events.
    let keyframes: [VersionMap]
    /// The state after every event.
    public let head: VersionMap
    let days: [Day]
    /// Ops the fold skipped.
    public let issues: [FoldIssue]

    /// Bytes of document text held in the process's own memory (not spilled).
    public var residentDocumentBytes: Int { arena.residentBytes }

    struct Day {
        var day: Int64
        var first: Int
        var end: Int
        var changes: VersionMap
    }

    /// One forward fold of `source`. `onProgress` gets (events done, events in all) now and then.
    /// With `spill`, full chunks of document text leave the process's memory (see `DocumentArena`).
    public init(source: any EventSource, fold: Fold, keyframeInterval: Int = 4096, spill: DocumentSpill? = nil,
                documentChunkSize: Int = 1 << 24, onProgress: (Int, Int) -> Void = { _, _ in }) throws {
        precondition(keyframeInterval > 0)
        let total = try source.eventCount()
        var streamKeys: [StreamKey] = []
        var streamIDs: [StreamKey: UInt32] = [:]
        var eventStream: [UInt32] = [], previousVersion: [UInt32] = [], documents: [DocumentArena.Ref] = []
        eventStream.reserveCapacity(total)
        previousVersion.reserveCapacity(total)
        documents.reserveCapacity(total)
        let arena = DocumentArena(spill: spill, chunkSize: documentChunkSize)
        var irreversible: [Int] = []
        var keyframes = [VersionMap()]
        var head = VersionMap()
        var days: [Day] = []
        var issues: [FoldIssue] = []
        var dayStart = VersionMap(), dayFirst = 0, currentDay: Int64?
        var position = 0
        try source.forEachEvent(in: 0..<total) { event in
            let day = event.ts.utcDay
            if let d = currentDay, d != day {
                days.append(Day(day: d, first: dayFirst, end: position, changes: .changes(from: dayStart, to: head)))
                dayStart = head
                dayFirst = position
            }
            currentDay = day
            let key = StreamKey(service: event.service, stream: event.stream)
            let id: UInt32
            if let known = streamIDs[key] {
                id = known
            } else {
                id = UInt32(streamKeys.count)
                streamIDs[key] = id
                streamKeys.append(key)
            }
            let before = head.value(id)
            var document = before == 0 ? nil : arena.document(documents[Int(before) - 1])
            fold.apply(event, toDocument: &document, issues: &issues)
            documents.append(document.map { arena.append($0) } ?? DocumentArena.none)
            eventStream.append(id)
            previousVersion.append(before)
            if fold.isIrreversible(event) { irreversible.append(position) }
            head.set(id, document == nil ? 0 : UInt32(position + 1))
            position += 1
            if position % keyframeInterval == 0 { keyframes.append(head) }
            if position % 50_000 == 0 { onProgress(position, total) }
        }
        if let d = currentDay {
            days.append(Day(day: d, first: dayFirst, end: position, changes: .changes(from: dayStart, to: head)))
        }
        onProgress(position, total)
        self.count = position
        self.keyframeInterval = keyframeInterval
        self.streamKeys = streamKeys
        self.streamIDs = streamIDs
        self.eventStream = eventStream
        self.previousVersion = previousVersion
        self.documents = documents
        self.arena = arena
        self.irreversible = irreversible
        self.keyframes = keyframes
        self.head = head
        self.days = days
        self.issues = issues
    }

    /// The stream's version after the event at `position`.
    @inline(__always) func versionAfter(_ position: Int) -> UInt32 {
        documents[position] == DocumentArena.none ? 0 : UInt32(position + 1)
    }

    /// The document a version stands for.
    public func document(version: UInt32) -> JSONValue? {
        version == 0 ? nil : arena.document(documents[Int(version) - 1])
    }

    public func streamID(service: String, stream: String) -> UInt32? { streamIDs[StreamKey(service: service, stream: stream)] }

    public func streamKey(_ id: UInt32) -> StreamKey { streamKeys[Int(id)] }

    /// The streams the events between the keyframe before `position` and `position` changed:
    /// all a cached state's row records (the rest is the keyframe, recomputed every run).
    public func streamsChangedSinceKeyframe(before position: Int) -> [UInt32] {
        let start = position / keyframeInterval * keyframeInterval
        return Array(Set(eventStream[start..<position])).sorted()
    }

    /// The state after the first `position` events, as a map of versions.
    public func state(_ versions: VersionMap) -> IndexedState { IndexedState(versions: versions, index: self) }

    /// What the index holds, in bytes: per-event arrays and stream names, document text,
    /// keyframes (each node counted once, however many keyframes share it) and what the
    /// squashed days add to them.
    public func memoryBytes() -> (events: Int, documents: Int, residentDocuments: Int, keyframes: Int, days: Int) {
        let events = count * (4 + 4 + 8) + irreversible.count * 8
            + streamKeys.reduce(0) { $0 + 64 + $1.service.utf8.count + $1.stream.utf8.count }
        let frames = keyframes + [head]
        return (events, arena.bytes, arena.residentBytes, VersionMap.bytes(of: frames), VersionMap.bytes(of: days.map(\.changes), excluding: frames))
    }

    /// What `maps` (cached states) add in memory to the keyframes and days.
    public func addedBytes(_ maps: [VersionMap]) -> Int {
        VersionMap.bytes(of: maps, excluding: keyframes + [head] + days.map(\.changes))
    }
}

/// A state reached through the index: every stream's version; documents are decoded when read.
public struct IndexedState: Sendable {
    public let versions: VersionMap
    let index: TimelineIndex

    public var streamCount: Int { versions.count }

    public func document(service: String, stream: String) -> JSONValue? {
        guard let id = index.streamID(service: service, stream: stream) else { return nil }
        return index.document(version: versions.value(id))
    }

    /// The whole state as JSON documents (decodes every document: proportional to the state).
    public func materialized() -> State {
        var state = State()
        versions.forEach { id, version in
            let key = index.streamKey(id)
            if let document = index.document(version: version) {
                state.services[key.service, default: [:]][key.stream] = document
            }
        }
        return state
    }
}
