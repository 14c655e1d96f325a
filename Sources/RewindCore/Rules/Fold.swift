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
                      to: event.meta?["deleted"] == .bool(true) ? nil : event.data)
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
    public func apply(_ event: Event, toDocument slot: inout JSONValue?, issues: inout [FoldIssue]) {
        apply(event, rule: rules.rule(service: event.service, type: event.type), toDocument: &slot, issues: &issues)
    }

    /// The same, with the event's rule already looked up (`rules.rule(service:type:)`).
    public func apply(_ event: Event, rule: TypeRule?, toDocument slot: inout JSONValue?, issues: inout [FoldIssue]) {
        if event.replacesDocument {
            slot = event.meta?["deleted"] == .bool(true) ? nil : event.data
        } else if let rule {
            apply(rule, event, to: &slot, issues: &issues)
        } else {
            if slot == nil { slot = .emptyObject }
            slot!.mergePatch(event.data)
        }
    }

    /// Applies a rule's ops to one document slot (nil = no document).
    func apply(_ rule: TypeRule, _ event: Event, to slot: inout JSONValue?, issues: inout [FoldIssue]) {
        if slot == nil { slot = .emptyObject }
        for (index, op) in rule.ops.enumerated() {
            if case .delete = op {
                slot = nil
                continue
            }
            if slot == nil { slot = .emptyObject }
            if let why = Fold.apply(op, event, to: &slot!) {
                let where_ = rule.opLines[index] > 0 ? " (rules line \(rule.opLines[index]))" : ""
                issues.append(FoldIssue(line: event.line, eventID: event.id,
                                        message: "\(event.service)/\(event.type): \(op.name) skipped\(where_): \(why)"))
            }
        }
    }

    /// Applies one op; returns why it could not apply, or nil.
    static func apply(_ op: RuleOp, _ event: Event, to doc: inout JSONValue) -> String? {
        func value(_ e: RuleExpression) -> Result<JSONValue, RuleProblem> { e.evaluate(event) }
        switch op {
        case .set(let pointer, let expr):
            switch value(expr) {
            case .failure(let p): return p.message
            case .success(let v):
                return doc.edit(at: pointer.tokens[...], createParents: true) { slot in slot = v; return nil }
            }
        case .inc(let pointer, let expr):
            switch value(expr) {
            case .failure(let p): return p.message
            case .success(let by):
                guard by.isNumber else { return "by is \(by.kindName), not a number" }
                return doc.edit(at: pointer.tokens[...], createParents: true) { slot in
                    guard let current = slot else { slot = by; return nil }
                    guard let sum = JSONValue.add(current, by) else {
                        return "\(pointer) is \(current.kindName), not a number"
                    }
                    // JSON has no infinity: a sum past the largest double cannot be kept.
                    if case .double(let d) = sum, !d.isFinite {
                        return "\(pointer) + \(by.jsonText) is not a finite number"
                    }
                    slot = sum
                    return nil
                }
            }
        case .unset(let pointer):
            return doc.edit(at: pointer.tokens[...], createParents: false) { slot in slot = nil; return nil }
        case .append(let pointer, let expr):
            switch value(expr) {
            case .failure(let p): return p.message
            case .success(let v):
                return doc.edit(at: pointer.tokens[...], createParents: true) { slot in
                    switch slot {
                    case nil: slot = .array([v]); return nil
                    case .array(var a)?:
                        slot = nil
                        a.append(v)
                        slot = .array(a)
                        return nil
                    case let other?: return "\(pointer) is \(other.kindName), not an array"
                    }
                }
            }
        case .merge(let expr):
            switch value(expr) {
            case .failure(let p): return p.message
            case .success(let v):
                guard case .object = v else { return "merge needs an object, got \(v.kindName)" }
                doc.mergePatch(v)
                return nil
            }
        case .delete:
            return nil
        }
    }
}
