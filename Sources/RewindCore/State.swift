/// The state of every service at a point in time: service → stream → document (SPEC §3).
/// A service appears only while at least one of its streams has a document.
public struct State: Sendable, Equatable {
    /// Keyed by code points: canonically equivalent names are different services and streams.
    public var services: [JSONKey: [JSONKey: JSONValue]]

    public init(services: [JSONKey: [JSONKey: JSONValue]] = [:]) { self.services = services }

    public func document(service: String, stream: String) -> JSONValue? { services[JSONKey(service)]?[JSONKey(stream)] }

    /// Keeps only what `service` and `stream` name (either may be nil).
    public func narrowed(service: String?, stream: String?) -> State {
        var out: [JSONKey: [JSONKey: JSONValue]] = [:]
        for (name, streams) in services where service == nil || JSONKey(service!) == name {
            let kept = stream == nil ? streams : streams.filter { $0.key == JSONKey(stream!) }
            if !kept.isEmpty { out[name] = kept }
        }
        return State(services: out)
    }

    public var json: JSONValue { .object(services.mapValues { .object($0) }) }

    /// A digest of the canonical JSON text: equal states have equal hashes.
    public var hash: String { ContentHash.hex(of: json.jsonText) }

    public var streamCount: Int { services.values.reduce(0) { $0 + $1.count } }
}
