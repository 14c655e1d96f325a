import Foundation
import RewindCore

/// Keeps a store's timeline index (`STORE-index`) describing the store and the rules at hand:
/// tells what it needs (`status`), and builds, extends or rebuilds it (`update`; the caller holds
/// the store's exclusive lock). An import can feed it as it goes (`pipeline`).
public final class IndexMaintenance {
    public let store: any EventStore
    public let fold: Fold
    public let path: String
    /// Called with (events done, events in all) while building.
    public var onProgress: (Int, Int) -> Void = { _, _ in }
    /// What is being done and why ("building the timeline index (the rules changed)").
    public var onNotice: (String) -> Void = { _ in }
    public var layout = IndexLayout.standard

    public init(store: any EventStore, fold: Fold) {
        self.store = store
        self.fold = fold
        path = IndexMaintenance.indexPath(forStore: store.localPath)
    }

    public static func indexPath(forStore store: String) -> String { store + "-index" }

    public enum Status: Equatable {
        case current
        /// The store grew (or its last events changed): extend from this position.
        case extend(from: Int)
        case rebuild(reason: String)
    }

    func identity() throws -> IndexIdentity {
        IndexIdentity(store: try store.identity(), rules: fold.rules.fingerprint)
    }

    /// The committed index, if any (throws `IndexDamage` when it is damaged).
    public func image() throws -> IndexImage? { try IndexFile.open(path) }

    /// What the index at hand needs to describe the store.
    public func status(of image: IndexImage?) throws -> Status {
        guard let image else { return .rebuild(reason: "no index yet") }
        let identity = try identity()
        if image.identity.store != identity.store { return .rebuild(reason: "the store's timeline was rewritten") }
        if image.identity.rules != identity.rules { return .rebuild(reason: "the rules changed") }
        let count = try store.eventCount()
        if image.count > count { return .extend(from: count) }
        if image.count > 0, try store.event(at: image.count - 1).id.utf8.elementsEqual(image.lastEventID.utf8) == false {
            return .rebuild(reason: "the store's events changed")
        }
        return image.count < count ? .extend(from: image.count) : .current
    }

    /// Brings the index up to date with the store; returns it. Hold the exclusive lock.
    @discardableResult
    public func update() throws -> IndexImage {
        var current: IndexImage?
        var status: Status
        do {
            current = try image()
            status = try self.status(of: current)
        } catch let damage as IndexDamage {
            current = nil
            status = .rebuild(reason: "\(damage)")
        }
        switch status {
        case .current:
            return current!
        case .extend(var from):
            // A small last segment is built again with the new events: a log extended a few events
            // at a time (follow mode) keeps its segments at least a keyframe interval long.
            if let current, let last = current.lastSegment, from == current.count, last.count < current.layout.keyframeInterval {
                from = last.first
            }
            let output = try IndexFile(writing: path)
            let builder = try IndexBuilder(output: output, fold: fold, identity: try identity(), previous: current, from: from)
            try feed(builder)
            try compactIfWasteful()
        case .rebuild(let reason):
            onNotice("building the timeline index (\(reason))")
            try rebuild()
        }
        guard let built = try image() else { throw IndexDamage("the index just built cannot be read") }
        return built
    }

