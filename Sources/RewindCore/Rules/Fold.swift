/// An op the fold skipped, and why, with the event's line (SPEC §4).
public struct FoldIssue: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var eventID: String
    public var message: String
    public var description: String { "line \(line) (event \(eventID)): \(message)" }
}

/// How an event changes the state: its type's rule when the rules name one, otherwise the
/// default fold, an RFC 7386 merge of `data` into the stream's document (SPEC §3–4).
public struct Fold: Sendable {
    public var rules: Rules

    public init(rules: Rules = .none) { self.rules = rules }

    /// Whether the event's effect lies outside the store (`meta.effect = external`, or
    /// `irreversible: true` in its rule).
    public func isIrreversible(_ event: Event) -> Bool {
        event.hasExternalEffect || rules.rule(service: event.service, type: event.type)?.irreversible == true
    }

    /// The same, with the event's rule already looked up.
    public func isIrreversible(_ event: Event, rule: TypeRule?) -> Bool {
        rule?.irreversible == true || event.hasExternalEffect
    }

    /// Applies `event` to `state`. Ops that cannot apply are skipped and reported to `issues`.
    public func apply(_ event: Event, to state: inout State, issues: inout [FoldIssue]) {
        if event.replacesDocument {
            state.set(service: event.service, stream: event.stream,
                      to: event.metaMember("deleted") == .bool(true) ? nil : event.data)
            return
        }
        guard let rule = rules.rule(service: event.service, type: event.type) else {
            state.services[JSONKey(event.service), default: [:]][JSONKey(event.stream), default: .emptyObject].mergePatch(event.data)
            return
        }
        let service = JSONKey(event.service)
        apply(rule, event, to: &state.services[service, default: [:]][JSONKey(event.stream)], issues: &issues)
        if state.services[service]?.isEmpty == true { state.services.removeValue(forKey: service) }
    }

    /// Applies `event` to its stream's document alone (nil = no document): the same change as
    /// `apply(_:to:issues:)` makes to that stream in a whole state.
    @discardableResult
    public func apply(_ event: Event, toDocument slot: inout JSONValue?, issues: inout [FoldIssue]) -> DocumentChange {
        apply(event, rule: rules.rule(service: event.service, type: event.type), toDocument: &slot, issues: &issues)
    }

    /// The same, with the event's rule already looked up (`rules.rule(service:type:)`). Returns
    /// what the event did, with every expression evaluated: `DocumentChange.apply` makes the
    /// same change to the same document without the event or the rules.
    @discardableResult
    public func apply(_ event: Event, rule: TypeRule?, toDocument slot: inout JSONValue?, issues: inout [FoldIssue]) -> DocumentChange {
        if event.replacesDocument {
            slot = event.metaMember("deleted") == .bool(true) ? nil : event.data
            return .replace(slot)
        } else if let rule {
            return apply(rule, event, to: &slot, issues: &issues)
        } else {
            if slot == nil { slot = .emptyObject }
            slot!.mergePatch(event.data)
            return .ops([.patch(event.data)])
        }
    }

    /// Applies a rule's ops to one document slot (nil = no document).
    @discardableResult
    func apply(_ rule: TypeRule, _ event: Event, to slot: inout JSONValue?, issues: inout [FoldIssue]) -> DocumentChange {
        var done: [DocumentChange.Op] = []
        if slot == nil { slot = .emptyObject }
        for (index, op) in rule.ops.enumerated() {
            var why: String?
            switch DocumentChange.Op.resolve(op, event) {
            case .failure(let problem):
                why = problem.message
                if case .delete = op {} else {
                    done.append(.ensure)
                    _ = DocumentChange.Op.ensure.apply(to: &slot)
                }
            case .success(let resolved):
                done.append(resolved)
                why = resolved.apply(to: &slot)
            }
            if let why {
                let where_ = rule.opLines[index] > 0 ? " (rules line \(rule.opLines[index]))" : ""
                issues.append(FoldIssue(line: event.line, eventID: event.id,
                                        message: "\(event.service)/\(event.type): \(op.name) skipped\(where_): \(why)"))
            }
        }
        return .ops(done)
    }

}
