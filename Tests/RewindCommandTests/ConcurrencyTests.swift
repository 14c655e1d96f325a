import Foundation
import Testing
import RewindTestSupport
@testable import RewindCore
@testable import RewindStore

/// Two processes on one log, and processes killed with SIGKILL: whatever interleaving or
/// interruption, the store and the index give the answers an undisturbed run gives.
@Suite(.serialized) struct ConcurrencyTests {
    /// A bank log of `events` lines (with its rules) in a new folder.
    func bankLog(events: Int, seed: UInt64 = 3) throws -> String {
        let dir = TestFolders.root.appendingPathComponent("rewind-race-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let log = dir.appendingPathComponent("bank.jsonl").path
        let r = try Rewind.run(["simulate", "bank", "--events", "\(events)", "--seed", "\(seed)", "--out", log])
        #expect(r.status == 0, "\(r.stderr)")
        return log
    }

    /// The same log in a folder of its own, imported undisturbed.
    func reference(_ log: String) throws -> String {
        let dir = TestFolders.root.appendingPathComponent("rewind-ref-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let copy = dir.appendingPathComponent("bank.jsonl").path
        try FileManager.default.copyItem(atPath: log, toPath: copy)
        try FileManager.default.copyItem(atPath: rules(log), toPath: rules(copy))
        #expect(try Rewind.run(["import", copy]).status == 0)
        return copy
    }

    /// The log grows: a second simulation's lines, a month later and with other ids, appended.
    func grow(_ log: String, by events: Int, seed: UInt64) throws {
        let more = try bankLog(events: events, seed: seed)
        let lines = try String(contentsOfFile: more, encoding: .utf8).split(separator: "\n").map {
            $0.replacingOccurrences(of: "\"id\":\"evt-", with: "\"id\":\"late-").replacingOccurrences(of: "2026-01-", with: "2026-02-")
        }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try h.seekToEnd()
        h.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        try h.close()
    }

    func rules(_ log: String) -> String { URL(fileURLWithPath: log).deletingPathExtension().path + ".rules.yaml" }

    /// What a user asks of a log: states at several times (every strategy), and the checks.
    func answers(_ log: String) throws -> [String] {
        var out: [String] = []
        for at in ["2026-01-01T00:30:00Z", "2026-01-01T06:00:00Z", "2026-01-02T12:00:00Z", "end"] {
            for strategy in ["diff", "undo", "squash"] {
                let r = try Rewind.run(["state", log, "--json", "--at", at, "--strategy", strategy])
                #expect(r.status == 0, "\(r.stderr)")
                out.append(r.stdout)
            }
        }
        let compare = try Rewind.run(["compare", log, "--at", "2026-01-01T12:00:00Z"])
        #expect(compare.status == 0, "every strategy agrees: \(compare.stdout)\(compare.stderr)")
        let verify = try Rewind.run(["verify", log])
        #expect(verify.status == 0 && verify.stdout.contains("0 drifted, 0 damaged"), "\(verify.stdout)\(verify.stderr)")
        return out
    }

    /// Starts the binary without waiting for it.
    func start(_ arguments: [String]) throws -> (Process, URL) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Rewind.binary)
        p.arguments = arguments
        let err = TestFolders.root.appendingPathComponent("rewind-err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        p.standardError = FileHandle(forWritingAtPath: err.path)
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return (p, err)
    }

    @Test func twoImportsAtOnce() throws {
        let log = try bankLog(events: 20_000)
        let expected = try answers(try reference(log))
        let (a, aErr) = try start(["import", log])
        let (b, bErr) = try start(["import", log])
        a.waitUntilExit()
        b.waitUntilExit()
        #expect(a.terminationStatus == 0 && b.terminationStatus == 0)
        let messages = try String(contentsOf: aErr, encoding: .utf8) + String(contentsOf: bErr, encoding: .utf8)
        #expect(!messages.contains("UNIQUE constraint") && !messages.contains("already exists"), "\(messages)")
        #expect(messages.contains("waiting for another rewind process"), "one waited for the other: \(messages)")
        #expect(try answers(log) == expected)
    }

    @Test func anImportAndAStateAtOnce() throws {
        let log = try bankLog(events: 20_000)
        let ref = try reference(log)
        let expected = try Rewind.run(["state", ref, "--json"]).stdout
        let (importer, _) = try start(["import", log])
        usleep(100_000)
        let state = try Rewind.run(["state", log, "--json"])
        importer.waitUntilExit()
        #expect(importer.terminationStatus == 0)
        #expect(state.status == 0, "\(state.stderr)")
        #expect(state.stdout == expected, "the state waited for the import, or read what it completed")
        #expect(try answers(log) == answers(ref))
    }

    @Test func twoFirstOpensAtOnce() throws {
        let log = try bankLog(events: 20_000)
        let expected = try Rewind.run(["state", try reference(log), "--json", "--at", "2026-01-01T08:00:00Z"]).stdout
        let processes = try (0..<2).map { _ in try start(["state", log, "--json", "--at", "2026-01-01T08:00:00Z"]) }
        for (p, _) in processes { p.waitUntilExit() }
        #expect(processes.allSatisfy { $0.0.terminationStatus == 0 })
        let messages = try processes.map { try String(contentsOf: $0.1, encoding: .utf8) }.joined()
        #expect(messages.contains("waiting for another rewind process"), "one waited for the other: \(messages)")
        let again = try Rewind.run(["state", log, "--json", "--at", "2026-01-01T08:00:00Z"])
        #expect(again.stdout == expected && again.stderr.isEmpty, "\(again.stderr)")
    }

    @Test func aGrowingLogReadByTwoAtOnce() throws {
        let log = try bankLog(events: 20_000)
        #expect(try Rewind.run(["import", log]).status == 0)
        try grow(log, by: 8_000, seed: 9)
        let ref = try reference(log)
        let expected = try Rewind.run(["state", ref, "--json"]).stdout
        let processes = try (0..<2).map { _ in try start(["state", log, "--json"]) }
        for (p, _) in processes { p.waitUntilExit() }
        #expect(processes.allSatisfy { $0.0.terminationStatus == 0 })
        #expect(try Rewind.run(["state", log, "--json"]).stdout == expected)
        #expect(try answers(log) == answers(ref))
    }

    /// Kills `arguments` with SIGKILL after each of `delays` (seconds), then lets it finish.
    func killRepeatedly(_ arguments: [String], delays: [Double]) throws -> Int {
        var killed = 0
        for delay in delays {
            let (p, _) = try start(arguments)
            usleep(UInt32(delay * 1_000_000))
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                killed += 1
            }
            p.waitUntilExit()
        }
        return killed
    }

