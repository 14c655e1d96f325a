import Foundation
import Testing
import RewindCore
import RewindTestSupport
@testable import RewindSimulation

/// Folds a scenario's log (in timeline order) and evaluates its invariants after every event:
/// the positions where each is false, as `rewind bisect` would find the first of them.
func breaks(_ log: ScenarioLog) throws -> [String: Int] {
    let parsed = ParsedLog(text: log.text)
    let timeline = parsed.timeline
    let fold = Fold(rules: try Rules.parse(yaml: log.rules, file: "r.yaml"))
    let invariants = try log.invariantLines.map { try Invariant($0) }
    var state = State()
    var issues: [FoldIssue] = []
    var first: [String: Int] = [:]
    for (i, e) in timeline.events.enumerated() {
        fold.apply(e, to: &state, issues: &issues)
        for inv in invariants where first[inv.text] == nil && !inv.holds(in: state) { first[inv.text] = i + 1 }
    }
    #expect(parsed.rejected.isEmpty, "every simulated line is a SPEC event: \(parsed.rejected.prefix(2))")
    return first
}

func finalState(_ log: ScenarioLog) throws -> State {
    let fold = Fold(rules: try Rules.parse(yaml: log.rules, file: "r.yaml"))
    var state = State()
    var issues: [FoldIssue] = []
    for e in ParsedLog(text: log.text).timeline.events { fold.apply(e, to: &state, issues: &issues) }
    return state
}

@Suite struct DeterminismTests {
    @Test(arguments: ScenarioName.allCases) func theSameSeedGivesTheSameBytes(_ scenario: ScenarioName) {
        var faults = Faults()
        faults.skew = 0.01
        let a = scenario.run(seed: 11, size: 1_000, faults: faults), b = scenario.run(seed: 11, size: 1_000, faults: faults)
        #expect(a.lines == b.lines && a.invariants == b.invariants)
        #expect(a.lines.count >= 1_000)
        #expect(scenario.run(seed: 12, size: 1_000, faults: faults).lines != a.lines)
        let swarm = faults.swarm(seed: 5)
        #expect(scenario.run(seed: 5, size: 800, faults: swarm).lines == scenario.run(seed: 5, size: 800, faults: faults.swarm(seed: 5)).lines)
    }
}

@Suite struct BusTests {
    func world(_ faults: Faults = .none) -> (World, Bus) {
        let w = World(seed: 1, faults: faults)
        return (w, Bus(world: w))
    }

