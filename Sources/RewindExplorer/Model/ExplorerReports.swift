import RewindCore

/// The views that tell what the events say: causation, sagas, deliveries, read-model lag, the
/// changes of a step, and field provenance. Each is computed once per position and kept.
extension Explorer {
    /// One event of a causation chain, at its depth (0: the root).
    public struct CausationNode: Equatable {
        public var depth: Int
        public var event: Event
        public var isCursor: Bool
        /// The event's timeline position.
        public var position: Int = 0
        public static func == (a: CausationNode, b: CausationNode) -> Bool {
            a.depth == b.depth && a.isCursor == b.isCursor && a.event.id.sameCodePoints(b.event.id)
        }
    }

    /// How far the causation view walks: ancestors, generations of consequences, nodes.
    static let causationDepth = 16, consequenceDepth = 3, causationNodes = 40

    /// The event at the cursor with its causes (root first) and its consequences (depth first),
    /// found by `meta.causationId`, compared by code points.
    public func causation() throws -> [CausationNode] {
        if let c = caches.causation, c.position == state.position { return c.nodes }
        guard state.position > 0 else { return [] }
        func cause(of e: Event) -> String? {
            guard case .string(let id)? = e.meta?["causationId"], !id.sameCodePoints(e.id) else { return nil }
            return id
        }
        func mentioning(_ id: String) throws -> [(Int, Event)] {
            try data.search(EventQuery(words: [id])).prefix(200).map { ($0, try data.event(at: $0)) }
        }
        let here = (state.position - 1, try data.event(at: state.position - 1))
        var chain = [here]
        var seen: Set<JSONKey> = [JSONKey(here.1.id)]
        while chain.count <= Explorer.causationDepth, let id = cause(of: chain[0].1), !seen.contains(JSONKey(id)),
              let parent = try mentioning(id).first(where: { $0.1.id.sameCodePoints(id) }) {
            seen.insert(JSONKey(id))
            chain.insert(parent, at: 0)
        }
        var nodes = chain.enumerated().map { CausationNode(depth: $0.offset, event: $0.element.1, isCursor: $0.offset == chain.count - 1, position: $0.element.0) }
        func consequences(of e: Event, depth: Int) throws {
            guard depth - chain.count < Explorer.consequenceDepth else { return }
            for (p, child) in try mentioning(e.id) where nodes.count < Explorer.causationNodes {
                guard let c = cause(of: child), c.sameCodePoints(e.id), !seen.contains(JSONKey(child.id)) else { continue }
                seen.insert(JSONKey(child.id))
                nodes.append(CausationNode(depth: depth, event: child, isCursor: false, position: p))
                try consequences(of: child, depth: depth + 1)
            }
        }
        try consequences(of: here.1, depth: chain.count)
        caches.causation = (state.position, nodes)
        return nodes
    }

    /// One saga as its events tell it.
    public struct SagaReport: Equatable {
        public struct Step: Equatable {
            public var position: Int
            public var event: Event
            public var command: String
            public var attempt: Int
            public var isCompensation: Bool
            public static func == (a: Step, b: Step) -> Bool { a.position == b.position && a.command.sameCodePoints(b.command) }
        }
        public var id: String
        public var steps: [Step]
        /// completed, compensated, rejected — or stuck (no ending event).
        public var outcome: String
        /// Problems: money that left an account and did not arrive, a saga that never ended.
        public var flags: [String]
        public static func == (a: SagaReport, b: SagaReport) -> Bool { a.id.sameCodePoints(b.id) && a.steps == b.steps && a.outcome == b.outcome }
    }


    static func sagaID(of e: Event) -> String? {
        guard case .string(let id)? = e.meta?["sagaId"] else { return nil }
        return id
    }

