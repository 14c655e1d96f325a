import CYaml
import Yams

/// A YAML node as rewind composes it from libyaml's events (libyaml, vendored by Yams as its
/// `CYaml` module, scans and parses; Yams resolves plain scalars). rewind composes the tree
/// itself rather than through `Yams.compose` because Yams compares mapping keys with Swift's
/// `String ==` (two keys that are canonically equivalent are a "duplicate"), and expands
/// nothing but lets a caller walking the tree expand aliases without bound (a "billion
/// laughs" of nine nested aliases is 10⁹ nodes). Here keys compare by code points, every
/// alias is counted at the size it expands to, and depth is bounded.
struct YAMLNode {
    enum Kind {
        /// A scalar as a Yams node, for Yams' resolution of plain scalars (null, bool, int, float).
        case scalar(Yams.Node)
        case sequence([YAMLNode])
        case mapping([(key: YAMLNode, value: YAMLNode)])
    }

    var kind: Kind
    /// 1-based line of the node's start.
    var line: Int
    /// Nodes in this one (itself included), aliases counted as what they stand for.
    var size: Int

    var mapping: [(key: YAMLNode, value: YAMLNode)]? { if case .mapping(let m) = kind { return m } else { return nil } }
    var sequence: [YAMLNode]? { if case .sequence(let s) = kind { return s } else { return nil } }
    var scalar: Yams.Node.Scalar? { if case .scalar(let n) = kind { return n.scalar } else { return nil } }
    /// The scalar's text (nil for collections).
    var string: String? { scalar?.string }
    /// The scalar's resolved tag name ("tag:yaml.org,2002:str", …).
    var tagName: String? { if case .scalar(let n) = kind { return n.tag.description } else { return nil } }
    var isNull: Bool { if case .scalar(let n) = kind { return n.null != nil } else { return false } }
    var bool: Bool? { if case .scalar(let n) = kind, n.tag.description == Tag.Name.bool.rawValue { return n.bool } else { return nil } }
    var yams: Yams.Node? { if case .scalar(let n) = kind { return n } else { return nil } }
}

struct YAMLProblem: Error {
    var line: Int
    var message: String
}

enum YAMLComposer {
    /// At most this many nodes, aliases counted as what they expand to.
    static let maxNodes = 100_000
    /// Aliases may add at most this many nodes, or `aliasFactor` times the nodes written out,
    /// whichever is more: a few hundred bytes cannot stand for a document of 67 000 nodes that
    /// every event then copies (sharing an op list among a few dozen types stays well inside).
    static let aliasFloor = 10_000
    static let aliasFactor = 16
    /// At most this deep.
    static let maxDepth = 64

    /// The document's root (nil for an empty stream). One document only.
    static func compose(_ text: String) throws -> YAMLNode? {
        var text = text
        return try text.withUTF8 { bytes -> YAMLNode? in
            // libyaml keeps a pointer to its parser (its input handler's data): the parser lives
            // at one address, never copied.
            let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
            defer { parser.deallocate() }
            parser.initialize(to: yaml_parser_t())
            guard yaml_parser_initialize(parser) == 1 else { throw YAMLProblem(line: 0, message: "out of memory") }
            defer { yaml_parser_delete(parser) }
            yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(parser, bytes.baseAddress, bytes.count)
            var composer = Composer(parser: parser)
            return try composer.document()
        }
    }

    private struct Composer {
        let parser: UnsafeMutablePointer<yaml_parser_t>
        var anchors: [JSONKey: YAMLNode] = [:]
        var total = 0
        /// Nodes written out, and nodes aliases stand for.
        var written = 0
        var aliased = 0

        /// The next event; `body` reads it before it is freed.
        mutating func next<T>(_ body: (yaml_event_t) throws -> T) throws -> T {
            var event = yaml_event_t()
            guard yaml_parser_parse(parser, &event) == 1 else {
                let p = parser.pointee
                let problem = p.problem.map { String(cString: $0) } ?? "unreadable"
                let context = p.context.map { String(cString: $0) + ": " } ?? ""
                throw YAMLProblem(line: Int(p.problem_mark.line) + 1, message: context + problem)
            }
            defer { yaml_event_delete(&event) }
            return try body(event)
        }