    /// One key → one partition, delivered in order; each message to one consumer of a group,
    /// and to every group.
    @Test func keysStayInOrderAndEachGroupGetsEachMessageOnce() {
        var faults = Faults.none
        faults.delayMs = 50
        let (w, bus) = world(faults)
        var seen: [String: [Int64]] = [:], byConsumer: [String: Int] = [:], audit = 0
        bus.subscribe("t", group: "workers", consumers: ["a", "b", "c"]) { d in
            seen[d.message.key, default: []].append(d.message.int("n"))
            byConsumer[d.consumerName, default: 0] += 1
            w.after(w.millis(1...30)) { d.ack() }
        }
        bus.subscribe("t", group: "audit", consumers: ["x"]) { d in audit += 1; d.ack() }
        for n in 0..<300 { bus.publish("t", key: "k\(n % 7)", type: "T", body: ["n": .int(Int64(n))], causationId: "c", correlationId: "c") }
        w.run()
        #expect(seen.values.reduce(0) { $0 + $1.count } == 300 && audit == 300)
        for (_, ns) in seen { #expect(ns == ns.sorted()) }
        #expect(byConsumer.count == 3, "competing consumers share the work: \(byConsumer)")
    }

    /// An unacked message comes back after its visibility timeout with its attempt number, and
    /// goes to the dead letters after the maximum number of receives.
    @Test func visibilityTimeoutsRedeliverAndDeadLetter() {
        let (w, bus) = world()
        var attempts: [Int] = [], dead: [Message] = []
        bus.subscribe("t", group: "g", consumers: ["a"], visibilityTimeout: 1_000_000_000, maxReceives: 3, deadLetter: { dead.append($0) }) { d in
            attempts.append(d.message.attempt)
            // The first delivery of each is never acked (its consumer gave up on it).
            if d.message.key == "good" && d.message.attempt == 2 { d.ack() } else { d.crashed() }
        }
        bus.publish("t", key: "good", type: "T", body: [:], causationId: "c", correlationId: "c")
        bus.publish("t", key: "poison", type: "T", body: [:], causationId: "c", correlationId: "c")
        w.run()
        #expect(attempts.filter { $0 == 2 }.count == 2 && attempts.contains(3))
        #expect(dead.map(\.key) == ["poison"] && dead[0].attempt == 3)
    }

    /// A crash before commit loses the transaction whole; a relay that dies after publishing
    /// publishes the same row (same message id) again: at-least-once.
    @Test func theOutboxIsAtomicAndAtLeastOnce() {
        var faults = Faults.none
        faults.relayCrash = 0.5
        let (w, bus) = world(faults)
        let db = ServiceDatabase(world: w, bus: bus, service: "s", state: 0)
        var received: [String] = []
        bus.subscribe("t", group: "g", consumers: ["a"]) { d in received.append(d.message.id); d.ack() }
        for i in 0..<40 {
            db.transaction(cause: nil) { st, tx in st += 1; tx.event("x", "T", ["i": .int(Int64(i))]); tx.send("t", key: "k", type: "T", [:]) }
        }
        w.run()
        #expect(db.state == 40 && w.lines.count == 40)
        #expect(Set(received).count == 40 && received.count > 40, "every row published, some twice (\(received.count))")
        var crashing = Faults.none
        crashing.crash = 1
        let (w2, bus2) = world(crashing)
        let db2 = ServiceDatabase(world: w2, bus: bus2, service: "s", state: 0)
        #expect(!db2.transaction(cause: nil) { st, tx in st = 9; tx.event("x", "T", [:]); tx.send("t", key: "k", type: "T", [:]) })
        w2.run()
        #expect(db2.state == 0 && w2.lines.isEmpty)
    }
}

@Suite struct ScenarioPropertyTests {
    static let seeds: [UInt64] = Array(1...6)

    /// With the patterns on, no seed breaks an invariant (under the default faults and under
    /// swarm-drawn ones); money is conserved once sagas settle; every e-mail is sent once.
    @Test(arguments: [false, true]) func bankHoldsWithTheSagaAndTheOutbox(_ swarm: Bool) throws {
        for seed in Self.seeds {
            let faults = swarm ? Faults().swarm(seed: seed) : Faults()
            let log = ScenarioName.bank.run(seed: seed, size: 1_000, faults: faults)
            let found = try breaks(log)
            #expect(found.isEmpty, "seed \(seed) (swarm \(swarm)): \(found)")
            let state = try finalState(log)
            let settled = state.document(service: "simulation", stream: "run")
            let total = settled?["deposited"]
            let balances = state.services[JSONKey("accounts")]?.values.compactMap { $0["balance"]?.numberValue } ?? []
            #expect(total.flatMap(\.numberValue) == balances.reduce(0, +), "seed \(seed)")
            let sent = state.services[JSONKey("notifications")]?.values.map { $0["sent"]?.arrayValue?.count ?? 0 }.reduce(0, +) ?? 0
            let finished = state.services[JSONKey("transfers")]?.values.filter { ["completed", "compensated"].contains($0["status"]?.stringValue ?? "") }.count ?? 0
            #expect(sent == finished, "one e-mail per finished transfer (seed \(seed))")
        }
    }

    /// SPEC §8: with the pattern switched off, some seeds break an invariant.
    @Test func bankBreaksWithoutTheSagaOrTheOutbox() throws {
        for variant in ["saga", "outbox"] {
            var broken = 0
            for seed in Self.seeds {
                var faults = Faults()
                if variant == "saga" { faults.saga = false } else { faults.outbox = false }
                if try !breaks(ScenarioName.bank.run(seed: seed, size: 1_000, faults: faults)).isEmpty { broken += 1 }
            }
            #expect(broken > 0, "--no-\(variant) must break some seed")
        }
    }

