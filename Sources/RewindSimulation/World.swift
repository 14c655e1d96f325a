import RewindCore

/// Which faults a run injects, and which patterns are switched on. Every rate is a probability
/// per opportunity (a handled message, a publish, an ack).
public struct Faults: Sendable, Equatable {
    /// A service crashes while handling a message (before its transaction commits) and restarts
    /// from its database after a while.
    public var crash = 0.01
    /// The outbox relay dies between publishing a row and marking it published (it publishes
    /// the row again after its restart: at-least-once).
    public var relayCrash = 0.01
    /// An ack never reaches the bus: the message is delivered again after its visibility timeout.
    public var lostAck = 0.01
    /// A worker stalls past its visibility timeout (and finishes later anyway).
    public var stall = 0.03
    /// A service is down for a while (messages wait).
    public var down = 0.002
    /// The network delivers a message twice.
    public var duplicate = 0.01
    /// An event is written to the log twice (a producer's retry): the same id again.
    public var logDuplicate = 0.0
    /// Extra network delay, up to this many milliseconds.
    public var delayMs = 40
    /// An event written by a service whose clock runs up to 3 s behind.
    public var skew = 0.0

    public var saga = true
    public var outbox = true
    public var dedup = true
    /// The bus writes its own delivery log into the log (service `bus`, one stream per message):
    /// every delivery, ack, lost ack, nack, crash, visibility timeout and network duplicate —
    /// what a broker's access log holds, and what the explorer's deliveries view shows.
    public var deliveryLog = false

    public init() {}

    /// No faults at all (the patterns on).
    public static var none: Faults {
        var f = Faults()
        f.crash = 0; f.relayCrash = 0; f.lostAck = 0; f.stall = 0; f.down = 0; f.duplicate = 0; f.delayMs = 0; f.skew = 0
        f.logDuplicate = 0
        return f
    }

    /// Swarm testing (as TigerBeetle's VOPR does): the seed draws which faults are on and how
    /// often, so many seeds explore many mixes. The patterns' switches are kept.
    public func swarm(seed: UInt64) -> Faults {
        var rng = SplitMix64(seed: seed ^ 0x5A17_5A17_5A17_5A17)
        func draw(_ high: Double) -> Double {
            switch rng.next() % 4 {
            case 0: return 0
            case 1: return high / 10
            case 2: return high / 3
            default: return high
            }
        }
        var f = self
        f.crash = draw(0.05); f.relayCrash = draw(0.05); f.lostAck = draw(0.05); f.stall = draw(0.1)
        // Clock skew is left as given: it reorders the timeline against causality, which
        // breaks order-sensitive invariants by design (see the README).
        f.down = draw(0.01); f.duplicate = draw(0.05); f.delayMs = Int(rng.next() % 200)
        f.logDuplicate = draw(0.01)
        return f
    }
}

/// A simulated world on a virtual clock: a scheduler of actions ordered by (time, sequence),
/// one random generator every choice draws from, and the log every service's committed events
/// are appended to. Determinism is the contract — nothing reads the real clock, nothing iterates
/// a hashed collection — so one seed gives the same bytes on any machine.
public final class World {
    public private(set) var now: Int64
    var rng: SplitMix64
    public let faults: Faults
    private var heap: [(time: Int64, seq: UInt64, action: () -> Void)] = []
    private var sequence: UInt64 = 0
    /// The log's lines, in the order services committed them.
    public private(set) var lines: [String] = []
    private var eventCounter = 0
    /// Per service, how far behind its clock runs (nanoseconds), for clock-skew faults.
    var clockLag: [String: Int64] = [:]

    public init(seed: UInt64, faults: Faults, start: Timestamp = Timestamp(nanoseconds: 1_767_225_600_000_000_000)) {
        rng = SplitMix64(seed: seed)
        self.faults = faults
        now = start.nanoseconds
    }

    // MARK: randomness

    public func chance(_ p: Double) -> Bool { p > 0 && Double(rng.next() >> 11) / Double(1 << 53) < p }
    public func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(rng.next() % UInt64(range.count)) }
    public func millis(_ range: ClosedRange<Int>) -> Int64 { Int64(int(range)) * 1_000_000 }

    /// A network delay: 1 ms plus up to `faults.delayMs`.
    func networkDelay() -> Int64 { 1_000_000 + (faults.delayMs > 0 ? millis(0...faults.delayMs) : 0) }

    // MARK: scheduling

    public func after(_ delay: Int64, _ action: @escaping () -> Void) {
        sequence += 1
        let item = (time: now + max(0, delay), seq: sequence, action: action)
        heap.append(item)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.less(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    static func less(_ a: (time: Int64, seq: UInt64, action: () -> Void), _ b: (time: Int64, seq: UInt64, action: () -> Void)) -> Bool {
        a.time < b.time || (a.time == b.time && a.seq < b.seq)
    }

    /// Runs scheduled actions in order until none is left (or `limit` actions ran).
    public func run(limit: Int = 50_000_000) {
        var ran = 0
        while !heap.isEmpty && ran < limit {
            let top = heap[0]
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var m = i
                    if l < heap.count && Self.less(heap[l], heap[m]) { m = l }
                    if r < heap.count && Self.less(heap[r], heap[m]) { m = r }
                    if m == i { break }
                    heap.swapAt(i, m)
                    i = m
                }
            }
            now = max(now, top.time)
            top.action()
            ran += 1
        }
    }

    // MARK: the log

    public var lineCount: Int { lines.count }

    /// Appends one committed event to the log and returns its id. `ts` is the writing service's
    /// clock: the virtual time, or behind it under clock skew.
    @discardableResult
    public func emit(service: String, stream: String, type: String, data: [JSONKey: JSONValue], meta: [JSONKey: JSONValue] = [:],
                     at time: Int64? = nil) -> String {
        eventCounter += 1
        let id = "evt-" + World.pad(eventCounter, 7)
        var ts = time ?? now
        if time == nil, faults.skew > 0 {
            if chance(faults.skew) { clockLag[service] = millis(100...3_000) } else if chance(0.2) { clockLag[service] = nil }
            ts -= clockLag[service] ?? 0
        }
        // Every event names its chain: a root event (nothing caused it) begins its own.
        var meta = meta
        if meta["correlationId"] == nil { meta["correlationId"] = .string(id) }
        // The canonical text (keys sorted: data, id, meta, service, stream, ts, type), written
        // field by field rather than through a dictionary of the whole event.
        var out: [UInt8] = []
        out.reserveCapacity(320)
        out += Array(#"{"data":"#.utf8)
        JSONValue.object(data).write(to: &out)
        out += Array(#","id":"#.utf8)
        JSONValue.writeString(id, to: &out)
        out += Array(#","meta":"#.utf8)
        JSONValue.object(meta).write(to: &out)
        out += Array(#","service":"#.utf8)
        JSONValue.writeString(service, to: &out)
        out += Array(#","stream":"#.utf8)
        JSONValue.writeString(stream, to: &out)
        out += Array(#","ts":"#.utf8)
        Timestamp(nanoseconds: ts).writeQuotedRFC3339(to: &out)
        out += Array(#","type":"#.utf8)
        JSONValue.writeString(type, to: &out)
        out.append(UInt8(ascii: "}"))
        let line = String(decoding: out, as: UTF8.self)
        lines.append(line)
        if faults.logDuplicate > 0, chance(faults.logDuplicate) { lines.append(line) }
        return id
    }

    public static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

/// A stable hash of a key (FNV-1a), for partitioning: Swift's `Hasher` is seeded per process.
func stableHash(_ text: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    return h
}
