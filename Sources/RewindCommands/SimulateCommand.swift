import ArgumentParser
import Foundation
import RewindCore
import RewindSimulation

/// The fault options `simulate` and `check` share.
struct FaultOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Probability that a service crashes while handling a message (it restarts from its database).")
    var crash: Double = Faults().crash
    @Option(name: .customLong("relay-crash"), parsing: .unconditional, help: "Probability that an outbox relay dies between publishing a row and marking it.")
    var relayCrash: Double = Faults().relayCrash
    @Option(name: .customLong("lost-ack"), parsing: .unconditional, help: "Probability that an ack is lost (the message is delivered again).")
    var lostAck: Double = Faults().lostAck
    @Option(parsing: .unconditional, help: "Probability that a worker stalls past its visibility timeout.")
    var stall: Double = Faults().stall
    @Option(parsing: .unconditional, help: "Probability that a service goes down for a few seconds.")
    var down: Double = Faults().down
    @Option(name: .customLong("network-duplicates"), parsing: .unconditional, help: "Probability that the network delivers a message twice.")
    var networkDuplicates: Double = Faults().duplicate
    @Option(parsing: .unconditional, help: "Probability that an event is written to the log twice (a producer's retry: the same id again).")
    var duplicates: Double = 0.001
    @Option(name: .customLong("delay-ms"), parsing: .unconditional, help: "Extra network delay, up to this many milliseconds.")
    var delayMs: Int = Faults().delayMs
    @Option(parsing: .unconditional, help: "Probability that an event is written by a service whose clock runs behind (up to 3 s).")
    var skew: Double = 0
    @Flag(name: .customLong("no-faults"), help: "Switch every fault off.")
    var noFaults = false
    @Flag(help: "Swarm mode: the seed also draws which faults are on and how often.")
    var swarm = false
    @Flag(name: .customLong("no-saga"), help: "bank: transfers without a saga (a crash between debit and credit loses money).")
    var noSaga = false
    @Flag(name: .customLong("no-outbox"), help: "bank, video: services dual-write instead of using an outbox (events lost or phantom).")
    var noOutbox = false
    @Flag(name: .customLong("no-dedup"), help: "video: workers apply a job every time it is delivered.")
    var noDedup = false
    @Flag(name: .customLong("delivery-log"), help: "The bus writes its delivery log into the log (service bus): every delivery, ack, lost ack, crash, timeout.")
    var deliveryLog = false

    func validate() throws {
        for (name, p) in [("--crash", crash), ("--relay-crash", relayCrash), ("--lost-ack", lostAck), ("--stall", stall), ("--down", down),
                          ("--network-duplicates", networkDuplicates), ("--duplicates", duplicates), ("--skew", skew)]
        where !(0...1).contains(p) {
            throw ValidationError("\(name) is a probability between 0 and 1")
        }
        guard (0...60_000).contains(delayMs) else { throw ValidationError("--delay-ms is between 0 and 60000") }
        // At 1 nothing would ever commit or be published, and the run would never settle.
        for (name, p) in [("--crash", crash), ("--relay-crash", relayCrash), ("--down", down)] where p > 0.9 {
            throw ValidationError("\(name) is at most 0.9 (at 1 nothing ever commits and the run never settles)")
        }
    }

    /// A pattern switch that the scenario does not have is an error, not silently ignored.
    func check(for scenario: ScenarioChoice) throws {
        if noSaga && scenario != .bank { throw ValidationError("--no-saga applies to bank only") }
        if noDedup && scenario != .video { throw ValidationError("--no-dedup applies to video only") }
        if noOutbox && scenario == .game { throw ValidationError("--no-outbox applies to bank and video (game has no outbox)") }
    }

    func faults(seed: UInt64) -> Faults {
        var f = Faults()
        f.crash = crash; f.relayCrash = relayCrash; f.lostAck = lostAck; f.stall = stall; f.down = down
        f.duplicate = networkDuplicates; f.logDuplicate = duplicates; f.delayMs = delayMs; f.skew = skew
        if noFaults { f = .none }
        f.saga = !noSaga; f.outbox = !noOutbox; f.dedup = !noDedup; f.deliveryLog = deliveryLog
        return swarm ? f.swarm(seed: seed) : f
    }

    /// The options as given, for a command that reproduces the run.
    var arguments: [String] {
        var a: [String] = []
        let d = FaultOptions.defaults
        if crash != d.crash { a += ["--crash", "\(crash)"] }
        if relayCrash != d.relayCrash { a += ["--relay-crash", "\(relayCrash)"] }
        if lostAck != d.lostAck { a += ["--lost-ack", "\(lostAck)"] }
        if stall != d.stall { a += ["--stall", "\(stall)"] }
        if down != d.down { a += ["--down", "\(down)"] }
        if networkDuplicates != d.networkDuplicates { a += ["--network-duplicates", "\(networkDuplicates)"] }
        if duplicates != d.duplicates { a += ["--duplicates", "\(duplicates)"] }
        if delayMs != d.delayMs { a += ["--delay-ms", "\(delayMs)"] }
        if skew != d.skew { a += ["--skew", "\(skew)"] }
        if noFaults { a.append("--no-faults") }
        if swarm { a.append("--swarm") }
        if noSaga { a.append("--no-saga") }
        if noOutbox { a.append("--no-outbox") }
        if noDedup { a.append("--no-dedup") }
        if deliveryLog { a.append("--delivery-log") }
        return a
    }

    static let defaults = try! FaultOptions.parse([])

    /// The options that make `faults` exactly (for a shrunk reproduction: no --swarm, every rate given).
    static func arguments(for f: Faults) -> [String] {
        let d = defaults.faults(seed: 0)
        var a: [String] = []
        for (flag, value, base) in [("--crash", f.crash, d.crash), ("--relay-crash", f.relayCrash, d.relayCrash), ("--lost-ack", f.lostAck, d.lostAck),
                                    ("--stall", f.stall, d.stall), ("--down", f.down, d.down), ("--network-duplicates", f.duplicate, d.duplicate),
                                    ("--duplicates", f.logDuplicate, d.logDuplicate), ("--skew", f.skew, d.skew)] where value != base {
            a += [flag, "\(value)"]
        }
        if f.delayMs != d.delayMs { a += ["--delay-ms", "\(f.delayMs)"] }
        if !f.saga { a.append("--no-saga") }
        if !f.outbox { a.append("--no-outbox") }
        if !f.dedup { a.append("--no-dedup") }
        if f.deliveryLog { a.append("--delivery-log") }
        return a
    }
}

