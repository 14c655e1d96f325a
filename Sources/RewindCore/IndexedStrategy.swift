/// The diff, undo, squash and cache strategies over a `TimelineIndex`, as `HydrationStrategy`s:
/// they reach the state's versions through the index, then decode the documents into a `State`.
public struct IndexedStrategy: HydrationStrategy {
    public let name: String
    public let index: TimelineIndex
    let reach: (Int) -> IndexedReach
    /// Where the crossed irreversible events are read from (their ids, lines and types).
    let source: any EventSource

    public static let names = ["diff", "undo", "squash", "cache"]

    /// `cache` keeps what it reaches in `cache`; the others ignore it.
    public init?(name: String, index: TimelineIndex, cache: IndexedStateCache? = nil, source: any EventSource) {
        self.name = name
        self.index = index
        self.source = source
        switch name {
        case "diff": reach = index.diff(to:)
        case "undo": reach = index.undo(to:)
        case "squash": reach = index.squash(to:)
        case "cache":
            let cache = cache ?? IndexedStateCache(index: index)
            reach = { cache.reach($0, keep: true) }
        default: return nil
        }
    }

    public func hydrate(to position: Int) throws -> Hydration {
        let r = reach(position)
        let crossed = try r.crossed.map { p -> StreamTransition in
            let event = try source.event(at: p)
            return StreamTransition(position: p, service: event.service, stream: event.stream,
                                    before: index.document(version: index.previousVersion[p]),
                                    after: index.document(version: index.versionAfter(p)),
                                    irreversible: true, eventID: event.id, line: event.line, type: event.type)
        }
        // Bytes touched: each applied diff reads its stream id and document reference.
        return Hydration(state: index.state(r.versions).materialized(), position: min(max(position, 0), index.count),
                         applied: r.applied, bytesRead: r.applied * 12, irreversibleCrossed: crossed)
    }
}