    /// The saga of the event at the cursor (nil: it has no `meta.sagaId`). Money moved by its
    /// `MoneyDebited` / `MoneyCredited` events (their `data.amount`) must balance once it ends.
    public func saga() throws -> SagaReport? {
        if let c = caches.saga, c.position == state.position { return c.report }
        guard state.position > 0, let id = Explorer.sagaID(of: try data.event(at: state.position - 1)) else {
            caches.saga = (state.position, nil)
            return nil
        }
        var steps: [SagaReport.Step] = []
        for p in try data.search(EventQuery(words: [id])).prefix(500) {
            let e = try data.event(at: p)
            guard let sid = Explorer.sagaID(of: e), sid.sameCodePoints(id) else { continue }
            var attempt = 1
            if case .int(let a)? = e.meta?["attempt"] { attempt = Int(a) }
            let command = e.meta?["commandId"]?.stringValue ?? ""
            let compensation = e.data["compensation"] == .bool(true) || command.hasSuffix("-compensate") || e.type.hasSuffix("Compensated")
            steps.append(.init(position: p, event: e, command: command, attempt: attempt, isCompensation: compensation))
        }
        var net: Double = 0
        for s in steps {
            let amount = s.event.data["amount"]?.numberValue ?? 0
            if s.event.type.sameCodePoints("MoneyDebited") { net -= amount }
            if s.event.type.sameCodePoints("MoneyCredited") { net += amount }
        }
        let types = steps.map(\.event.type)
        let outcome = types.contains { $0.hasSuffix("Completed") } ? "completed"
            : types.contains { $0.hasSuffix("Compensated") } ? "compensated"
            : types.contains { $0.hasSuffix("Rejected") } ? "rejected" : "stuck"
        var flags: [String] = []
        if outcome == "stuck" { flags.append("never ended: no completion, compensation or rejection in the log") }
        if net != 0 {
            let amount = JSONValue.double(abs(net)).jsonText
            flags.append(net < 0 ? "half-applied: \(amount) left an account and arrived nowhere" : "half-applied: \(amount) arrived from nowhere")
        }
        let retries = steps.filter { $0.attempt > 1 }.count
        if retries > 0 { flags.append("\(retries) step\(retries == 1 ? "" : "s") delivered more than once (handled idempotently)") }
        let report = SagaReport(id: id, steps: steps, outcome: outcome, flags: flags)
        caches.saga = (state.position, report)
        return report
    }

    /// What one message's deliveries left in the log.
    public struct DeliveryReport: Equatable {
        public struct Row: Equatable {
            public var position: Int
            public var id: String
            public var type: String
            public var attempt: Int
            public var consumer: String
            public var outcome: String
            /// A line of the bus's delivery log, not an event a consumer wrote.
            public var byBus = false
        }
        public var messageId: String
        public var rows: [Row]
        public var applied: Int { rows.filter { $0.outcome == "applied" }.count }
        /// Whether the log holds the bus's own delivery log for it.
        public var hasBusLog: Bool { rows.contains { $0.byBus } }
    }


    /// What each line of a bus's delivery log says happened.
    static let busOutcomes: [(String, String)] = [
        ("Delivered", "delivered"), ("Acked", "acked"), ("AckLost", "ack lost: delivered again after the visibility timeout"),
        ("AckTooLate", "acked after its visibility timeout (too late)"), ("Nacked", "nacked"),
        ("ConsumerCrashed", "consumer crashed: delivered again after the visibility timeout"),
        ("VisibilityTimedOut", "visibility timeout passed"), ("NetworkDuplicated", "a second copy arrived (network duplicate)"),
        ("DeadLetteredByBus", "dead-lettered by the bus"),
    ]

    /// The deliveries of the message that caused the event at the cursor (nil: none did).
    public func deliveries() throws -> DeliveryReport? {
        if let c = caches.deliveries, c.position == state.position { return c.report }
        var report: DeliveryReport?
        if state.position > 0, case .string(let id)? = try data.event(at: state.position - 1).meta?["messageId"] {
            var rows: [DeliveryReport.Row] = []
            for p in try data.search(EventQuery(words: [id])).prefix(500) {
                let e = try data.event(at: p)
                guard case .string(let m)? = e.meta?["messageId"], m.sameCodePoints(id) else { continue }
                var attempt = 1
                if case .int(let a)? = e.meta?["attempt"] { attempt = Int(a) }
                let outcome: String
                if e.service.sameCodePoints("bus") {
                    // The bus's own delivery log (simulate --delivery-log, or a broker's log).
                    outcome = Explorer.busOutcomes.first { $0.0.sameCodePoints(e.type) }?.1 ?? e.type
                } else {
                    outcome = e.type.sameCodePoints("DuplicateSuppressed") ? "suppressed by dedup"
                        : e.type.sameCodePoints("DeadLettered") ? "dead-lettered" : "applied"
                }
                rows.append(.init(position: p, id: e.id, type: e.type, attempt: attempt,
                                  consumer: e.data["worker"]?.stringValue ?? e.data["consumer"]?.stringValue ?? e.service, outcome: outcome,
                                  byBus: e.service.sameCodePoints("bus")))
            }
            report = DeliveryReport(messageId: id, rows: rows)
        }
        caches.deliveries = (state.position, report)
        return report
    }

