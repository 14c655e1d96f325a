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
        window(doc, collapsed: collapsed, ascii: ascii, rows: 0..<Int.max).rows
    }

    /// Only the rows in `range`, and how many rows the whole tree has: what a pane draws costs
    /// the rows it shows, the sorting of the objects they are in, and a count of the rest (no
    /// labels or pointers made for rows off screen: a 50 000-key document redraws in milliseconds).
    public static func window(_ doc: JSONValue, collapsed: Set<JSONKey>, ascii: Bool = false,
                              rows range: Range<Int>) -> (rows: [Row], count: Int) {
        var out: [Row] = []
        var next = 0
        walk(doc, key: nil, pointer: "", topKey: "", depth: 0, collapsed: collapsed, ascii: ascii, range: range, next: &next, into: &out)
        return (out, next)
    }

    /// Rows of `v`'s subtree (itself included), counted without making them.
    static func count(_ v: JSONValue, pointer: String, collapsed: Set<JSONKey>) -> Int {
        switch v {
        case .object(let o):
            guard !collapsed.contains(JSONKey(pointer)) else { return 1 }
            var n = 1
            for (k, child) in o {
                n += child.isContainer ? count(child, pointer: pointer + "/" + JSONPointer.escape(k.string), collapsed: collapsed) : 1
            }
            return n
        case .array(let a):
            guard !collapsed.contains(JSONKey(pointer)) else { return 1 }
            var n = 1
            for (i, child) in a.enumerated() {
                n += child.isContainer ? count(child, pointer: pointer + "/\(i)", collapsed: collapsed) : 1
            }
            return n
        default:
            return 1
        }
    }

    static func summary(_ v: JSONValue) -> String {
        switch v {
        case .object(let o): return "{\(o.count) key\(o.count == 1 ? "" : "s")}"
        case .array(let a): return "[\(a.count) item\(a.count == 1 ? "" : "s")]"
        default: return v.jsonText
        }
    }

    static func walk(_ v: JSONValue, key: String?, pointer: String, topKey: String, depth: Int,
                     collapsed: Set<JSONKey>, ascii: Bool, range: Range<Int>, next: inout Int, into out: inout [Row]) {
        // A subtree wholly past the window, or wholly before it, is only counted (once).
        if next >= range.upperBound || next < range.lowerBound {
            let n = count(v, pointer: pointer, collapsed: collapsed)
            if next >= range.upperBound || next + n <= range.lowerBound {
                next += n
                return
            }
        }
        let isContainer = v.isContainer
        let folded = isContainer && collapsed.contains(JSONKey(pointer))
        if range.contains(next) {
            let marker = isContainer ? (folded ? (ascii ? "+ " : "▸ ") : (ascii ? "- " : "▾ ")) : "  "
            let name = key.map { JSONValue.string($0).jsonText + ": " } ?? ""
            out.append(Row(depth: depth, pointer: pointer, topKey: topKey, label: marker + name + summary(v),
                           isContainer: isContainer, isCollapsed: folded, value: v))
        }
        next += 1
        guard isContainer, !folded else { return }
        switch v {
        case .object(let o):
            for (k, child) in o.sorted(by: { $0.key < $1.key }) {
                if !range.contains(next), !child.isContainer { next += 1; continue }
                walk(child, key: k.string, pointer: pointer + "/" + JSONPointer.escape(k.string), topKey: depth == 0 ? k.string : topKey,
                     depth: depth + 1, collapsed: collapsed, ascii: ascii, range: range, next: &next, into: &out)
            }
        case .array(let a):
            for (i, item) in a.enumerated() {
                if !range.contains(next), !item.isContainer { next += 1; continue }
                walk(item, key: String(i), pointer: pointer + "/\(i)", topKey: topKey, depth: depth + 1,
                     collapsed: collapsed, ascii: ascii, range: range, next: &next, into: &out)
            }
        default: break
        }
    }
}

extension JSONValue {
    /// An object or an array.
    var isContainer: Bool {
        switch self {
        case .object, .array: return true
        default: return false
        }
    }
}
