import Foundation

/// Long work's progress and cancellation, shared between the thread doing the work and the one
/// showing it (the explorer's status line). The work reports how far it got and checks, between
/// bounded steps, whether it should stop.
public final class WorkControl: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private var done = 0, total = 0

    public init() {}

    public func cancel() { lock.withLock { cancelled = true } }
    public var isCancelled: Bool { lock.withLock { cancelled } }

    /// Throws `WorkCancelled` once `cancel` was called.
    public func check() throws(WorkCancelled) { if isCancelled { throw WorkCancelled() } }

    public func report(done: Int, total: Int) { lock.withLock { self.done = done; self.total = total } }
    /// Adds to the units done (work split over threads).
    public func advance(by n: Int, total: Int) { lock.withLock { done += n; self.total = total } }
    public var progress: (done: Int, total: Int) { lock.withLock { (done, total) } }
}

/// Work stopped because its `WorkControl` was cancelled.
public struct WorkCancelled: Error, Equatable, CustomStringConvertible {
    public init() {}
    public var description: String { "cancelled" }
}