    /// Every video's effect is applied exactly once with the dedup store, even with stalls,
    /// crashes, lost acks and duplicated deliveries; without it, some seeds apply one twice.
    @Test func videoAppliesEachEffectOnceWithDedupOnly() throws {
        var brokenWithout = 0
        for seed in Self.seeds {
            let log = ScenarioName.video.run(seed: seed, size: 1_000, faults: Faults())
            #expect(try breaks(log).isEmpty, "seed \(seed)")
            let videos = try finalState(log).services[JSONKey("videos")] ?? [:]
            #expect(!videos.isEmpty && videos.values.allSatisfy { $0["applied"] == .int(1) }, "seed \(seed)")
            #expect(log.text.contains("\"attempt\":2"), "redeliveries happen (seed \(seed))")
            var off = Faults()
            off.dedup = false
            if try !breaks(ScenarioName.video.run(seed: seed, size: 1_000, faults: off)).isEmpty { brokenWithout += 1 }
        }
        #expect(brokenWithout > 0)
    }

    /// Every judgement holds what is needed to recompute it, and its `targetState` is exactly
    /// the target's document at the shot's time, recomputed from the whole log as `rewind state
    /// --at` does; some shots are headshots only as of their own time.
    @Test func everyHeadshotDecisionIsTheStateAsOfTheShot() throws {
        var differing = 0, judged = 0
        for seed in Self.seeds.prefix(6) {
            let log = ScenarioName.game.run(seed: seed, size: 2_000, faults: Faults())
            #expect(try breaks(log).isEmpty)
            let parsed = ParsedLog(text: log.text)
            let timeline = parsed.timeline
            let fold = Fold(rules: try Rules.parse(yaml: log.rules, file: "r.yaml"))
            let shots = Dictionary(parsed.events.filter { $0.type == "ShotFired" }.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            for j in parsed.events where j.type == "ShotJudged" {
                judged += 1
                guard case .string(let shotID)? = j.data["shot"], let shot = shots[shotID], case .string(let at)? = j.data["at"],
                      case .string(let stream)? = j.data["target"]?["stream"], j.data["target"]?["service"] == .string("players") else {
                    Issue.record("a judgement without its fields: \(j.data)"); continue
                }
                #expect(at == shot.tsText.trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
                var state = State()
                var issues: [FoldIssue] = []
                let t = try Timestamp.parse(at)
                for e in timeline.events[0..<timeline.position(at: t)] { fold.apply(e, to: &state, issues: &issues) }
                #expect(state.document(service: "players", stream: stream) == j.data["targetState"], "\(shotID)")
                if j.data["headshot"] != j.data["headshotAtArrival"] { differing += 1 }
            }
        }
        #expect(judged > 20 && differing > 0, "\(judged) judged, \(differing) differ from a judgement at arrival")
    }
}

/// The bus's delivery log (`--delivery-log`): every attempt is in the log, so what a consumer
/// wrote can be traced to the delivery that carried it, and crashed or lost-ack deliveries show.
@Suite struct DeliveryLogTests {
    @Test(arguments: [1, 2, 3, 4]) func everyHandledAttemptFollowsItsDelivery(seed: Int) throws {
        var faults = Faults()
        faults.deliveryLog = true
        faults.lostAck = 0.05
        faults.crash = 0.05
        let log = ScenarioName.video.run(seed: UInt64(seed), size: 1_500, faults: faults)
        let events = ParsedLog(text: log.text).events
        var delivered = Set<String>()
        var kinds = Set<String>()
        for e in events {
            guard case .string(let m)? = e.meta?["messageId"], case .int(let attempt)? = e.meta?["attempt"] else { continue }
            if e.service == "bus" {
                kinds.insert(e.type)
                if e.type == "Delivered" { delivered.insert("\(m) \(attempt)") }
            } else if e.type != "DeadLettered" {
                #expect(delivered.contains("\(m) \(attempt)"), "\(e.type) \(e.id) of \(m) attempt \(attempt) has no delivery before it")
            }
        }
        #expect(kinds.isSuperset(of: ["Delivered", "Acked"]) && !kinds.intersection(["AckLost", "ConsumerCrashed", "VisibilityTimedOut"]).isEmpty,
                "\(kinds)")
        // The patterns still hold with the bus's lines in the log.
        #expect(try breaks(log).isEmpty)
    }

    @Test func withoutItTheLogIsAsBefore() {
        let plain = ScenarioName.video.run(seed: 9, size: 800, faults: Faults())
        #expect(!plain.lines.contains { $0.contains(#""service":"bus""#) })
    }
}
