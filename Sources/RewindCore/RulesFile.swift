import Yams

/// A problem in a rules file, with the line it is on.
public struct RulesFileError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}

extension Rules {
    /// Reads the YAML text of a rules file (SPEC §4). `file` names it in errors.
    public static func parse(yaml: String, file: String) throws(RulesFileError) -> Rules {
        func fail(_ node: Node?, _ message: String) -> RulesFileError {
            RulesFileError(file: file, line: node?.mark?.line ?? 0, message: message)
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw RulesFileError(file: file, line: RulesFile.line(of: error), message: "not valid YAML: \(RulesFile.describe(error))")
        } catch {
            throw RulesFileError(file: file, line: 0, message: "not valid YAML: \(error)")
        }
        guard let root else { return Rules(fingerprint: ContentHash.hex(of: yaml)) }
        guard let top = root.mapping else { throw fail(root, "expected a mapping with a 'services' key") }
        var services: [String: [String: TypeRule]] = [:]
        for (key, value) in top {
            guard key.string == "services" else { throw fail(key, "unknown key '\(key.string ?? "?")' (expected 'services')") }
            if value.null != nil { continue }
            guard let serviceMap = value.mapping else { throw fail(value, "'services' must map service names to their event types") }
            for (serviceKey, typesNode) in serviceMap {
                guard let service = serviceKey.string else { throw fail(serviceKey, "a service name must be a string") }
                guard let typeMap = typesNode.mapping else {
                    throw fail(typesNode, "service '\(service)' must map event types to rules")
                }
                var types: [String: TypeRule] = [:]
                for (typeKey, ruleNode) in typeMap {
                    guard let type = typeKey.string else { throw fail(typeKey, "an event type must be a string") }
                    types[type] = try parseTypeRule(ruleNode, service: service, type: type, fail: fail)
                }
                services[service] = types
            }
        }
        return Rules(services: services, fingerprint: ContentHash.hex(of: yaml))
    }

    static func parseTypeRule(_ node: Node, service: String, type: String,
                              fail: (Node?, String) -> RulesFileError) throws(RulesFileError) -> TypeRule {
        guard let map = node.mapping else { throw fail(node, "rule for \(service)/\(type) must be a mapping with 'ops' and/or 'irreversible'") }
        var ops: [RuleOp] = []
        var lines: [Int] = []
        var irreversible = false
        for (key, value) in map {
            switch key.string {
            case "irreversible":
                guard let b = value.bool, value.tag.description == Tag.Name.bool.rawValue else { throw fail(value, "'irreversible' must be true or false") }
                irreversible = b
            case "ops":
                if value.null != nil { continue }
                guard let seq = value.sequence else { throw fail(value, "'ops' must be a list") }
                for opNode in seq {
                    ops.append(try parseOp(opNode, fail: fail))
                    lines.append(opNode.mark?.line ?? 0)
                }
            default:
                throw fail(key, "unknown key '\(key.string ?? "?")' in the rule for \(service)/\(type) (expected 'ops' or 'irreversible')")
            }
        }
        return TypeRule(ops: ops, opLines: lines, irreversible: irreversible)
    }

    static func parseOp(_ node: Node, fail: (Node?, String) -> RulesFileError) throws(RulesFileError) -> RuleOp {
        guard let map = node.mapping else { throw fail(node, "an op must be a mapping such as '{set: /field, value: ...}'") }
        var fields: [String: Node] = [:]
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
            throw fail(node, "'\(k)' does not belong to a '\(verb)' op (it takes \(allowed.sorted().joined(separator: ", ")))")
        }
        func pointer() throws(RulesFileError) -> JSONPointer {
            let n = fields[verb]!
            guard let text = n.string, n.tag.description == Tag.Name.str.rawValue, let p = JSONPointer(text) else {
                throw fail(n, "'\(verb)' takes a JSON Pointer such as /balance")
            }
            guard !p.tokens.isEmpty else { throw fail(n, "'\(verb)' needs a pointer below the document (use merge for the whole document)") }
            return p
        }
        func expression(_ key: String) throws(RulesFileError) -> RuleExpression {
            guard let n = fields[key] else { throw fail(node, "a '\(verb)' op needs '\(key)'") }
            let v = RulesFile.json(n)
            if case .string(let s) = v, n.scalar?.style == .plain || n.scalar?.style == .singleQuoted || n.scalar?.style == .doubleQuoted {
                return RuleExpression.parse(s)
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
            guard n.bool == true, n.tag.description == Tag.Name.bool.rawValue else { throw fail(n, "'delete' takes true") }
            return .delete
        }
    }
}

enum RulesFile {
    /// A YAML node as JSON: plain scalars resolve to null, booleans, integers and floats.
    static func json(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.description) {
            case .null: return .null
            case .bool: return node.bool.map(JSONValue.bool) ?? .string(scalar.string)
            case .int:
                if let i = Int64(scalar.string) { return .int(i) }
                return node.int.map { .int(Int64($0)) } ?? .string(scalar.string)
            case .float:
                if let d = node.float, d.isFinite { return .double(d) }
                return .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .mapping(let m):
            var o: [String: JSONValue] = [:]
            for (k, v) in m { o[k.string ?? ""] = json(v) }
            return .object(o)
        case .sequence(let s):
            return .array(s.map(json))
        case .alias:
            return .null
        }
    }

    static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return 0
        }
    }

    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return problem
        default:
            return "\(error)"
        }
    }
}