    /// Copies the records the index uses into a new file when what earlier commits left behind
    /// outweighs them (and 64 MB): a copy, not a fold.
    func compactIfWasteful() throws {
        guard let image = try image() else { return }
        let size = UInt64((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
        guard size > 2 * image.liveBytes + (64 << 20) else { return }
        try compact(image)
    }

    /// Writes the index's live records into `STORE-index.building`, then renames it over the index.
    public func compact(_ image: IndexImage) throws {
        let building = path + ".building"
        try? FileManager.default.removeItem(atPath: building)
        let output = try IndexFile(writing: building)
        try IndexCompaction.copy(image, to: output)
        guard rename(building, path) == 0 else {
            throw StoreError("\(path): cannot put the compacted index in place: \(String(cString: strerror(errno)))")
        }
    }

    /// Builds the index anew from the store, in `STORE-index.building` (resumed when an earlier
    /// build of the same store and rules was killed), then renames it over the index.
    func rebuild() throws {
        let building = path + ".building"
        var previous: IndexImage?
        if let partial = try? IndexFile.open(building), partial.identity == (try identity()), partial.layout == layout,
           partial.count <= (try store.eventCount()) {
            previous = partial
        } else {
            try? FileManager.default.removeItem(atPath: building)
        }
        let output = try IndexFile(writing: building)
        let builder = try IndexBuilder(output: output, fold: fold, identity: try identity(), layout: layout, previous: previous)
        try feed(builder)
        guard rename(building, path) == 0 else {
            throw StoreError("\(path): cannot put the new index in place: \(String(cString: strerror(errno)))")
        }
    }

    private func feed(_ builder: IndexBuilder) throws {
        let count = try store.eventCount()
        try builder.add(from: store, to: count) { done, total in self.onProgress(done, total) }
        try builder.finish(lastEventID: count > 0 ? try store.event(at: count - 1).id : "")
    }

    /// A builder that folds the batches an import commits, from the store's current end, or nil
    /// when the index cannot follow (it is not current; `update` afterwards rebuilds it).
    public func pipeline() throws -> IndexPipeline? {
        guard let image = try? image(), try status(of: image) == .current else { return nil }
        let output = try IndexFile(writing: path)
        // As `update` does: a small last segment is built again, with the new events after it.
        let from = image.lastSegment.flatMap { $0.count < image.layout.keyframeInterval ? $0.first : nil }
        let builder = try IndexBuilder(output: output, fold: fold, identity: try identity(), previous: image, from: from)
        try builder.add(from: store, to: image.count)
        let names = try store.registry()
        return IndexPipeline(builder: builder, streams: names.streams, types: names.types)
    }

    /// A builder for a store that is being imported from nothing.
    public func freshPipeline() throws -> IndexPipeline {
        try? FileManager.default.removeItem(atPath: path + ".building")
        let output = try IndexFile(writing: path + ".building")
        let builder = try IndexBuilder(output: output, fold: fold, identity: try identity(), layout: layout)
        return IndexPipeline(builder: builder, streams: [], types: [], renameTo: path, from: path + ".building")
    }
}

/// Folds an import's batches into the index on a thread of its own, as the store commits them
/// (parsing, committing and folding then share the machine's cores). A batch with a timestamp
/// that goes backwards stops it: the timeline will be re-ordered, and the index rebuilt.
public final class IndexPipeline: @unchecked Sendable {
    let builder: IndexBuilder
    private var streams: [(service: String, stream: String)]
    private var types: [String]
    private let queue = DispatchQueue(label: "rewind.index.pipeline")
    private let slots = DispatchSemaphore(value: 2)
    private let lock = NSLock()
    private var failure: (any Error)?
    private(set) var abandoned = false
    private let renameTo: String?
    private let from: String?

    init(builder: IndexBuilder, streams: [(service: String, stream: String)], types: [String], renameTo: String? = nil, from: String? = nil) {
        self.builder = builder
        self.streams = streams
        self.types = types
        self.renameTo = renameTo
        self.from = from
    }

    /// Hands over a committed batch (called on the import's writer thread, in order).
    public func submit(_ batch: ImportBatch) {
        slots.wait()
        queue.async { [self] in
            defer { slots.signal() }
            guard lock.withLock({ failure == nil }) && !abandoned else { return }
            if !batch.backwards.isEmpty {
                abandoned = true
                return
            }
            do {
                try fold(batch)
            } catch {
                lock.withLock { failure = error }
            }
        }
    }

    private func fold(_ batch: ImportBatch) throws {
        for s in batch.newStreams {
            precondition(Int(s.id) == streams.count)
            streams.append((s.service, s.stream))
            builder.addStream(service: s.service, stream: s.stream)
        }
        for t in batch.newTypes { types.append(t.name) }
        try batch.arena.withUnsafeBufferPointer { arena in
            func text(_ r: Range<Int>?) -> String? { r.map { String(decoding: UnsafeBufferPointer(rebasing: arena[$0]), as: UTF8.self) } }
            for row in batch.events {
                let names = streams[Int(row.streamID)]
                // `data` goes in as its text: the builder parses it only when a rule needs it.
                let event = Event(id: text(row.id) ?? "", ts: row.ts, tsText: row.tsCanonical ? nil : text(row.tsRaw), service: names.service, stream: names.stream,
                                  type: types[Int(row.typeID)], data: .emptyObject, metaText: text(row.meta), extraText: text(row.extra), line: row.line)
                try builder.add(event, stream: row.streamID, kind: row.typeID, dataText: row.data.map { UnsafeBufferPointer(rebasing: arena[$0]) })
            }
        }
    }

    /// Waits for every batch; commits what was built. Returns false when the pipeline stopped
    /// (a backwards timestamp): the index must then be rebuilt from the store.
    public func finish(lastEventID: String) throws -> Bool {
        queue.sync {}
        if let failure = lock.withLock({ failure }) { throw failure }
        guard !abandoned else { return false }
        try builder.finish(lastEventID: lastEventID)
        if let renameTo, let from, rename(from, renameTo) != 0 {
            throw StoreError("\(renameTo): cannot put the new index in place: \(String(cString: strerror(errno)))")
        }
        return true
    }
}
