import Yams

/// A problem in a rules file, with the line it is on.
public struct RulesFileError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}

extension Rules {
    /// The longest rules file read (a rules file is a page or two).
    public static let maxFileBytes = 4 << 20
    /// The deepest pointer an op may name (documents nest at most `JSONParser.maxDepth` deep).
    public static let maxPointerDepth = JSONParser.maxDepth

    /// Reads the YAML text of a rules file (SPEC §4). `file` names it in errors; names from the
    /// file appear in messages with control and invisible characters escaped.
    public static func parse(yaml: String, file: String) throws(RulesFileError) -> Rules {
        func fail(_ node: YAMLNode?, _ message: String) -> RulesFileError {
            RulesFileError(file: file, line: node?.line ?? 0, message: message)
        }
        guard yaml.utf8.count <= maxFileBytes else {
            throw RulesFileError(file: file, line: 0, message: "larger than \(maxFileBytes >> 20) MB: not a rules file")
        }
        let root: YAMLNode?
        do {
            root = try YAMLComposer.compose(yaml)
        } catch let problem as YAMLProblem {
            throw RulesFileError(file: file, line: problem.line, message: "not valid YAML: \(problem.message.escapingForTerminal)")
        } catch {
            throw RulesFileError(file: file, line: 0, message: "not valid YAML: \(error)")
        }
        guard let root else { return Rules(fingerprint: ContentHash.hex(of: yaml)) }
        guard let top = root.mapping else { throw fail(root, "expected a mapping with a 'services' key") }
        var services: [JSONKey: [JSONKey: TypeRule]] = [:]
        for (key, value) in top {
            guard key.string.sameCodePoints("services") else { throw fail(key, "unknown key \(RulesFile.quoted(key)) (expected 'services')") }
            if value.isNull { continue }
            guard let serviceMap = value.mapping else { throw fail(value, "'services' must map service names to their event types") }
            for (serviceKey, typesNode) in serviceMap {
                guard let service = serviceKey.string else { throw fail(serviceKey, "a service name must be a string") }
                guard let typeMap = typesNode.mapping else {
                    throw fail(typesNode, "service \(RulesFile.quoted(serviceKey)) must map event types to rules")
                }
                var types: [JSONKey: TypeRule] = [:]
                for (typeKey, ruleNode) in typeMap {
                    guard let type = typeKey.string else { throw fail(typeKey, "an event type must be a string") }
                    types[JSONKey(type)] = try parseTypeRule(ruleNode, service: service, type: type, fail: fail)
                }
                services[JSONKey(service)] = types
            }
        }
        return Rules(services: services, fingerprint: ContentHash.hex(of: yaml))
    }

    static func parseTypeRule(_ node: YAMLNode, service: String, type: String,
                              fail: (YAMLNode?, String) -> RulesFileError) throws(RulesFileError) -> TypeRule {
        let name = "\(service)/\(type)".escapingForTerminal
        guard let map = node.mapping else { throw fail(node, "rule for \(name) must be a mapping with 'ops' and/or 'irreversible'") }
        var ops: [RuleOp] = []
        var lines: [Int] = []
        var irreversible = false
        for (key, value) in map {
            switch key.string {
            case "irreversible"?:
                guard let b = value.bool else { throw fail(value, "'irreversible' must be true or false") }
                irreversible = b
            case "ops"?:
                if value.isNull { continue }
                guard let seq = value.sequence else { throw fail(value, "'ops' must be a list") }
                for opNode in seq {
                    ops.append(try parseOp(opNode, fail: fail))
                    lines.append(opNode.line)
                }
            default:
                throw fail(key, "unknown key \(RulesFile.quoted(key)) in the rule for \(name) (expected 'ops' or 'irreversible')")
            }
        }
        return TypeRule(ops: ops, opLines: lines, irreversible: irreversible)
    }

