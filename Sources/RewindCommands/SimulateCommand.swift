import ArgumentParser
import Foundation
import RewindCore

/// `rewind simulate SCENARIO …`: generate logs from event-driven patterns.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Generate a log from a scenario (deterministic by seed).",
        discussion: """
            Scenarios: bank — accounts, transfer sagas with commission, compensations and external
            e-mails, duplicate deliveries and (optionally) clock skew. With --out FILE.jsonl the
            rules are written beside it as FILE.rules.yaml; without, the log goes to stdout.
            """
    )

    enum Scenario: String, ExpressibleByArgument, CaseIterable { case bank }

    @Argument(help: "The scenario: bank.")
    var scenario: Scenario

    @Option(help: "How many lines to write.")
    var events: Int = 1000

    @Option(help: "The random seed.")
    var seed: UInt64 = 1

    @Option(help: "Probability that a line is delivered twice.")
    var duplicates: Double = 0.001

    @Option(help: "Probability that an event's timestamp is a few seconds in the past.")
    var skew: Double = 0

    @Option(help: "A fixed number of streams (transfers reuse their streams); by default streams grow with the log.")
    var streams: Int?

    @Option(help: "Write the log here (and its rules beside it) instead of stdout.")
    var out: String?

    func validate() throws {
        guard events >= 0 else { throw ValidationError("--events must be 0 or more") }
        guard (0...1).contains(duplicates), (0...1).contains(skew) else {
            throw ValidationError("--duplicates and --skew are probabilities between 0 and 1")
        }
    }

    func run() throws {
        var scenario = streams.map { BankScenario.fixedStreams($0, events: events, seed: seed, duplicateRate: duplicates) }
            ?? BankScenario(events: events, seed: seed, duplicateRate: duplicates)
        scenario.skewRate = skew
        if let out {
            try LogWriter.write(scenario, to: out, rules: true)
            Output.diagnostic("wrote \(events) lines to \(out)")
        } else {
            var buffer = ""
            scenario.generate { line in
                buffer += line
                buffer += "\n"
                if buffer.utf8.count > 1 << 20 {
                    Output.write(Array(buffer.utf8))
                    buffer = ""
                }
            }
            Output.write(Array(buffer.utf8))
        }
    }
}

enum LogWriter {
    static func write(_ scenario: BankScenario, to path: String, rules: Bool) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw UsageError(message: "\(path): cannot write")
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 22)
        var failure: (any Error)?
        func flush() {
            guard failure == nil else { return }
            do { try handle.write(contentsOf: Data(buffer)) } catch { failure = error }
            buffer.removeAll(keepingCapacity: true)
        }
        scenario.generate { line in
            buffer.append(contentsOf: line.utf8)
            buffer.append(0x0A)
            if buffer.count > 1 << 22 { flush() }
        }
        flush()
        try? handle.close()
        if let failure {
            // A disk that fills up is an error naming the file, never a crash.
            throw UsageError(message: "\(path): writing failed (\(failure.localizedDescription))")
        }
        let rulesPath = path.hasSuffix(".jsonl") ? String(path.dropLast(6)) + ".rules.yaml" : path + ".rules.yaml"
        if rules {
            try BankScenario.rulesYAML.write(toFile: rulesPath, atomically: true, encoding: .utf8)
        } else {
            try? FileManager.default.removeItem(atPath: rulesPath)
        }
    }
}
