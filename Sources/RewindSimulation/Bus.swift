import RewindCore

/// A message on the bus. `id` stays the same across redeliveries and network duplicates (the
/// consumers' dedup key); `attempt` counts this group's deliveries of it.
public struct Message: Sendable {
    public var id: String
    public var topic: String
    public var key: String
    public var type: String
    public var body: [JSONKey: JSONValue]
    /// The id of the event that caused this message, and of the event that began its chain.
    public var causationId: String
    public var correlationId: String
    public var attempt = 1

    public subscript(_ field: String) -> JSONValue? { body[JSONKey(field)] }
    public func string(_ field: String) -> String { body[JSONKey(field)]?.stringValue ?? "" }
    public func int(_ field: String) -> Int64 {
        if case .int(let i)? = body[JSONKey(field)] { return i }
        return 0
    }

    /// What every event caused by this message carries in `meta`.
    public var meta: [JSONKey: JSONValue] {
        ["messageId": .string(id), "causationId": .string(causationId), "correlationId": .string(correlationId),
         "attempt": .int(Int64(attempt))]
    }
}

/// An in-memory event bus: topics partitioned by key (one key → one partition, delivered in
/// order), consumer groups (each message to one consumer of a group, a partition held by one
/// delivery at a time, as SQS FIFO message groups are), ack / nack, a visibility timeout after
/// which an unacked message is delivered again with its attempt number, and a dead-letter list
/// after `maxReceives` deliveries (SQS's redrive policy).
public final class Bus {
    let world: World
    private var groups: [String: [Group]] = [:]
    private var messageCounter = 0

    init(world: World) { self.world = world }

    /// A consumer group on one topic.
    public final class Group {
        let world: World
        public let name: String
        let partitions: Int
        let visibilityTimeout: Int64
        let maxReceives: Int
        /// Per partition: messages waiting (FIFO) and whether the head is out for delivery.
        var queues: [[Message]]
        var heads: [Int]
        var inFlight: [Delivery?]
        var lastArrival: [Int64]
        var consumers: [Consumer] = []
        var handler: (Delivery) -> Void = { _ in }
        var onDeadLetter: (Message) -> Void = { _ in }
        var nextPartition = 0
        var tokens = 0

        init(world: World, name: String, partitions: Int, visibilityTimeout: Int64, maxReceives: Int) {
            self.world = world
            self.name = name
            self.partitions = partitions
            self.visibilityTimeout = visibilityTimeout
            self.maxReceives = maxReceives
            queues = Array(repeating: [], count: partitions)
            heads = Array(repeating: 0, count: partitions)
            inFlight = Array(repeating: nil, count: partitions)
            lastArrival = Array(repeating: 0, count: partitions)
        }

        func partition(of key: String) -> Int { Int(stableHash(key) % UInt64(partitions)) }

        /// One line of the bus's delivery log (when it keeps one), at the bus's own clock.
        func note(_ type: String, _ message: Message, _ data: [JSONKey: JSONValue] = [:]) {
            guard world.faults.deliveryLog else { return }
            var data = data
            data["group"] = .string(name)
            data["topic"] = .string(message.topic)
            data["messageType"] = .string(message.type)
            world.emit(service: "bus", stream: message.id, type: type, data: data, meta: message.meta, at: world.now)
        }

        func arrive(_ message: Message, duplicate: Bool = false) {
            let p = partition(of: message.key)
            // Later messages of a partition never overtake earlier ones.
            let at = max(lastArrival[p], world.now + world.networkDelay())
            lastArrival[p] = at
            world.after(at - world.now) { [self] in
                if duplicate { note("NetworkDuplicated", message, ["partition": .int(Int64(p))]) }
                queues[p].append(message)
                dispatch()
            }
        }

        /// Hands waiting heads of free partitions to idle consumers.
        func dispatch() {
            for step in 0..<partitions {
                let p = (nextPartition + step) % partitions
                guard inFlight[p] == nil, heads[p] < queues[p].count else { continue }
                guard let c = consumers.firstIndex(where: { $0.idle }) else { return }
                let message = queues[p][heads[p]]
                tokens += 1
                let delivery = Delivery(group: self, partition: p, message: message, consumer: c, token: tokens)
                inFlight[p] = delivery
                consumers[c].busy = true
                note("Delivered", message, ["consumer": .string(consumers[c].name), "partition": .int(Int64(p))])
                nextPartition = (p + 1) % partitions
                world.after(visibilityTimeout) { [self] in timeOut(delivery) }
                let consumer = consumers[c]
                world.after(0) { [self] in
                    guard consumer.alive else { return }
                    handler(delivery)
                }
            }
        }

