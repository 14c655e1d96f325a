import RewindCore

/// What one transaction of a service writes: its events (appended to the log on commit) and the
/// messages it sends.
public struct Transaction {
    public struct Outgoing {
        var topic: String, key: String, type: String, body: [JSONKey: JSONValue]
        /// The event of this transaction sent just before it (what caused the message).
        var after: Int?
    }
    var events: [(stream: String, type: String, data: [JSONKey: JSONValue], meta: [JSONKey: JSONValue])] = []
    var messages: [Outgoing] = []

    public mutating func event(_ stream: String, _ type: String, _ data: [JSONKey: JSONValue], meta: [JSONKey: JSONValue] = [:]) {
        events.append((stream, type, data, meta))
    }

    public mutating func send(_ topic: String, key: String, type: String, _ body: [JSONKey: JSONValue]) {
        messages.append(Outgoing(topic: topic, key: key, type: type, body: body, after: events.isEmpty ? nil : events.count - 1))
    }
}

/// A service's database: its state and its outbox, written in one transaction (the transactional
/// outbox). A relay publishes committed rows in order and may publish one twice when it dies
/// between publishing and marking it (at-least-once, as Debezium's outbox router); consumers
/// dedup by message id. A crash before commit loses the whole transaction — state, events and
/// messages — and the message being handled comes back after its visibility timeout.
///
/// With the outbox switched off (`Faults.outbox == false`) the service dual-writes: it publishes
/// and commits separately, so a crash between the two loses events (committed, never published)
/// or makes phantoms (published, never committed).
public final class ServiceDatabase<State> {
    let world: World
    let bus: Bus
    public let service: String
    public private(set) var state: State
    private var outbox: [(id: String, message: Transaction.Outgoing, causation: String, correlation: String)] = []
    /// Rows before this one are published and marked. The outbox is a queue read from here: a
    /// busy service's backlog runs to thousands of rows, and removing the first row of the array
    /// moved all the others (8 % of a bank simulation's instructions, callgrind).
    private var outboxHead = 0
    private var relayRunning = false
    private var outboxCounter = 0

    init(world: World, bus: Bus, service: String, state: State) {
        self.world = world
        self.bus = bus
        self.service = service
        self.state = state
    }

    /// Runs `body` as one transaction caused by `cause` (a message, or nil for a request from
    /// outside). Returns false when the service crashed before the commit.
    @discardableResult
    public func transaction(cause: Message?, _ body: (inout State, inout Transaction) -> Void) -> Bool {
        // Messages name the event that caused them (this transaction's first, or what caused
        // the message being handled); a chain's correlation id is its root event's id.
        let causation = cause?.causationId ?? "request"
        var correlation = cause?.correlationId ?? "request"
        let crash = world.chance(world.faults.crash)
        var tx = Transaction()
        if crash {
            // Nothing of the transaction survives — but a dual-writing service that publishes
            // first has already sent its messages (phantoms). The state is worked on in a copy.
            if !world.faults.outbox && stableHash(service) % 2 == 0 {
                var scratch = state
                body(&scratch, &tx)
                for m in tx.messages { _ = bus.publish(m.topic, key: m.key, type: m.type, body: m.body, causationId: causation, correlationId: correlation) }
            }
            return false
        }
        // Changed in place (no copy per transaction): nothing after this point can fail.
        body(&state, &tx)
        let ids = commit(tx, cause: cause)
        if let first = ids.first, cause == nil { correlation = first }
        // Each message names the event sent just before it (or what caused this transaction).
        func causedBy(_ m: Transaction.Outgoing) -> String { m.after.map { ids[$0] } ?? causation }
        if !world.faults.outbox {
            // Dual write, committing first: the process may die before it publishes (lost events).
            if stableHash(service) % 2 != 0 && world.chance(world.faults.crash * 20) { return true }
            for m in tx.messages { _ = bus.publish(m.topic, key: m.key, type: m.type, body: m.body, causationId: causedBy(m), correlationId: correlation) }
            return true
        }
        for m in tx.messages {
            outboxCounter += 1
            outbox.append(("\(service)-out-" + World.pad(outboxCounter, 7), m, causedBy(m), correlation))
        }
        startRelay()
        return true
    }

    /// Appends the transaction's events to the log; returns their ids.
    private func commit(_ tx: Transaction, cause: Message?) -> [String] {
        tx.events.map { e in
            var meta = cause?.meta ?? [:]
            for (k, v) in e.meta { meta[k] = v }
            return world.emit(service: service, stream: e.stream, type: e.type, data: e.data, meta: meta)
        }
    }

    /// Changes state without events or messages (bookkeeping that is not part of the log).
    public func update(_ body: (inout State) -> Void) { body(&state) }

    private func startRelay() {
        guard !relayRunning, outboxHead < outbox.count else { return }
        relayRunning = true
        world.after(world.millis(1...5)) { [self] in relay() }
    }

    private func relay() {
        guard outboxHead < outbox.count else { relayRunning = false; return }
        let row = outbox[outboxHead]
        bus.publish(row.message.topic, key: row.message.key, type: row.message.type, body: row.message.body,
                    causationId: row.causation, correlationId: row.correlation, id: row.id)
        if world.chance(world.faults.relayCrash) {
            // Died after publishing, before marking the row: it is published again on restart.
            world.after(world.millis(20...200)) { [self] in relay() }
            return
        }
        outboxHead += 1
        if outboxHead >= 1024 && outboxHead * 2 >= outbox.count {
            outbox.removeFirst(outboxHead)  // the marked rows go, now and then, all at once
            outboxHead = 0
        }
        world.after(world.millis(0...2)) { [self] in relay() }
    }
}
