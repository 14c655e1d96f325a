import RewindCore

/// Competing consumers: uploaded videos are processed by four workers taking messages from one
/// group, with a visibility timeout; a worker that stalls past it, dies, or whose ack is lost
/// sees its message delivered again to another worker, and the network sometimes delivers one
/// twice. A dedup store, written in the same transaction as the effect, applies each video's
/// effect exactly once (`Faults.dedup == false` applies it on every delivery).
final class VideoSimulation {
    let world: World
    let bus: Bus
    let size: Int
    struct Videos { var processed: Set<String> = [] }
    let videos: ServiceDatabase<Videos>
    var counter = 0
    var group: Bus.Group?

    init(world: World, size: Int) {
        self.world = world
        self.size = max(1, size)
        bus = Bus(world: world)
        videos = ServiceDatabase(world: world, bus: bus, service: "videos", state: Videos())
    }

    static let rulesYAML = """
        services:
          videos:
            VideoUploaded:
              ops:
                - merge: $.data
                - set: /applied
                  value: 0
            VideoProcessed:
              ops:
                - inc: /applied
                - set: /processedBy
                  value: $.data.worker
            DuplicateSuppressed:
              ops:
                - inc: /duplicatesSuppressed
            DeadLettered:
              ops:
                - set: /deadLettered
                  value: true

        """

    static let invariants = """
        # Each video's effect is applied at most once, however often its message is delivered.
        all(videos/*/applied <= 1)
        # Once everything has settled, every uploaded video was processed exactly once.
        simulation/run/settled != true || all(videos/*/applied == 1)

        """

    func run() -> ScenarioLog {
        group = bus.subscribe("videos.process", group: "workers", consumers: (1...4).map { "worker-\($0)" }, partitions: 16,
                              visibilityTimeout: 2_000_000_000, maxReceives: 30,
                              deadLetter: { [self] m in
                                  world.emit(service: "videos", stream: m.key, type: "DeadLettered",
                                             data: ["messageId": .string(m.id), "attempts": .int(Int64(m.attempt))], meta: m.meta)
                              }) { [self] d in work(d) }
        scheduleUpload()
        world.run()
        world.settle(["videos": .int(Int64(counter))])
        return ScenarioLog(lines: world.lines, rules: Self.rulesYAML, invariants: Self.invariants)
    }

    func scheduleUpload() {
        world.after(world.millis(20...250)) { [self] in
            guard world.lineCount < size else { return }
            counter += 1
            upload("video-" + World.pad(counter, 6))
            scheduleUpload()
        }
    }

    func upload(_ video: String) {
        let ok = videos.transaction(cause: nil) { _, tx in
            tx.event(video, "VideoUploaded", ["title": .string("Clip \(video.dropFirst(6))"), "seconds": .int(Int64(world.int(5...600)))],
                     meta: ["commandId": .string(video + "-upload")])
            tx.send("videos.process", key: video, type: "ProcessVideo", ["video": .string(video)])
        }
        if !ok { world.after(world.millis(100...500)) { [self] in upload(video) } }
    }

    func work(_ d: Bus.Delivery) {
        let worker = d.consumerName, m = d.message, video = m.string("video")
        if world.chance(world.faults.crash) {
            // The worker dies mid-job and restarts; the message comes back after its timeout.
            d.crashed()
            if let group { bus.down(group, consumer: worker, for: world.millis(1_000...4_000)) }
            return
        }
        let stalled = world.chance(world.faults.stall)
        let duration = stalled ? world.millis(2_500...6_000) : world.millis(100...1_200)
        world.after(duration) { [self] in
            let committed = videos.transaction(cause: m) { st, tx in
                let meta: [JSONKey: JSONValue] = ["commandId": .string(video + "-process")]
                if world.faults.dedup && st.processed.contains(video) {
                    tx.event(video, "DuplicateSuppressed", ["worker": .string(worker), "attempt": .int(Int64(m.attempt))], meta: meta)
                    return
                }
                st.processed.insert(video)
                tx.event(video, "VideoProcessed", ["worker": .string(worker), "attempt": .int(Int64(m.attempt)),
                                                   "stalled": .bool(stalled)], meta: meta)
            }
            if committed {
                d.ack()
            } else {
                d.crashed()
                if let group { bus.down(group, consumer: worker, for: world.millis(1_000...4_000)) }
            }
        }
    }
}
