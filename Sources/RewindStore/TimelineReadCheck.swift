import RewindCore

/// What every store checks of the timeline rows it reads back, whatever the backend: `(ts, line)`
/// strictly increases along positions, and every stream and type an event names is in the store.
struct TimelineReadCheck {
    let location: String
    private var previous: (ts: Int64, line: Int64)?

    init(location: String) { self.location = location }

    /// Checks the row at `position` comes after the one before it.
    mutating func inOrder(ts: Int64, line: Int64, position: Int) throws {
        if let p = previous, !(p.ts < ts || (p.ts == ts && p.line < line)) {
            throw StoreError("\(location): the events at positions \(position - 1) and \(position) are out of timeline order", isDamage: true)
        }
        previous = (ts, line)
    }

    /// The names of stream `streamID` and type `typeID` from a snapshot of the store's names.
    func names(_ names: (streams: [(service: String, stream: String)], types: [String]), stream streamID: Int, type typeID: Int) throws
        -> (service: String, stream: String, type: String) {
        guard streamID >= 0, streamID < names.streams.count, typeID >= 0, typeID < names.types.count else {
            throw StoreError("\(location): an event names a stream or type that is not in the store", isDamage: true)
        }
        return (names.streams[streamID].service, names.streams[streamID].stream, names.types[typeID])
    }

}
