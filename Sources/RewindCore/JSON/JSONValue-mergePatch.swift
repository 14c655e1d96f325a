/// RFC 7386 JSON Merge Patch, applied in place.
extension JSONValue {
    /// Applies `patch` to this value: objects merge recursively, `null` removes a key,
    /// anything else replaces.
    public mutating func mergePatch(_ patch: JSONValue) {
        guard case .object(let p) = patch else {
            self = patch
            return
        }
        var o: [JSONKey: JSONValue]
        if case .object(let existing) = self { o = existing } else { o = [:] }
        self = .null  // drop our reference so `o` is uniquely owned and mutates in place
        for (key, value) in p {
            switch value {
            case .null:
                o.removeValue(forKey: key)
            case .object:
                var child = o.removeValue(forKey: key) ?? .null
                child.mergePatch(value)
                o[key] = child
            default:
                o[key] = value
            }
        }
        self = .object(o)
    }
}