/// `rewind simulate SCENARIO …`: run an event-driven system on a virtual clock and write its log.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a scenario's services on a virtual clock, with faults, and write the log they leave (deterministic by seed).",
        discussion: """
            bank: a transfer saga (orchestrator with a saga log, idempotent commands, retries, compensations, an external e-mail) over a bus with an outbox per service and a lagging read model. video: competing workers with visibility timeouts, redeliveries, a dead-letter list and a dedup store. game: as-of validation — shots judged by the target's state as of the shot's time. With --out FILE.jsonl, FILE.rules.yaml and FILE.invariants are written beside it; without, the log goes to stdout. The same seed and options give the same bytes.

            Example: rewind simulate bank --seed 7 --size 5000 --no-saga --out /tmp/bank.jsonl && rewind check bank --seeds 1..50 --no-saga
            """
    )

    @Argument(help: "The scenario: bank, video or game.")
    var scenario: ScenarioChoice

    @Option(name: [.customLong("size"), .customLong("events")], parsing: .unconditional, help: "About how many lines to write (work in flight then settles).")
    var size: Int = 1000

    @Option(parsing: .unconditional, help: "The random seed.")
    var seed: UInt64 = 1

    @OptionGroup var faultOptions: FaultOptions

    @Option(parsing: .unconditional, help: "Write the log here (with FILE.rules.yaml and FILE.invariants beside it) instead of stdout.")
    var out: String?

    func validate() throws {
        // The log is held in memory until it is written (about 1 GB per million bank lines).
        guard (0...5_000_000).contains(size) else { throw ValidationError("--size is between 0 and 5000000") }
        try faultOptions.check(for: scenario)
    }

    func run() throws {
        let log = scenario.name.run(seed: seed, size: size, faults: faultOptions.faults(seed: seed))
        if let out {
            try LogWriter.write(log, to: out)
            Output.diagnostic("wrote \(log.lines.count) lines to \(Output.safe(out))")
        } else {
            var buffer: [UInt8] = []
            for line in log.lines {
                buffer.append(contentsOf: line.utf8)
                buffer.append(0x0A)
                if buffer.count > 1 << 20 { Output.write(buffer); buffer.removeAll(keepingCapacity: true) }
            }
            Output.write(buffer)
        }
    }
}

enum ScenarioChoice: String, ExpressibleByArgument, CaseIterable {
    case bank, video, game
    var name: ScenarioName { ScenarioName(rawValue: rawValue)! }
}

enum LogWriter {
    /// `FILE.jsonl` → `FILE.rules.yaml`, `FILE.invariants`.
    static func sibling(_ path: String, _ suffix: String) -> String {
        path.hasSuffix(".jsonl") ? String(path.dropLast(6)) + suffix : path + suffix
    }

    static func write(_ log: ScenarioLog, to path: String) throws {
        // Every target is checked before anything is written.
        for target in [path, sibling(path, ".rules.yaml"), sibling(path, ".invariants")] {
            var st = stat()
            if stat(target, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
                throw UsageError(message: "\(target): not a regular file; --out writes a new file or replaces a regular one")
            }
        }
        try write(lines: log.lines, to: path)
        try write(text: log.rules, to: sibling(path, ".rules.yaml"))
        try write(text: log.invariants, to: sibling(path, ".invariants"))
    }

    static func write(text: String, to path: String) throws {
        try write(to: path) { emit in emit(text.hasSuffix("\n") ? String(text.dropLast()) : text) }
    }

    /// Opens `path` for writing, truncated: a regular file (through a symbolic link too) or a new
    /// one; a device, FIFO, socket or folder is refused, never replaced.
    static func open(_ path: String) throws -> FileHandle {
        var st = stat()
        if stat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
            throw UsageError(message: "\(path): not a regular file; --out writes a new file or replaces a regular one")
        }
        let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw UsageError(message: "\(path): cannot write (\(String(cString: strerror(errno))))") }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// Writes lines through one buffer; a disk that fills up is an error naming the file.
    static func write(lines: [String], to path: String) throws {
        try write(to: path) { emit in lines.forEach(emit) }
    }

    /// Writes what `generate` emits, a line at a time, through one buffer.
    static func write(to path: String, _ generate: ((String) -> Void) -> Void) throws {
        let handle = try open(path)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 22)
        var failure: (any Error)?
        func flush() {
            guard failure == nil else { return }
            do { try handle.write(contentsOf: Data(buffer)) } catch { failure = error }
            buffer.removeAll(keepingCapacity: true)
        }
        generate { line in
            buffer.append(contentsOf: line.utf8)
            buffer.append(0x0A)
            if buffer.count > 1 << 22 { flush() }
        }
        flush()
        try? handle.close()
        if let failure { throw UsageError(message: "\(path): writing failed (\(failure.localizedDescription))") }
    }
}