        func isCurrent(_ d: Delivery) -> Bool { inFlight[d.partition]?.token == d.token }

        /// The visibility timeout passed without an ack: deliver again (or dead-letter).
        func timeOut(_ d: Delivery) {
            guard isCurrent(d) else { return }
            note("VisibilityTimedOut", d.message, ["consumer": .string(d.consumerName)])
            redeliver(d)
        }

        func redeliver(_ d: Delivery) {
            inFlight[d.partition] = nil
            let next = d.message.attempt + 1
            if next > maxReceives {
                heads[d.partition] += 1
                note("DeadLetteredByBus", d.message, ["receives": .int(Int64(d.message.attempt))])
                onDeadLetter(d.message)
            } else {
                queues[d.partition][heads[d.partition]].attempt = next
            }
            dispatch()
        }

        func finish(_ d: Delivery, _ outcome: Delivery.Outcome) {
            if d.consumer < consumers.count { consumers[d.consumer].busy = false }
            switch outcome {
            case .ack:
                // A lost ack leaves the message in flight until its timeout.
                let current = isCurrent(d)
                if current, !world.chance(world.faults.lostAck) {
                    inFlight[d.partition] = nil
                    heads[d.partition] += 1
                    note("Acked", d.message, ["consumer": .string(d.consumerName)])
                } else {
                    note(current ? "AckLost" : "AckTooLate", d.message, ["consumer": .string(d.consumerName)])
                }
            case .nack:
                note("Nacked", d.message, ["consumer": .string(d.consumerName)])
                if isCurrent(d) { redeliver(d) }
            case .crashed:
                note("ConsumerCrashed", d.message, ["consumer": .string(d.consumerName)])
                // the message comes back after its visibility timeout
            }
            dispatch()
        }
    }

    /// One consumer of a group (a worker, or a service instance).
    public struct Consumer {
        public var name: String
        var busy = false
        var alive = true
        var idle: Bool { alive && !busy }
    }

    /// One delivery of a message to a consumer.
    public struct Delivery {
        public enum Outcome { case ack, nack, crashed }
        unowned let group: Group
        let partition: Int
        public let message: Message
        let consumer: Int
        let token: Int
        public var consumerName: String { group.consumers[consumer].name }
        /// Whether this delivery still holds its message (its visibility timeout has not passed).
        public var isCurrent: Bool { group.isCurrent(self) }
        public func ack() { group.finish(self, .ack) }
        public func nack() { group.finish(self, .nack) }
        /// The consumer died while handling it.
        public func crashed() { group.finish(self, .crashed) }
    }

    /// Subscribes a group of `consumers` to `topic`.
    @discardableResult
    public func subscribe(_ topic: String, group name: String, consumers: [String], partitions: Int = 8,
                          visibilityTimeout: Int64 = 2_000_000_000, maxReceives: Int = 10,
                          deadLetter: @escaping (Message) -> Void = { _ in },
                          handler: @escaping (Delivery) -> Void) -> Group {
        let g = Group(world: world, name: name, partitions: partitions, visibilityTimeout: visibilityTimeout, maxReceives: maxReceives)
        g.consumers = consumers.map { Consumer(name: $0) }
        g.handler = handler
        g.onDeadLetter = deadLetter
        groups[topic, default: []].append(g)
        return g
    }

    /// Takes a consumer down for `duration` (it handles nothing meanwhile), then back.
    public func down(_ group: Group, consumer name: String, for duration: Int64) {
        guard let i = group.consumers.firstIndex(where: { $0.name == name }) else { return }
        group.consumers[i].alive = false
        group.consumers[i].busy = false
        world.after(duration) {
            group.consumers[i].alive = true
            group.dispatch()
        }
    }

    /// Publishes a message to every group subscribed to `topic`; the network may deliver it twice.
    @discardableResult
    public func publish(_ topic: String, key: String, type: String, body: [JSONKey: JSONValue],
                        causationId: String, correlationId: String, id: String? = nil) -> String {
        messageCounter += 1
        let message = Message(id: id ?? "msg-" + World.pad(messageCounter, 7), topic: topic, key: key, type: type, body: body,
                              causationId: causationId, correlationId: correlationId)
        for g in groups[topic] ?? [] {
            g.arrive(message)
            if world.chance(world.faults.duplicate) { g.arrive(message, duplicate: true) }
        }
        return message.id
    }
}
