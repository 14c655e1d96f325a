/// The state of every service at a point in time: service → stream → document (SPEC §3).
/// A service appears only while at least one of its streams has a document.
public struct State: Sendable, Equatable {
    public var services: [String: [String: JSONValue]]

    public init(services: [String: [String: JSONValue]] = [:]) { self.services = services }

    public func document(service: String, stream: String) -> JSONValue? { services[service]?[stream] }

    /// Keeps only what `service` and `stream` name (either may be nil).
    public func narrowed(service: String?, stream: String?) -> State {
        var out: [String: [String: JSONValue]] = [:]
        for (name, streams) in services where service == nil || service == name {
            let kept = stream == nil ? streams : streams.filter { $0.key == stream }
            if !kept.isEmpty { out[name] = kept }
        }
        return State(services: out)
    }

    public var json: JSONValue { .object(services.mapValues { .object($0) }) }

    /// A digest of the canonical JSON text: equal states have equal hashes.
    public var hash: String { ContentHash.hex(of: json.jsonText) }

    public var streamCount: Int { services.values.reduce(0) { $0 + $1.count } }
}
