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

extension JSONValue {
    /// `mergePatch(try JSONParser.parse(text))`, for the text of a JSON value, without building
    /// an object patch as dictionaries: its members are read in order and merged, nested objects
    /// in turn. The index's fold merges each event's `data` so (callgrind, 100 000-event import:
    /// parsing `data` into a dictionary and merging it cost ~5 800 instructions per event).
    /// Throws, leaving the value unchanged, when the text is not JSON.
    public mutating func mergePatch(text: UnsafeBufferPointer<UInt8>) throws(JSONParseError) {
        var p = JSONParser(text)
        p.skipWhitespace()
        guard p.pos < text.count, text[p.pos] == UInt8(ascii: "{") else {
            mergePatch(try JSONParser.parse(text))
            return
        }
        let patch = try p.parsePatch(depth: 1)
        p.skipWhitespace()
        guard p.pos == text.count else { throw p.error("unexpected text after the JSON value") }
        apply(patch)
    }

    /// Merges a patch read by `JSONParser.parsePatch` (RFC 7386, as `mergePatch`).
    mutating func apply(_ patch: ObjectPatch) {
        var o: [JSONKey: JSONValue]
        if case .object(let existing) = self { o = existing } else { o = [:] }
        self = .null  // drop our reference so `o` is uniquely owned and mutates in place
        for (key, member) in patch.effectiveMembers {
            switch member {
            case .value(.null):
                o.removeValue(forKey: key)
            case .value(let v):
                o[key] = v
            case .object(let sub):
                var child = o.removeValue(forKey: key) ?? .null
                child.apply(sub)
                o[key] = child
            }
        }
        self = .object(o)
    }
}

/// A JSON object read as a merge patch: its members in the order written.
struct ObjectPatch {
    enum Member {
        case value(JSONValue)
        indirect case object(ObjectPatch)  // boxed: only nested objects, not every member
    }
    var members: [(key: JSONKey, value: Member)] = []
    var hasObjects = false

    /// The members that decide the merge. Parsed as a dictionary, a repeated key keeps its last
    /// value, so only the last occurrence counts; in order, earlier ones only differ from that
    /// when a later one is an object (merged into what the earlier one left, not into the target).
    var effectiveMembers: [(key: JSONKey, value: Member)] {
        guard hasObjects, members.count > 1 else { return members }
        var last: [JSONKey: Int] = [:]
        for (i, m) in members.enumerated() { last[m.key] = i }
        guard last.count < members.count else { return members }
        return members.indices.filter { last[members[$0].key] == $0 }.map { members[$0] }
    }
}

extension JSONParser {
    /// Reads an object (at `{`) as a merge patch; `depth` counts as `parseObject`'s does.
    mutating func parsePatch(depth: Int) throws(JSONParseError) -> ObjectPatch {
        try checkDepth(depth)
        var patch = ObjectPatch()
        try forEachMember { (p, name, _) throws(JSONParseError) in
            if patch.members.isEmpty { patch.members.reserveCapacity(8) }
            let key = JSONKey(String(decoding: name, as: UTF8.self))
            if p.bytes[p.pos] == UInt8(ascii: "{") {
                patch.members.append((key, .object(try p.parsePatch(depth: depth + 1))))
                patch.hasObjects = true
            } else {
                patch.members.append((key, .value(try p.parseValue(depth: depth))))
            }
        }
        return patch
    }
}
