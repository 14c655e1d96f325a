import Foundation
import Testing
import RewindTestSupport
import RewindCore

/// `simulate` and `check` as a user runs them (SPEC §6, §8).
@Suite struct SimulateCommandTests {
    func folder() throws -> URL {
        let dir = TestFolders.root.appendingPathComponent("rewind-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The log, its rules and its invariants, the same bytes for the same seed and options.
    @Test func simulateWritesTheLogItsRulesAndItsInvariantsDeterministically() throws {
        let dir = try folder()
        for scenario in ["bank", "video", "game"] {
            var outputs: [Data] = []
            for run in 0..<2 {
                let log = dir.appendingPathComponent("\(scenario)-\(run).jsonl").path
                let r = try Rewind.run(["simulate", scenario, "--seed", "4", "--size", "600", "--out", log])
                #expect(r.status == 0, "\(r.stderr)")
                outputs.append(try Data(contentsOf: URL(fileURLWithPath: log)))
                let invariants = try String(contentsOfFile: dir.appendingPathComponent("\(scenario)-\(run).invariants").path, encoding: .utf8)
                #expect(invariants.contains("#") && invariants.split(separator: "\n").contains { !$0.hasPrefix("#") })
                #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("\(scenario)-\(run).rules.yaml").path))
            }
            #expect(outputs[0] == outputs[1], "\(scenario): the same seed gives the same bytes")
            let stdout = try Rewind.run(["simulate", scenario, "--seed", "4", "--size", "600"])
            #expect(stdout.stdoutBytes == outputs[0])
        }
    }

    /// `--out` never replaces what is not a regular file (a device, a FIFO) and writes through a
    /// symbolic link; a switch the scenario lacks, a crash rate at which nothing would ever commit,
    /// a negative value: clear errors, exit 2.
    @Test func badTargetsAndOptionsAreRefused() throws {
        let dir = try folder()
        let fifo = dir.appendingPathComponent("pipe.jsonl").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let refused = try Rewind.run(["simulate", "bank", "--size", "50", "--out", fifo])
        #expect(refused.status == 2 && refused.stderr.contains("not a regular file"), "\(refused.stderr)")
        var st = stat()
        #expect(lstat(fifo, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO, "the FIFO is still there")
        let target = dir.appendingPathComponent("target.jsonl").path, link = dir.appendingPathComponent("link.jsonl").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        #expect(try Rewind.run(["simulate", "bank", "--size", "50", "--out", link]).status == 0)
        #expect(lstat(link, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK, "the link stays a link")
        #expect((try? Data(contentsOf: URL(fileURLWithPath: target)).count) ?? 0 > 0, "written through it")
        for (arguments, message) in [(["simulate", "game", "--no-dedup"], "--no-dedup applies to video only"),
                                     (["simulate", "bank", "--crash", "1"], "--crash is at most 0.9"),
                                     (["simulate", "bank", "--crash", "-0.1"], "--crash is a probability between 0 and 1"),
                                     (["check", "video", "--no-saga"], "--no-saga applies to bank only")] {
            let r = try Rewind.run(arguments)
            #expect(r.status == 2 && r.stderr.contains(message), "\(arguments): \(r.stderr)")
        }
    }

    /// SPEC §8: `rewind state LOG --at <at> --service <service> --stream <stream>` shows exactly
    /// the `targetState` a judgement was made on.
    @Test func aJudgementsTargetStateIsTheStateAtTheShotsTime() throws {
        let dir = try folder()
        let log = dir.appendingPathComponent("game.jsonl").path
        #expect(try Rewind.run(["simulate", "game", "--seed", "9", "--size", "1500", "--out", log]).status == 0)
        let judgements = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONParser.parse(String($0)) }.filter { $0["type"] == .string("ShotJudged") }
        #expect(judgements.count >= 3)
        for j in judgements.prefix(3) {
            let data = j["data"]!
            guard case .string(let at)? = data["at"], case .string(let service)? = data["target"]?["service"],
                  case .string(let stream)? = data["target"]?["stream"] else { Issue.record("\(data)"); continue }
            let r = try Rewind.run(["state", log, "--at", at, "--service", service, "--stream", stream, "--json"])
            #expect(try JSONParser.parse(r.stdout)["services"]?[service]?[stream] == data["targetState"], "\(at)")
        }
    }

    /// `check` names each break, the first event after which it is false and the command that
    /// reproduces it; with the patterns on it finds none (exit 0), without, some (exit 1).
    @Test func checkNamesEachBreakAndHowToReproduceIt() throws {
        let clean = try Rewind.run(["check", "video", "--seeds", "1..3", "--size", "800"])
        #expect(clean.status == 0 && clean.stdout.contains("video: 3 seeds checked, 0 broke an invariant"), "\(clean.stdout)\(clean.stderr)")
        let broken = try Rewind.run(["check", "video", "--seeds", "1..3", "--size", "800", "--no-dedup", "--json"])
        #expect(broken.status == 1)
        let report = try JSONParser.parse(broken.stdout)
        guard case .array(let breaks)? = report["breaks"], let first = breaks.first else { Issue.record("\(broken.stdout)"); return }
        #expect(first["invariant"] == .string("all(videos/*/applied <= 1)"))
        guard case .string(let reproduce)? = first["reproduce"], case .int(let seed)? = first["seed"], case .int(let position)? = first["position"] else {
            Issue.record("\(first)"); return
        }
        #expect(reproduce.contains("--no-dedup") && reproduce.contains("--seed \(seed)"))
        // The reproduction gives a log on which bisect finds the same first break.
        let dir = try folder()
        let log = dir.appendingPathComponent("video.jsonl").path
        #expect(try Rewind.run(["simulate", "video", "--seed", "\(seed)", "--size", "800", "--no-dedup", "--out", log]).status == 0)
        let bisect = try Rewind.run(["bisect", log, "--invariant", "all(videos/*/applied <= 1)", "--json"])
        #expect(try JSONParser.parse(bisect.stdout)["position"] == .int(position))
        // The first break is shrunk to a smaller run that still breaks it, and that run does.
        guard case .array(let shrunk)? = report["shrunk"], let small = shrunk.first, case .int(let smallSize)? = small["size"],
              case .string(let command)? = small["reproduce"], case .int(let smallPosition)? = small["position"] else {
            Issue.record("no shrunk reproduction: \(broken.stdout)"); return
        }
        #expect(smallSize < 800 && small["invariant"] == .string("all(videos/*/applied <= 1)"))
        var arguments = command.split(separator: " ").map(String.init).dropFirst()  // "rewind"
        let out = arguments.firstIndex(of: "--out")!
        arguments[out + 1] = dir.appendingPathComponent("small.jsonl").path
        #expect(try Rewind.run(Array(arguments)).status == 0)
        let again = try Rewind.run(["bisect", dir.appendingPathComponent("small.jsonl").path, "--invariant", "all(videos/*/applied <= 1)", "--json"])
        #expect(try JSONParser.parse(again.stdout)["position"] == .int(smallPosition))
        #expect(try Rewind.run(["check", "bank", "--seeds", "2..1"]).status == 2)
    }
}