        mutating func document() throws -> YAMLNode? {
            _ = try next { $0.type }  // stream start
            var root: YAMLNode?
            var documents = 0
            while true {
                let (type, line) = try next { ($0.type, Int($0.start_mark.line) + 1) }
                switch type {
                case YAML_STREAM_END_EVENT:
                    let allowed = max(YAMLComposer.aliasFloor, YAMLComposer.aliasFactor * written)
                    guard aliased <= allowed else {
                        throw YAMLProblem(line: line, message: "aliases expand \(written) nodes written out by \(aliased) more (at most \(allowed))")
                    }
                    return root
                case YAML_DOCUMENT_START_EVENT:
                    documents += 1
                    guard documents == 1 else { throw YAMLProblem(line: line, message: "expected one document, found another") }
                    root = try node(depth: 0)
                    _ = try next { $0.type }  // document end
                default:
                    throw YAMLProblem(line: line, message: "unexpected YAML event")
                }
            }
        }

        mutating func count(_ n: Int, line: Int) throws {
            total += n
            if total > YAMLComposer.maxNodes {
                throw YAMLProblem(line: line, message: "more than \(YAMLComposer.maxNodes) nodes once aliases are expanded")
            }
        }

        /// The node the next event starts (nil at the end of a collection).
        mutating func node(depth: Int) throws -> YAMLNode? {
            enum Start { case end, alias(JSONKey), scalar(Yams.Node), sequence, mapping }
            var anchorName: String?
            var line = 0
            let start: Start = try next { e in
                line = Int(e.start_mark.line) + 1
                switch e.type {
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    return .end
                case YAML_ALIAS_EVENT:
                    return .alias(JSONKey(String(cString: e.data.alias.anchor)))
                case YAML_SCALAR_EVENT:
                    let s = e.data.scalar
                    let value = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
                    let tag: Tag
                    if s.quoted_implicit == 1 {
                        tag = Tag(.str)
                    } else if let t = s.tag {
                        tag = Tag(Tag.Name(rawValue: String(cString: t)))
                    } else {
                        tag = Tag(.implicit)
                    }
                    let style = Yams.Node.Scalar.Style(rawValue: numericCast(s.style.rawValue)) ?? .any
                    anchorName = s.anchor.map { String(cString: $0) }
                    return .scalar(Yams.Node.scalar(.init(value, tag, style)))
                case YAML_SEQUENCE_START_EVENT:
                    anchorName = e.data.sequence_start.anchor.map { String(cString: $0) }
                    return .sequence
                case YAML_MAPPING_START_EVENT:
                    anchorName = e.data.mapping_start.anchor.map { String(cString: $0) }
                    return .mapping
                default:
                    throw YAMLProblem(line: line, message: "unexpected YAML event")
                }
            }
            var result: YAMLNode
            switch start {
            case .end:
                return nil
            case .alias(let name):
                guard let target = anchors[name] else { throw YAMLProblem(line: line, message: "alias *\(name.string) names no anchor") }
                try count(target.size, line: line)
                aliased += target.size
                return target
            case .scalar(let n):
                try count(1, line: line)
                written += 1
                result = YAMLNode(kind: .scalar(n), line: line, size: 1)
            case .sequence:
                guard depth < YAMLComposer.maxDepth else { throw YAMLProblem(line: line, message: "nested deeper than \(YAMLComposer.maxDepth) levels") }
                try count(1, line: line)
                written += 1
                var items: [YAMLNode] = []
                var size = 1
                while let item = try node(depth: depth + 1) {
                    items.append(item)
                    size += item.size
                }
                result = YAMLNode(kind: .sequence(items), line: line, size: size)
            case .mapping:
                guard depth < YAMLComposer.maxDepth else { throw YAMLProblem(line: line, message: "nested deeper than \(YAMLComposer.maxDepth) levels") }
                try count(1, line: line)
                written += 1
                var pairs: [(key: YAMLNode, value: YAMLNode)] = []
                var seen: [JSONKey: Int] = [:]
                var size = 1
                while let key = try node(depth: depth + 1) {
                    guard let value = try node(depth: depth + 1) else { throw YAMLProblem(line: key.line, message: "a key without a value") }
                    if let name = key.string {
                        // By code points: "caf\u{e9}" and "cafe\u{301}" are two keys.
                        if let first = seen[JSONKey(name)] {
                            throw YAMLProblem(line: key.line, message: "duplicate key '\(name)' (first on line \(first))")
                        }
                        seen[JSONKey(name)] = key.line
                    }
                    pairs.append((key, value))
                    size += key.size + value.size
                }
                result = YAMLNode(kind: .mapping(pairs), line: line, size: size)
            }
            if let anchorName { anchors[JSONKey(anchorName)] = result }
            return result
        }
    }
}