    @Test func killedWhileImportingAndIndexingThenRerun() throws {
        let log = try bankLog(events: 100_000)
        let expected = try answers(try reference(log))
        let killed = try killRepeatedly(["import", log], delays: [0.3, 0.6, 0.2, 0.9, 0.4, 0.7])
        #expect(killed >= 3, "the import finished before it could be killed")
        #expect(try Rewind.run(["import", log]).status == 0)
        #expect(try answers(log) == expected)
    }

    @Test func killedWhileExtendingTheIndexThenRerun() throws {
        let log = try bankLog(events: 30_000)
        #expect(try Rewind.run(["import", log]).status == 0)
        try grow(log, by: 40_000, seed: 11)
        let expected = try answers(try reference(log))
        let killed = try killRepeatedly(["state", log, "--json"], delays: [0.3, 0.8, 1.2, 0.5, 1.6])
        #expect(killed >= 2)
        #expect(try answers(log) == expected)
    }

    @Test func killedWhileRebuildingForNewRulesThenRerun() throws {
        let log = try bankLog(events: 60_000)
        #expect(try Rewind.run(["import", log]).status == 0)
        var yaml = try String(contentsOfFile: rules(log), encoding: .utf8)
        yaml = yaml.replacingOccurrences(of: "by: -$.data.amount", with: "by: $.data.amount")
        try yaml.write(toFile: rules(log), atomically: true, encoding: .utf8)
        let expected = try answers(try reference(log))
        let killed = try killRepeatedly(["state", log, "--json"], delays: [0.5, 1.0, 1.8, 0.7])
        #expect(killed >= 2)
        #expect(try answers(log) == expected)
        let dir = URL(fileURLWithPath: log).deletingLastPathComponent().path
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".building") }.isEmpty,
                "no half-built index is left behind")
    }
}
