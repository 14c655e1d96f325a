/// A state reached through the index, read as it is drawn or printed: a stream's document is
/// looked up (and its block inflated) only when someone asks for it. Whole-state reads
/// (`materialized`, `writeJSON`, `hash`) inflate each block once.
public struct StateView: Sendable {
    public let index: TimelineIndex
    public var versions: VersionMap
    public let position: Int

    public init(index: TimelineIndex, versions: VersionMap, position: Int) {
        self.index = index
        self.versions = versions
        self.position = position
    }

    /// Streams that have a document.
    public var streamCount: Int { versions.existing }

    public func version(of id: UInt32) -> UInt32 { versions.value(id) }

    public func exists(_ id: UInt32) -> Bool { StreamVersion.hasDocument(versions.value(id)) }

    public func document(of id: UInt32) throws -> JSONValue? {
        let d = index.document(versions.value(id))
        try index.image.check()
        return d
    }

    public func document(service: String, stream: String) throws -> JSONValue? {
        guard let id = index.streamID(service: service, stream: stream) else {
            try index.image.check()
            return nil
        }
        return try document(of: id)
    }

    /// The existing streams that `service` and `stream` name (either may be nil), in
    /// (service, stream) order, with their versions.
    public func streams(service: String? = nil, stream: String? = nil) throws -> [(id: UInt32, key: StreamKey, version: UInt32)] {
        var ids: [UInt32]
        if let service, let stream {
            ids = index.streamID(service: service, stream: stream).map { [$0] } ?? []
        } else if let service {
            ids = index.sortedStreams.streams(ofService: service)
        } else {
            ids = index.sortedStreams.all()
        }
        var out: [(UInt32, StreamKey, UInt32)] = []
        for id in ids {
            let v = versions.value(id)
            guard StreamVersion.hasDocument(v) else { continue }
            let key = try index.streamKey(id)
            if let stream, service == nil, key.stream.utf8.elementsEqual(stream.utf8) == false { continue }
            out.append((id, key, v))
        }
        try index.image.check()
        return out
    }

    /// The documents' canonical texts of `streams`, in the same order.
    func texts(_ streams: [(id: UInt32, key: StreamKey, version: UInt32)]) throws -> [ArraySlice<UInt8>] {
        let texts = index.image.documentTexts(after: streams.map { StreamVersion.lastEvent($0.version)! })
        try index.image.check()
        return try texts.map { t in
            guard let t else { throw IndexDamage("a document is missing") }
            return t
        }
    }

    /// The state (narrowed to `service` / `stream`) as JSON documents.
    public func materialized(service: String? = nil, stream: String? = nil) throws -> State {
        let list = try streams(service: service, stream: stream)
        var state = State()
        for (entry, text) in zip(list, try texts(list)) {
            let doc = try text.withUnsafeBufferPointer { try JSONParser.parse($0, depthLimit: 4 * JSONParser.maxDepth) }
            state.services[JSONKey(entry.key.service), default: [:]][JSONKey(entry.key.stream)] = doc
        }
        return state
    }

    /// Writes `{"service": {"stream": document, …}, …}` (narrowed) in canonical form: the same
    /// bytes as the materialized state's `json.jsonText`, without parsing a document.
    public func writeJSON(service: String? = nil, stream: String? = nil, chunk: Int = 1 << 20, _ out: ([UInt8]) throws -> Void) throws {
        let list = try streams(service: service, stream: stream)
        var buffer: [UInt8] = [UInt8(ascii: "{")]
        var currentService: String?
        var batch = 0
        while batch < list.count {
            let part = Array(list[batch..<min(list.count, batch + 65_536)])
            for (entry, text) in zip(part, try texts(part)) {
                if currentService.map({ $0.utf8.elementsEqual(entry.key.service.utf8) }) != true {
                    if currentService != nil { buffer.append(UInt8(ascii: "}")); buffer.append(UInt8(ascii: ",")) }
                    JSONValue.writeString(entry.key.service, to: &buffer)
                    buffer.append(contentsOf: ":{".utf8)
                    currentService = entry.key.service
                } else {
                    buffer.append(UInt8(ascii: ","))
                }
                JSONValue.writeString(entry.key.stream, to: &buffer)
                buffer.append(UInt8(ascii: ":"))
                buffer.append(contentsOf: text)
                if buffer.count >= chunk {
                    try out(buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            batch += part.count
        }
        if currentService != nil { buffer.append(UInt8(ascii: "}")) }
        buffer.append(UInt8(ascii: "}"))
        try out(buffer)
    }

    /// The hash of the canonical text: equal to `materialized().hash`.
    public func hash() throws -> String {
        var h = ContentHash()
        try writeJSON { bytes in h.update(bytes) }
        return h.hex
    }
}
