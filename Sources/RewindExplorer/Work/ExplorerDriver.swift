import Foundation
import RewindCore

/// Runs the explorer's effects. Long work runs on a thread of its own, over its own opening of
/// the data (`ExplorerData.worker()`: a store connection and an index mapping no other thread
/// touches), one piece at a time; how far it got and what it found come back as actions when
/// the key loop polls. The key loop never waits for it: keys are answered meanwhile, Escape
/// cancels it, and a result that arrives after the cursor moved lands where it belongs (the
/// strategies of the position they were compared at). With `inline`, work runs at once on the
/// calling thread — what tests use to state exactly what an action leads to.
public final class ExplorerDriver: @unchecked Sendable {
    public let explorer: Explorer
    let inline: Bool
    /// Puts text on the clipboard (the terminal writes OSC 52).
    public var copyToClipboard: (String) -> Void = { _ in }
    private let queue = DispatchQueue(label: "rewind.explorer.work", qos: .userInitiated)
    /// Follow mode reads the log's end here, over the explorer's own data (only this thread
    /// reads appended lines; the key loop takes the result).
    private let followQueue = DispatchQueue(label: "rewind.explorer.follow")
    private var followed: [(TimelineUpdate?, String?)] = []
    private var following = false
    private let lock = NSLock()
    private var finished: [(Int, WorkResult)] = []
    /// Work started and not yet fed back (touched by the key loop only).
    private var running: [Int: (control: WorkControl, started: UInt64)] = [:]
    /// The worker's data — opened by the key loop, then used on `queue` only — and the index
    /// length it was opened at (a log that grew gets a new one).
    private var worker: Unchecked<WorkerContext>?
    private var workerCount = -1

    public init(explorer: Explorer, inline: Bool = false) {
        self.explorer = explorer
        self.inline = inline
    }

    public var isBusy: Bool { !running.isEmpty || following }

    public func handle(_ key: Key) throws {
        if let a = explorer.action(for: key) { try send(a) }
    }

    public func send(_ action: ExplorerAction) throws {
        try run(try explorer.update(action))
    }

    func run(_ effects: [ExplorerEffect]) throws {
        for effect in effects {
            switch effect {
            case .start(let id, let request): try start(id, request)
            case .cancel(let id):
                running[id]?.control.cancel()
                running[id] = nil
            case .copy(let text): copyToClipboard(text)
            case .readAppended:
                if inline {
                    do { try send(.followed(try explorer.data.readAppended(), error: nil)) } catch { try send(.followed(nil, error: "\(error)")) }
                    continue
                }
                let data = Unchecked(explorer.data)
                following = true
                followQueue.async { [self] in
                    let result: (TimelineUpdate?, String?)
                    do { result = (try data.value.readAppended(), nil) } catch { result = (nil, "\(error)") }
                    lock.withLock { followed.append(result) }
                }
            }
        }
    }

    private func start(_ id: Int, _ request: WorkRequest) throws {
        let control = WorkControl()
        if inline {
            try send(.workFinished(id: id, WorkerContext(data: explorer.data).perform(request, control: control)))
            return
        }
        running[id] = (control, DispatchTime.now().uptimeNanoseconds)
        let count = explorer.data.index.count
        if worker == nil || workerCount != count {
            do {
                worker = Unchecked(WorkerContext(data: try explorer.data.worker()))
                workerCount = count
            } catch {
                running[id] = nil
                try send(.workFinished(id: id, .failed("\(error)")))
                return
            }
        }
        let context = worker!
        queue.async { [self] in
            let result = control.isCancelled ? .cancelled : context.value.perform(request, control: control)
            lock.withLock { finished.append((id, result)) }
        }
    }

    /// Feeds back what finished and how far running work got; true when anything changed.
    @discardableResult
    public func poll() throws -> Bool {
        let done = lock.withLock { () -> [(Int, WorkResult)] in
            defer { finished = [] }
            return finished
        }
        var changed = false
        let reads = lock.withLock { () -> [(TimelineUpdate?, String?)] in
            defer { followed = [] }
            return followed
        }
        for (update, error) in reads {
            following = false
            try send(.followed(update, error: error))
            changed = changed || update != nil || error != nil
        }
        for (id, result) in done {
            guard running.removeValue(forKey: id) != nil else { continue }  // cancelled meanwhile
            try send(.workFinished(id: id, result))
            changed = true
        }
        let now = DispatchTime.now().uptimeNanoseconds
        for (id, r) in running {
            let (d, t) = r.control.progress
            try send(.workProgressed(id: id, done: d, total: t, seconds: Double(now - r.started) / 1e9))
            changed = true
        }
        return changed
    }

