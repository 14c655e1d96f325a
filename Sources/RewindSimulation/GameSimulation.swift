import RewindCore

/// As-of validation (the headshot): four players move at 64 ticks a second; a shooter fires at a
/// target's head as it is at that tick; the request reaches the validator tens of milliseconds
/// later, when the target has moved on. The validator judges by seeking the target's state as of
/// the shot's timestamp — folded by rewind's own `Fold` with the scenario's rules, looked up as
/// of a time as `rewind state --at` does — not by where the target is when the request arrives.
/// Each judgement holds what anyone needs to recompute it (SPEC §8).
final class GameSimulation {
    let world: World
    let bus: Bus
    let size: Int
    static let tick: Int64 = 15_625_000  // 1/64 s
    let players = (1...4).map { "player-\($0)" }
    var position: [String: (x: Int64, y: Int64, crouching: Bool)] = [:]
    /// Per player, every version of its document with the time it took effect (the as-of store).
    var versions: [String: [(ts: Int64, doc: JSONValue)]] = [:]
    var judged: Set<String> = []
    let fold: Fold

    init(world: World, size: Int) {
        self.world = world
        self.size = max(1, size)
        bus = Bus(world: world)
        fold = Fold(rules: (try? Rules.parse(yaml: GameSimulation.rulesYAML, file: "game.rules.yaml")) ?? .none)
    }

    static let rulesYAML = """
        services:
          shots:
            ShotFired:
              ops:
                - inc: /fired
                - set: /lastTarget
                  value: $.data.target

        """

    static let invariants = """
        # Every shot is judged at most once (the validator dedups requests delivered twice).
        count(validator/*/shot) <= sum(shots/*/fired)
        # Once everything has settled, every shot was judged.
        simulation/run/settled != true || count(validator/*/shot) == sum(shots/*/fired)

        """

    func run() -> ScenarioLog {
        for (i, p) in players.enumerated() {
            position[p] = (Int64(i * 500), 0, false)
        }
        bus.subscribe("shots.requests", group: "validator", consumers: ["validator-1"], visibilityTimeout: 500_000_000) { [self] d in
            judge(d)
        }
        world.after(0) { [self] in tickOnce() }
        world.run()
        world.settle(["ticks": .int(Int64(ticks))])
        return ScenarioLog(lines: world.lines, rules: Self.rulesYAML, invariants: Self.invariants)
    }

    var ticks = 0

    func tickOnce() {
        guard world.lineCount < size else { return }
        ticks += 1
        let now = world.now
        for p in players {
            var s = position[p]!
            s.x += Int64(world.int(-40...40))
            s.y += Int64(world.int(-40...40))
            if world.chance(0.05) { s.crouching.toggle() }
            position[p] = s
            let data: [JSONKey: JSONValue] = ["x": .int(s.x), "y": .int(s.y), "crouching": .bool(s.crouching)]
            let id = world.emit(service: "players", stream: p, type: "Moved", data: data, at: now)
            record(p, Event(id: id, ts: Timestamp(nanoseconds: now), service: "players", stream: p, type: "Moved", data: .object(data), line: 0))
        }
        if world.chance(0.08) { fire(at: now) }
        world.after(Self.tick) { [self] in tickOnce() }
    }

    /// Folds the event into the player's document and keeps the version (the as-of store).
    func record(_ player: String, _ event: Event) {
        var state = State()
        if let last = versions[player]?.last?.doc { state.services[JSONKey("players")] = [JSONKey(player): last] }
        var issues: [FoldIssue] = []
        fold.apply(event, to: &state, issues: &issues)
        versions[player, default: []].append((event.ts.nanoseconds, state.document(service: "players", stream: player) ?? .emptyObject))
    }

    /// The player's document as of `time`: the last version at or before it.
    func document(of player: String, asOf time: Int64) -> JSONValue {
        let list = versions[player] ?? []
        var lo = 0, hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if list[mid].ts <= time { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? .emptyObject : list[lo - 1].doc
    }

    static func head(_ doc: JSONValue) -> (x: Int64, y: Int64) {
        func int(_ k: String) -> Int64 { if case .int(let i)? = doc[k] { return i }; return 0 }
        let crouching = doc["crouching"] == .bool(true)
        return (int("x"), int("y") + (crouching ? 100 : 170))
    }

    func fire(at now: Int64) {
        let shooter = players[world.int(0...3)]
        var target = players[world.int(0...3)]
        if target == shooter { target = players[(players.firstIndex(of: shooter)! + 1) % players.count] }
        let head = Self.head(document(of: target, asOf: now))
        let aim = (x: head.x + Int64(world.int(-30...30)), y: head.y + Int64(world.int(-30...30)))
        let ts = Timestamp(nanoseconds: now).rfc3339
        let shot = world.emit(service: "shots", stream: shooter, type: "ShotFired",
                              data: ["target": .string(target), "aimX": .int(aim.x), "aimY": .int(aim.y)], at: now)
        let body: [JSONKey: JSONValue] = ["shot": .string(shot), "at": .string(ts), "target": .string(target),
                                          "aimX": .int(aim.x), "aimY": .int(aim.y), "shooter": .string(shooter)]
        // The request travels to the validator (30–200 ms later, maybe twice).
        world.after(world.millis(30...200)) { [self] in
            bus.publish("shots.requests", key: shooter, type: "JudgeShot", body: body, causationId: shot, correlationId: shot)
        }
    }

    static func hits(_ aim: (x: Int64, y: Int64), _ head: (x: Int64, y: Int64)) -> Bool {
        abs(aim.x - head.x) <= 25 && abs(aim.y - head.y) <= 25
    }

    func judge(_ d: Bus.Delivery) {
        let m = d.message
        let shot = m.string("shot"), target = m.string("target")
        guard !judged.contains(shot) else { d.ack(); return }
        judged.insert(shot)
        guard let at = try? Timestamp.parse(m.string("at")) else { d.ack(); return }
        let aim = (x: m.int("aimX"), y: m.int("aimY"))
        let then = document(of: target, asOf: at.nanoseconds)
        let arrival = document(of: target, asOf: world.now)
        world.emit(service: "validator", stream: shot, type: "ShotJudged", data: [
            "shot": .string(shot), "at": .string(m.string("at")),
            "target": .object(["service": .string("players"), "stream": .string(target)]),
            "targetState": then, "headshot": .bool(Self.hits(aim, Self.head(then))),
            "headshotAtArrival": .bool(Self.hits(aim, Self.head(arrival))),
            "shooter": .string(m.string("shooter")), "lagMs": .int((world.now - at.nanoseconds) / 1_000_000),
        ], meta: m.meta, at: world.now)
        d.ack()
    }
}
