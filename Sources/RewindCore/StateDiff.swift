/// One difference between two states, at a path `service/stream/key/…`.
public struct PathChange: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case added, removed, changed }
    public var path: String
    public var kind: Kind
    public var old: JSONValue?
    public var new: JSONValue?

    public var description: String {
        switch kind {
        case .added: return "+ \(path): \(new!.jsonText)"
        case .removed: return "- \(path): \(old!.jsonText)"
        case .changed: return "~ \(path): \(old!.jsonText) → \(new!.jsonText)"
        }
    }
}

/// What changed between two states: objects are compared key by key, anything else whole.
public enum StateDiff {
    public static func changes(from old: State, to new: State) -> [PathChange] {
        var out: [PathChange] = []
        for service in Set(old.services.keys).union(new.services.keys).sorted() {
            let a = old.services[service] ?? [:], b = new.services[service] ?? [:]
            for stream in Set(a.keys).union(b.keys).sorted() where a[stream] != b[stream] {
                compare(a[stream], b[stream], path: "\(service)/\(stream)", into: &out)
            }
        }
        return out
    }

    /// Changes within one stream's document (nil = no document).
    public static func changes(from old: JSONValue?, to new: JSONValue?, path: String) -> [PathChange] {
        var out: [PathChange] = []
        compare(old, new, path: path, into: &out)
        return out
    }

    static func compare(_ a: JSONValue?, _ b: JSONValue?, path: String, into out: inout [PathChange]) {
        switch (a, b) {
        case (nil, nil): return
        case (nil, let n?): out.append(PathChange(path: path, kind: .added, old: nil, new: n))
        case (let o?, nil): out.append(PathChange(path: path, kind: .removed, old: o, new: nil))
        case (.object(let x)?, .object(let y)?):
            for key in Set(x.keys).union(y.keys).sorted() where x[key] != y[key] {
                compare(x[key], y[key], path: path + "/" + key.string, into: &out)
            }
        case (let o?, let n?):
            if o != n { out.append(PathChange(path: path, kind: .changed, old: o, new: n)) }
        }
    }
}