    static func parseOp(_ node: YAMLNode, fail: (YAMLNode?, String) -> RulesFileError) throws(RulesFileError) -> RuleOp {
        guard let map = node.mapping else { throw fail(node, "an op must be a mapping such as '{set: /field, value: ...}'") }
        var fields: [String: YAMLNode] = [:]
        for (k, v) in map {
            guard let name = k.string else { throw fail(k, "op keys must be strings") }
            fields[name] = v
        }
        let verbs = ["set", "inc", "unset", "append", "merge", "delete"].filter { fields[$0] != nil }
        guard verbs.count == 1, let verb = verbs.first else {
            throw fail(node, verbs.isEmpty
                ? "an op needs one of set, inc, unset, append, merge, delete"
                : "an op has exactly one of set, inc, unset, append, merge, delete (found \(verbs.joined(separator: ", ")))")
        }
        let allowed: Set<String>
        switch verb {
        case "set", "append": allowed = [verb, "value"]
        case "inc": allowed = ["inc", "by"]
        default: allowed = [verb]
        }
        for (k, _) in fields where !allowed.contains(k) {
            throw fail(node, "'\(k.escapingForTerminal)' does not belong to a '\(verb)' op (it takes \(allowed.sorted().joined(separator: ", ")))")
        }
        func pointer() throws(RulesFileError) -> JSONPointer {
            let n = fields[verb]!
            guard let text = n.string, n.tagName == Tag.Name.str.rawValue, let p = JSONPointer(text) else {
                throw fail(n, "'\(verb)' takes a JSON Pointer such as /balance")
            }
            guard !p.tokens.isEmpty else { throw fail(n, "'\(verb)' needs a pointer below the document (use merge for the whole document)") }
            guard p.tokens.count <= maxPointerDepth else {
                throw fail(n, "'\(verb)' names a pointer \(p.tokens.count) levels deep (at most \(maxPointerDepth))")
            }
            return p
        }
        func expression(_ key: String) throws(RulesFileError) -> RuleExpression {
            guard let n = fields[key] else { throw fail(node, "a '\(verb)' op needs '\(key)'") }
            let v = RulesFile.json(n)
            if case .string(let s) = v, let style = n.scalar?.style, style == .plain || style == .singleQuoted || style == .doubleQuoted {
                let e = RuleExpression.parse(s)
                if case .select(let path, _) = e, path.contains(where: \.isEmpty) {
                    throw fail(n, "\(RulesFile.quoted(n)) is not a selection: write $.data.field (names between dots, none empty)")
                }
                return e
            }
            return .literal(v)
        }
        switch verb {
        case "set": return .set(try pointer(), try expression("value"))
        case "append": return .append(try pointer(), try expression("value"))
        case "inc": return .inc(try pointer(), by: fields["by"] == nil ? .literal(.int(1)) : try expression("by"))
        case "unset": return .unset(try pointer())
        case "merge": return .merge(try expression("merge"))
        default:
            let n = fields["delete"]!
            guard n.bool == true else { throw fail(n, "'delete' takes true") }
            return .delete
        }
    }
}

enum RulesFile {
    /// A node's text for a message: quoted, escaped.
    static func quoted(_ node: YAMLNode) -> String {
        "'" + (node.string ?? "?").escapingForTerminal + "'"
    }

    /// A YAML node as JSON: plain scalars resolve to null, booleans, integers and floats.
    static func json(_ node: YAMLNode) -> JSONValue {
        switch node.kind {
        case .scalar(let n):
            let scalar = n.scalar!
            switch Tag.Name(rawValue: n.tag.description) {
            case .null: return .null
            case .bool: return n.bool.map(JSONValue.bool) ?? .string(scalar.string)
            case .int:
                if let i = Int64(scalar.string) { return .int(i) }
                return n.int.map { .int(Int64($0)) } ?? .string(scalar.string)
            case .float:
                if let d = n.float, d.isFinite { return .double(d) }
                return .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .mapping(let m):
            var o: [JSONKey: JSONValue] = [:]
            for (k, v) in m { o[JSONKey(k.string ?? "")] = json(v) }
            return .object(o)
        case .sequence(let s):
            return .array(s.map(json))
        }
    }
}
