import Foundation
import Testing
import RewindTestSupport
@testable import RewindCore
@testable import RewindStore

@Suite struct ImportCommandTests {
    func folder() throws -> URL {
        let dir = TestFolders.root.appendingPathComponent("rewind-import-\(UUID().uuidString)")
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
        // Killed once at least one batch is committed but the import is not finished.
        let killedMidway = try Rewind.killMidway(["import", log, "--to", interrupted]) {
            guard FileManager.default.fileExists(atPath: interrupted), let store = try? SQLiteStore(path: interrupted),
                  let c = try? store.checkpoint() else { return false }
            return c.line > 0 && !c.complete
        }
        #expect(killedMidway, "the import finished before it could be killed")

        let rerun = try Rewind.run(["import", log, "--to", interrupted])
        #expect(rerun.status == 1)  // the two bad lines
        #expect(rerun.stdout.contains("continued from line"), "\(rerun.stdout)")
        #expect(try SQLiteStore(path: interrupted).dump() == SQLiteStore(path: reference).dump())
        #expect(try Data(contentsOf: dir.appendingPathComponent("big.rejected.jsonl")) == referenceQuarantine)
    }

    @Test func theSampleKafkaAndDebeziumFilesImportAsTheirREADMESays() throws {
        let dir = try folder()
        for name in ["accounts.kcat.json", "accounts.debezium.json"] {
            try FileManager.default.copyItem(at: Rewind.packageRoot.appendingPathComponent("sample-logs/formats/\(name)"),
                                             to: dir.appendingPathComponent(name))
        }
        let kcat = try Rewind.run(["import", dir.appendingPathComponent("accounts.kcat.json").path, "--format", "kcat"])
        #expect(kcat.status == 1 && kcat.stdout.contains("7 lines read: 5 accepted, 1 duplicate, 1 rejected"), "\(kcat.stdout)")
        #expect(kcat.stderr.contains("accounts.kcat.json:7: rejected: kcat envelope without integer"), "\(kcat.stderr)")
        let k = try Rewind.run(["state", dir.appendingPathComponent("accounts.kcat.json").path, "--json"])
        #expect(k.stdout.contains(#""outbox.event.accounts":{"account-B":{"balance":700}}"#), "\(k.stdout)")
        let dbz = try Rewind.run(["import", dir.appendingPathComponent("accounts.debezium.json").path, "--format", "debezium"])
        #expect(dbz.status == 1 && dbz.stdout.contains("6 lines read: 4 accepted, 0 duplicates, 2 rejected"), "\(dbz.stdout)")
        let end = try Rewind.run(["state", dir.appendingPathComponent("accounts.debezium.json").path, "--json"])
        #expect(end.stdout == #"{"at":"2026-03-02T09:01:30Z","position":4,"services":{"accounts":{"account-B":{"balance":700}}}}"# + "\n", "\(end.stdout)")
        let before = try Rewind.run(["state", dir.appendingPathComponent("accounts.debezium.json").path, "--at", "2026-03-02T09:00:46Z", "--json"])
        #expect(before.stdout.contains(#""A":{"balance":500,"id":"A","owner":"alice"}"#), "the row after the update, its dropped column gone: \(before.stdout)")
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

    /// The format is detected from the first line and remembered for the file; asking for one
    /// that the first line plainly is not is a clear error, and changes nothing — later commands
    /// do not reject every line.
    @Test func theFormatIsDetectedRememberedAndAMismatchIsAClearError() throws {
        let dir = try folder()
        let topic = dir.appendingPathComponent("topic.json")
        try (#"{"topic":"orders","partition":0,"offset":1,"ts":1767225600000,"key":"o-1","payload":"{\"type\":\"Placed\",\"total\":12}"}"# + "\n")
            .write(to: topic, atomically: true, encoding: .utf8)
        let detected = try Rewind.run(["import", topic.path])
        #expect(detected.status == 0 && detected.stdout.contains("1 accepted"), "\(detected.stdout)\(detected.stderr)")
        let s = try Rewind.run(["state", topic.path, "--json"])
        #expect(try JSONParser.parse(s.stdout)["services"]?["orders"]?["o-1"]?["total"] == .int(12))

        let log = dir.appendingPathComponent("bank.jsonl").path
        try FileManager.default.copyItem(atPath: Rewind.packageRoot.appendingPathComponent("sample-logs/bank.jsonl").path, toPath: log)
        let good = try Rewind.run(["state", log, "--json"])
        let wrong = try Rewind.run(["import", "--format", "kcat", log])
        #expect(wrong.status == 2)
        #expect(wrong.stderr.contains("bank.jsonl:1: this line is a JSON Lines event (SPEC §1), not a kcat -J envelope; import it with --format jsonl"), "\(wrong.stderr)")
        #expect(!wrong.stderr.contains("rejected"))
        let after = try Rewind.run(["state", log, "--json"])
        #expect(after.status == 0 && after.stdout == good.stdout && !after.stderr.contains("rejected"), "\(after.stderr)")
        #expect(try Rewind.run(["import", "--format", "jsonl", log]).status == 0)
    }
}

@Suite struct ProgressBarTests {
    /// `script` gives the command a real terminal: the bar is drawn there, and not into a file.
    @Test func aProgressBarOnATerminalAndSilenceOtherwise() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "util-linux script(1) is needed")
        let dir = TestFolders.root.appendingPathComponent("rewind-progress-\(UUID().uuidString)")
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

/// Folders and stores rewind cannot write, run as a user without the rights (as `nobody` via
/// setpriv when the tests run as root, for root can write anything).
@Suite struct UnwritableTests {
    static let asOther: [String]? = {
        if getuid() != 0 { return [] }
        let setpriv = "/usr/bin/setpriv"
        guard FileManager.default.isExecutableFile(atPath: setpriv) else { return nil }
        let prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        // The binary must be reachable for that user.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: setpriv)
        p.arguments = Array(prefix.dropFirst()) + ["test", "-x", Rewind.binary]
        guard (try? p.run()) != nil else { return nil }
        p.waitUntilExit()
        return p.terminationStatus == 0 ? prefix : nil
    }()

    static func run(_ arguments: [String], home: String) throws -> Rewind.Result {
        let prefix = asOther ?? []
        let p = Process()
        p.executableURL = URL(fileURLWithPath: prefix.first ?? Rewind.binary)
        p.arguments = Array(prefix.dropFirst()) + (prefix.isEmpty ? [] : [Rewind.binary]) + arguments
        p.environment = ["HOME": home, "PATH": "/usr/bin:/bin"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Rewind.Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                             stderr: String(decoding: e, as: UTF8.self), stdoutBytes: o)
    }

    func folder(mode: Int16, ownedByOther: Bool) throws -> URL {
        let dir = TestFolders.root.appendingPathComponent("rewind-ro-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        if ownedByOther && getuid() == 0 { chown(dir.path, 65534, 65534) }
        chmod(dir.path, mode_t(mode))
        return dir
    }

    static let line1 = #"{"id":"e1","ts":"2026-01-01T00:00:00Z","service":"s","stream":"a","type":"T","data":{"v":1}}"# + "\n"

    /// `import` and `state` follow one rule: a log in a folder that cannot be written keeps its
    /// store in $HOME/.cache/rewind (the $HOME given, not the user database's), made once.
    @Test(.enabled(if: asOther != nil, "needs a user without write rights (setpriv)"))
    func aReadOnlyFolderKeepsTheStoreInTheCacheOfHome() throws {
        let home = try folder(mode: 0o755, ownedByOther: true)
        let logs = try folder(mode: 0o755, ownedByOther: false)
        let log = logs.appendingPathComponent("l.jsonl").path
        try Self.line1.write(toFile: log, atomically: true, encoding: .utf8)
        chmod(logs.path, 0o555)
        let imported = try Self.run(["import", log], home: home.path)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stderr.contains("its folder cannot be written; keeping its store in \(home.path)/.cache/rewind/"), "\(imported.stderr)")
        #expect(imported.stdout.contains("store: \(home.path)/.cache/rewind/l-"), "\(imported.stdout)")
        let state = try Self.run(["state", log, "--json"], home: home.path)
        #expect(state.status == 0 && state.stdout.contains(#""v":1"#), "\(state.stderr)")
        #expect(!state.stderr.contains("keeping its store"), "the store made by import is the one state reads")
        #expect(!FileManager.default.fileExists(atPath: logs.appendingPathComponent("l.rewind").path))
    }

    /// A store that cannot be written (a tail to import into it) is a clear error naming it, exit 2.
    @Test(.enabled(if: asOther != nil, "needs a user without write rights (setpriv)"))
    func aReadOnlyStoreIsAClearErrorNamingIt() throws {
        let dir = try folder(mode: 0o755, ownedByOther: true)
        let log = dir.appendingPathComponent("l.jsonl").path
        try Self.line1.write(toFile: log, atomically: true, encoding: .utf8)
        if getuid() == 0 { chown(log, 65534, 65534) }
        #expect(try Self.run(["import", log], home: dir.path).status == 0)
        let store = dir.appendingPathComponent("l.rewind").path
        chmod(store, 0o444)
        let h = FileHandle(forWritingAtPath: log)!
        try h.seekToEnd()
        h.write(Data(#"{"id":"e2","ts":"2026-01-01T00:00:01Z","service":"s","stream":"a","type":"T","data":{"w":2}}"#.utf8 + [0x0A]))
        try h.close()
        for command in ["import", "state"] {
            let r = try Self.run([command, log], home: dir.path)
            #expect(r.status == 2, "\(command): \(r.stderr)")
            #expect(r.stderr.contains("\(store): cannot write the store: the store is read-only"), "\(command): \(r.stderr)")
            #expect(!r.stderr.contains("SQLite error"), "\(r.stderr)")
        }
    }
}
