import RewindCore

/// A document as rows of a collapsible tree: containers show `▾`/`▸` and a size, scalars their
/// JSON text. `collapsed` holds the JSON Pointers of folded containers.
public struct DocumentTree {
    public struct Row: Equatable, Sendable {
        public var depth: Int
        public var pointer: String
        /// The top-level key this row is under ("" for the root).
        public var topKey: String
        public var label: String
        public var isContainer: Bool
        public var isCollapsed: Bool
        /// The value at `pointer` (what `y` copies).
        public var value: JSONValue?
    }

    public static func rows(_ doc: JSONValue, collapsed: Set<JSONKey>, ascii: Bool = false) -> [Row] {
        var out: [Row] = []
        walk(doc, key: nil, pointer: "", topKey: "", depth: 0, collapsed: collapsed, ascii: ascii, into: &out)
        return out
    }

    static func summary(_ v: JSONValue) -> String {
        switch v {
        case .object(let o): return "{\(o.count) key\(o.count == 1 ? "" : "s")}"
        case .array(let a): return "[\(a.count) item\(a.count == 1 ? "" : "s")]"
        default: return v.jsonText
        }
    }

    static func walk(_ v: JSONValue, key: String?, pointer: String, topKey: String, depth: Int,
                     collapsed: Set<JSONKey>, ascii: Bool, into out: inout [Row]) {
        let isContainer: Bool
        switch v { case .object, .array: isContainer = true; default: isContainer = false }
        let folded = collapsed.contains(JSONKey(pointer))
        let marker = isContainer ? (folded ? (ascii ? "+ " : "▸ ") : (ascii ? "- " : "▾ ")) : "  "
        let name = key.map { JSONValue.string($0).jsonText + ": " } ?? ""
        out.append(Row(depth: depth, pointer: pointer, topKey: topKey, label: marker + name + summary(v),
                       isContainer: isContainer, isCollapsed: folded, value: v))
        guard isContainer, !folded else { return }
        switch v {
        case .object(let o):
            for k in o.keys.sorted() {
                walk(o[k]!, key: k.string, pointer: pointer + "/" + JSONPointer.escape(k.string), topKey: depth == 0 ? k.string : topKey,
                     depth: depth + 1, collapsed: collapsed, ascii: ascii, into: &out)
            }
        case .array(let a):
            for (i, item) in a.enumerated() {
                walk(item, key: String(i), pointer: pointer + "/\(i)", topKey: topKey, depth: depth + 1,
                     collapsed: collapsed, ascii: ascii, into: &out)
            }
        default: break
        }
    }
}
