import Foundation
import Testing
@testable import RewindCore
@testable import RewindStore

@Suite struct ImportCommandTests {
    func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rewind-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func rejectedLinesAreReportedQuarantinedAndExitOne() throws {
        let dir = try folder()
        let log = dir.appendingPathComponent("bad.jsonl")
        try ([#"{"id":"1","ts":"2026-01-01T00:00:00Z","service":"a","stream":"s","type":"T"}"#,
              #"{"id":"2","ts":"2026-01-01T00:00:01Z""#,
              "",
              #"{"id":"3","ts":"2026-13-01T00:00:00Z","service":"a","stream":"s","type":"T"}"#].joined(separator: "\n") + "\n")
            .write(to: log, atomically: true, encoding: .utf8)
        let r = try Rewind.run(["import", log.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("bad.jsonl:2: rejected: invalid JSON"))
        #expect(r.stderr.contains("bad.jsonl:4: rejected: field \"ts\""))
        #expect(r.stdout.contains("3 lines read: 1 accepted, 0 duplicates, 2 rejected (1 blank line ignored)"))
        let quarantine = try String(contentsOf: dir.appendingPathComponent("bad.rejected.jsonl"), encoding: .utf8)
        #expect(quarantine == [#"{"id":"2","ts":"2026-01-01T00:00:01Z""#,
                               #"{"id":"3","ts":"2026-13-01T00:00:00Z","service":"a","stream":"s","type":"T"}"#].joined(separator: "\n") + "\n")
        // Opening it again still says so, and `state` exits 1 while the log has rejected lines.
        let again = try Rewind.run(["state", log.path, "--json"])
        #expect(again.status == 1 && again.stderr.contains("2 lines rejected"))
    }

    @Test func importToAStoreFileThatLaterCommandsTakeAsLog() throws {
        let dir = try Rewind.sampleFolder()
        let store = dir.appendingPathComponent("elsewhere.db").path
        let r = try Rewind.run(["import", dir.appendingPathComponent("bank.jsonl").path, "--to", store])
        #expect(r.status == 0, "\(r.stderr)")
        let s = try Rewind.run(["state", store, "--json", "--service", "accounts", "--stream", "account-B"])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(try JSONParser.parse(s.stdout)["services"]?["accounts"]?["account-B"]?["balance"] == .int(700))
        let again = try Rewind.run(["import", dir.appendingPathComponent("bank.jsonl").path, "--to", store])
        #expect(again.stdout.contains("already imported"))
    }

    @Test func emptyFileImportsCleanly() throws {
        let dir = try folder()
        let log = dir.appendingPathComponent("empty.jsonl")
        FileManager.default.createFile(atPath: log.path, contents: Data())
        let r = try Rewind.run(["import", log.path])
        #expect(r.status == 0)
        #expect(r.stdout.contains("0 lines read: 0 accepted, 0 duplicates, 0 rejected"))
        let s = try Rewind.run(["state", log.path, "--json"])
        #expect(try JSONParser.parse(s.stdout) == JSONParser.parse(#"{"at":"1970-01-01T00:00:00Z","position":0,"services":{}}"#))
    }

    /// kill -9 in the middle of an import, then import again: the store must be exactly the
    /// one an uninterrupted import makes.
    @Test func anImportKilledMidwayAndRerunEndsWithTheSameStore() throws {
        let dir = try folder()
        let log = dir.appendingPathComponent("big.jsonl").path
        let gen = try Rewind.run(["simulate", "bank", "--events", "150000", "--seed", "7", "--skew", "0.001", "--out", log])
        #expect(gen.status == 0)
        // Some bad lines too, so the quarantine file is part of what must survive.
        let h = FileHandle(forWritingAtPath: log)!
        try h.seekToEnd()
        h.write(Data("not json\n{\"id\":1}\n".utf8))
        try h.close()

        let reference = dir.appendingPathComponent("reference.rewind").path
        _ = try Rewind.run(["import", log, "--to", reference])
        let referenceQuarantine = try Data(contentsOf: dir.appendingPathComponent("big.rejected.jsonl"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("big.rejected.jsonl"))

        let interrupted = dir.appendingPathComponent("interrupted.rewind").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Rewind.binary)
        p.arguments = ["import", log, "--to", interrupted]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait until at least one batch is committed but the import is not finished.
        var killedMidway = false
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && p.isRunning {
            if FileManager.default.fileExists(atPath: interrupted),
               let store = try? SQLiteStore(path: interrupted),
               let c = try? store.checkpoint(), c.line > 0, !c.complete {
                kill(p.processIdentifier, SIGKILL)
                killedMidway = true
                break
            }
            usleep(20_000)
        }
        p.waitUntilExit()
        #expect(killedMidway, "the import finished before it could be killed")
        #expect(p.terminationReason == .uncaughtSignal || !killedMidway)

        let rerun = try Rewind.run(["import", log, "--to", interrupted])
        #expect(rerun.status == 1)  // the two bad lines
        #expect(rerun.stdout.contains("continued from line"), "\(rerun.stdout)")
        #expect(try SQLiteStore(path: interrupted).dump() == SQLiteStore(path: reference).dump())
        #expect(try Data(contentsOf: dir.appendingPathComponent("big.rejected.jsonl")) == referenceQuarantine)
    }

    @Test func kcatAndDebeziumFormats() throws {
        let dir = try folder()
        let log = dir.appendingPathComponent("topic.json")
        try (#"{"topic":"orders","partition":0,"offset":1,"ts":1767225600000,"key":"o-1","payload":"{\"type\":\"Placed\",\"total\":12}"}"# + "\n")
            .write(to: log, atomically: true, encoding: .utf8)
        let r = try Rewind.run(["import", log.path, "--format", "kcat"])
        #expect(r.status == 0, "\(r.stderr)")
        let s = try Rewind.run(["state", log.path, "--json"])
        #expect(try JSONParser.parse(s.stdout)["services"]?["orders"]?["o-1"] == .object(["type": .string("Placed"), "total": .int(12)]))
        let bad = try Rewind.run(["import", log.path, "--format", "avro"])
        #expect(bad.status == 2)
    }
}

@Suite struct ProgressBarTests {
    /// `script` gives the command a real terminal: the bar is drawn there, and not into a file.
    @Test func aProgressBarOnATerminalAndSilenceOtherwise() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "util-linux script(1) is needed")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rewind-progress-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let log = dir.appendingPathComponent("p.jsonl").path
        _ = try Rewind.run(["simulate", "bank", "--events", "20000", "--out", log])
        let typescript = dir.appendingPathComponent("typescript").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-qec", "\(Rewind.binary) import \(log) --to \(dir.path)/tty.rewind", typescript]
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let screen = String(decoding: try Data(contentsOf: URL(fileURLWithPath: typescript)), as: UTF8.self)
        #expect(screen.contains("importing") && screen.contains("100%"), "\(screen.prefix(300))")
        let piped = try Rewind.run(["import", log, "--to", "\(dir.path)/pipe.rewind"])
        #expect(!piped.stderr.contains("%") && !piped.stderr.contains("\u{1B}"))
    }
}