    /// Waits until no work runs, feeding results back as they come (tests, benchmarks).
    public func settle(timeout: Double = 600) throws {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeout * 1e9)
        while isBusy && DispatchTime.now().uptimeNanoseconds < deadline {
            try poll()
            if isBusy { usleep(2_000) }
        }
    }

    /// The search runs over this many events at a time (progress and cancellation between).
    static let searchChunk = 65_536
    /// Matches kept at most (the status says when there are more).
    public static let matchLimit = 1_000_000

    /// Writes the state after `position` events to `path` as `rewind state --json` prints it.
    static func export(_ data: any ExplorerData, position: Int, at: Timestamp, to path: String) -> String {
        do {
            let view = StateView(index: data.index, versions: try data.reach(position), position: position)
            let bytes = try ReachedState.indexed(view).specJSON(at: at, position: position)
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                return "cannot write \(path)"
            }
            return "exported the state at position \(position) (\(bytes.count) bytes) to \(path)"
        } catch {
            return "cannot export: \(error)"
        }
    }
}

/// What the work queue works on: its own data, and what it built from it to keep.
final class WorkerContext {
    let data: any ExplorerData
    private var filter: StreamFilter?

    init(data: any ExplorerData) { self.data = data }

    /// Does one piece of long work.
    func perform(_ request: WorkRequest, control: WorkControl) -> WorkResult {
        do {
            switch request {
            case .search(let query):
                let n = data.index.count
                var found: [Int] = []
                var start = 0
                while start < n && found.count < ExplorerDriver.matchLimit {
                    let end = min(n, start + ExplorerDriver.searchChunk)
                    found += try data.search(query, in: start..<end)
                    start = end
                    control.report(done: end, total: n)
                    try control.check()
                }
                return .matches(Array(found.prefix(ExplorerDriver.matchLimit)))
            case .breaks(let text):
                let invariant = try Invariant(text)
                let bisector = Bisector(invariant: invariant)
                let found = try bisector.breaks(events: data.index.count, chunk: 16_384, control: control,
                                                transitions: bisector.transitions(of: data.index))
                return .breaks(found, warnings: try unselected(invariant))
            case .strategies(let position):
                return .strategies(try data.compareStrategies(at: position, control: control))
            case .verify:
                return .summary(try data.verifyCache(control: control))
            case .export(let path, let position, let at):
                return .summary(ExplorerDriver.export(data, position: position, at: at, to: path))
            case .filter(let text, let narrowing):
                if filter?.count != data.index.streamCount {
                    filter = StreamFilter(index: data.index, sorted: data.index.sortedStreams.all())
                }
                let ids = filter!.matches(text, among: narrowing?.ids, control: control)
                try control.check()
                return .streams(ids)
            }
        } catch is WorkCancelled {
            return .cancelled
        } catch {
            return .failed("\(error)")
        }
    }
}

extension WorkerContext {
    /// The invariant's paths that select nothing: no stream matches them, or none of the
    /// streams that do has the field at the end of the log (a typo holds vacuously).
    func unselected(_ invariant: Invariant) throws -> [String] {
        let index = data.index
        let head = StateView(index: index, versions: index.head, position: index.count)
        var warnings: [String] = []
        var seen = Set<String>()
        for path in invariant.paths where seen.insert(path.description).inserted {
            var matched: [UInt32] = []
            for id in 0..<UInt32(index.streamCount) where matched.count < 2_000 {
                let key = try index.streamKey(id)
                if path.matches(service: key.service, stream: key.stream) { matched.append(id) }
            }
            let streams = path.segments.prefix(2).map { $0 ?? "*" }.joined(separator: "/")
            guard !matched.isEmpty else { warnings.append("no stream matches \(streams)"); continue }
            guard path.segments.count > 2 else { continue }
            let selects = try matched.contains { id in try head.document(of: id).map { !path.select(in: $0).isEmpty } ?? false }
            if !selects { warnings.append("no stream matching \(streams) has \(path) at the end of the log") }
        }
        return warnings
    }
}

/// A value handed to the work queue that only it uses from then on.
struct Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