    /// A read model's lag over the log: the largest `data.lagMs` per time bucket.
    public struct LagReport: Equatable {
        /// Events read, and how many report a lag (more than read: a sample was taken).
        public var events: Int
        public var found = 0
        public var buckets: [Int64?]
        public var max: Int64
        public var maxAt: Timestamp?
        public var median: Int64
    }


    static let lagSample = 4_000

    /// `data.lagMs` of the events that report one (a sample of `lagSample` when more do), in
    /// `width` time buckets.
    public func lag(width: Int) throws -> LagReport {
        if let c = caches.lag, c.count == state.count, c.width == width { return c.report }
        // Every event that mentions lagMs is found by one search; at most `lagSample` of them,
        // spread evenly over the log, are read (each read is a store query: 70 000 took 7 s).
        let found = try data.search(EventQuery(words: ["lagMs"]))
        let step = max(1, (found.count + Explorer.lagSample - 1) / Explorer.lagSample)
        var values: [(Timestamp, Int64)] = []
        for p in stride(from: 0, to: found.count, by: step).map({ found[$0] }) {
            let e = try data.event(at: p)
            if case .int(let v)? = e.data["lagMs"] { values.append((e.ts, v)) }
        }
        var buckets = [Int64?](repeating: nil, count: max(1, width))
        var report = LagReport(events: values.count, buckets: buckets, max: 0, maxAt: nil, median: 0)
        report.found = found.count
        if let first = values.first?.0, let last = values.last?.0 {
            for (t, v) in values {
                let i = min(buckets.count - 1, Int(t.fraction(from: first, to: last) * Double(buckets.count)))
                buckets[i] = Swift.max(buckets[i] ?? 0, v)
                if v > report.max || report.maxAt == nil { report.max = v; report.maxAt = t }
            }
            report.buckets = buckets
            report.median = values.map(\.1).sorted()[values.count / 2]
        }
        caches.lag = (state.count, width, report)
        return report
    }

    /// The first event of the next saga after the cursor.
    func goToNextSaga() throws {
        let current = state.position > 0 ? Explorer.sagaID(of: try data.event(at: state.position - 1)) : nil
        var seen: Set<JSONKey> = current.map { [JSONKey($0)] } ?? []
        for p in try data.search(EventQuery(words: ["sagaId"])) where p >= state.position {
            guard let id = Explorer.sagaID(of: try data.event(at: p)) else { continue }
            if seen.contains(JSONKey(id)) { continue }
            seen.insert(JSONKey(id))
            // Its first event, wherever the saga began.
            let first = try data.search(EventQuery(words: [id])).first { (try? Explorer.sagaID(of: data.event(at: $0)))??.sameCodePoints(id) == true } ?? p
            if first < state.position - 1 { continue }
            try move(to: first + 1)
            state.message = "saga \(id)"
            return
        }
        state.message = "no later saga"
    }


    /// The changes the diff view shows: since the mark when one is pinned, else since the
    /// previous event. Only the streams whose versions differ are read.
    public func changes() throws -> [PathChange] {
        if let c = caches.diff, c.position == state.position, c.mark == state.mark { return c.changes }
        var result: [PathChange] = []
        if let mark = state.mark {
            let before = StateView(index: index, versions: try data.reach(mark), position: mark)
            var differing: [UInt32] = []
            current.versions.forEachDifference(from: before.versions) { id, _, _ in differing.append(id) }
            var keyed: [(StreamKey, UInt32)] = []
            for id in differing { keyed.append((try index.streamKey(id), id)) }
            for (key, id) in keyed.sorted(by: { $0.0 < $1.0 }) {
                result += StateDiff.changes(from: try before.document(of: id), to: try current.document(of: id),
                                            path: "\(key.service)/\(key.stream)")
            }
        } else if state.position > 0 {
            let t = try index.transition(at: state.position - 1)
            result = StateDiff.changes(from: t.before, to: t.after, path: "\(t.key.service)/\(t.key.stream)")
        }
        caches.diff = (state.position, state.mark, result)
        return result
    }

    /// The most events of one stream walked back to find who set a field.
    static let provenanceLimit = 200_000

    /// Finds the last event at or before the cursor (or before the last one found, when `p` is
    /// pressed again on the same field) that changed the field under the document cursor, and
    /// goes there: the state right after it, with what it changed in the message.
    func followProvenance() throws {
        guard let key = state.selected, let id = selectedID else { state.message = "select a stream first (j / k)"; return }
        let rows = try documentRows()
        guard !rows.isEmpty else { state.message = "\(key.service)/\(key.stream) has no document here"; return }
        let row = rows[min(state.treeRow, rows.count - 1)]
        guard !row.pointer.isEmpty, let pointer = JSONPointer(row.pointer) else {
            state.message = "move the document cursor to a field (Tab, then j / k)"
            return
        }
        var bound = state.position
        if let last = state.provenance, last.pointer.sameCodePoints(row.pointer), last.position == state.position { bound = state.position - 1 }
        var candidate = index.previousEvent(of: id, before: bound)
        var walked = 0
        while let p = candidate, walked < Explorer.provenanceLimit {
            walked += 1
            let t = try index.transition(at: p)
            let before = t.before?.value(at: pointer), after = t.after?.value(at: pointer)
            if before != after {
                try move(to: p + 1)
                state.provenance = Provenance(pointer: row.pointer, position: p + 1)
                // The cursor stays on the field, wherever its row is in the document then.
                if let at = try documentRows().firstIndex(where: { $0.pointer.sameCodePoints(row.pointer) }) { state.treeRow = at }
                let e = try data.event(at: p)
                func show(_ v: JSONValue?) -> String { v.map { String($0.jsonText.prefix(40)) } ?? "(absent)" }
                state.message = "\(row.pointer): \(show(before)) → \(show(after)) set by \(e.type) \(e.id) (line \(e.line), \(e.ts.rfc3339)); p: the one before"
                return
            }
            candidate = index.previousEvent(of: id, before: p)
        }
        state.message = candidate == nil
            ? "no earlier event of \(key.service)/\(key.stream) changed \(row.pointer)"
            : "\(row.pointer): not found in the last \(walked) events of the stream"
    }


    /// One row of the overview: a service, or one of its streams with its last event.
    public struct OverviewRow: Equatable {
        public var text: String
        public var key: StreamKey?
        /// The stream's last event at the cursor (nil: a service row).
        public var lastEvent: Int?
    }

    /// Streams per service the overview lists (the most recently changed), and how many events
    /// back from the cursor it looks for them.
    static let overviewStreams = 8, overviewReach = 65_536

    /// Every service at the cursor: its stream count, then its streams that changed most recently
    /// (newest first) with the event that last changed each and its document, in short. Found by
    /// walking back from the cursor through the index (at most `overviewReach` events), so a
    /// state of millions of streams costs what the recent past costs.
    public func overview() throws -> [OverviewRow] {
        if let c = caches.recent, c.position == state.position { return c.rows }
        var newest: [Int: [(Int, UInt32)]] = [:]
        var seen = Set<UInt32>()
        var p = state.position - 1
        let stop = max(0, state.position - Explorer.overviewReach)
        while p >= stop {
            let id = index.stream(at: p)
            if seen.insert(id).inserted, current.exists(id), Int(id) < directory.rank.count {
                let s = directory.service(of: id)
                if newest[s, default: []].count < Explorer.overviewStreams { newest[s, default: []].append((p, id)) }
            }
            p -= 1
        }
        try index.image.check()
        var rows: [OverviewRow] = []
        let services = directory.services.indices.filter { directory.existing[$0] > 0 }
        // Services changed most recently first; those with no change in reach after them.
        let ordered = services.sorted { (newest[$0]?.first?.0 ?? -1, -$0) > (newest[$1]?.first?.0 ?? -1, -$1) }
        for s in ordered {
            let count = directory.existing[s]
            rows.append(OverviewRow(text: "\(directory.services[s].name): \(count) stream\(count == 1 ? "" : "s")", key: nil, lastEvent: nil))
            let listed = newest[s] ?? []
            for (p, id) in listed {
                let key = try index.streamKey(id)
                let e = try data.event(at: p)
                let doc = try current.document(of: id)?.jsonText ?? ""
                rows.append(OverviewRow(text: "  \(key.stream)  \(ExplorerView.clock(e.ts)) \(e.type)  \(doc)", key: key, lastEvent: p))
            }
            if count > listed.count {
                let older = p < 0 ? "" : " (none changed in the last \(Explorer.overviewReach) events)"
                rows.append(OverviewRow(text: "  … \(count - listed.count) more" + (listed.isEmpty ? older : ""), key: nil, lastEvent: nil))
            }
        }
        caches.recent = (state.position, rows)
        return rows
    }
}
