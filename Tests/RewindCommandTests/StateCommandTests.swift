import Foundation
import Testing
import RewindTestSupport
@testable import RewindCore

@Suite struct StateCommandTests {
    @Test func stateJSONOnTheSampleLogIsExactlyTheHandComputedState() throws {
        let dir = try Rewind.sampleFolder()
        let r = try Rewind.run(["state", dir.appendingPathComponent("bank.jsonl").path, "--at", "2026-03-02T10:14:05+01:00", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasSuffix("\n") && r.stdout.filter { $0 == "\n" }.count == 1, "exactly one JSON object")
        let expected = try JSONParser.parse("""
            {"at":"2026-03-02T09:14:05Z","position":11,"services":{
              "accounts":{"account-A":{"owner":"Alice","balance":450},"account-B":{"owner":"Bob","balance":200},
                          "account-fees":{"owner":"Bank fees","balance":50}},
              "sessions":{"alice-web":{"user":"alice","device":"web","lastSeen":"2026-03-02T09:14:05Z"}},
              "transfers":{"transfer-1":{"from":"account-A","to":"account-B","amount":500,"commission":50,"status":"requested"}}}}
            """)
        #expect(try JSONParser.parse(r.stdout) == expected)
        #expect(r.stderr.contains("bank.jsonl:11: duplicate delivery of id \"evt-008\" (first at line 8)"))
        #expect(r.stderr.contains("22 lines read: 21 accepted, 1 duplicate, 0 rejected"))
    }

    /// Names and ids holding a NUL stay whole through the store (read by their byte length, not as
    /// C strings): every strategy sees two streams, and a re-delivered id is a duplicate.
    @Test func namesWithANulStayWholeInEveryStrategy() throws {
        let dir = TestFolders.root.appendingPathComponent("rewind-nul-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let log = dir.appendingPathComponent("n.jsonl")
        try (#"{"id":"x\u00001","ts":"2026-01-01T00:00:01Z","service":"s","stream":"a\u0000b","type":"T","data":{"v":1}}"# + "\n"
             + #"{"id":"x\u00002","ts":"2026-01-01T00:00:02Z","service":"s","stream":"a\u0000c","type":"T","data":{"v":2}}"# + "\n")
            .write(to: log, atomically: true, encoding: .utf8)
        let outputs = try Strategies.names.map { try Rewind.run(["state", log.path, "--json", "--strategy", $0]) }
        for o in outputs { #expect(o.status == 0, "\(o.stderr)") }
        #expect(Set(outputs.map(\.stdout)).count == 1, "\(outputs.map(\.stdout))")
        #expect(try JSONParser.parse(outputs[0].stdout)["services"]?["s"]?.objectValue?.count == 2)
        // The log grows by a re-delivery of the first line: a duplicate, found on the tail import.
        let h = try FileHandle(forWritingTo: log)
        try h.seekToEnd()
        h.write(Data((#"{"id":"x\u00001","ts":"2026-01-01T00:00:03Z","service":"s","stream":"a\u0000b","type":"T","data":{"v":9}}"# + "\n").utf8))
        try h.close()
        let again = try Rewind.run(["state", log.path, "--json"])
        #expect(again.stderr.contains("duplicate delivery"), "\(again.stderr)")
        #expect(again.stdout == outputs[0].stdout)
    }

    /// JSON strings are code points: ids, services, streams, types, data keys and rules keys
    /// that are canonically equivalent but spelled differently (é as U+00E9 or e + U+0301; the
    /// KELVIN SIGN and K) stay different in every strategy — Swift's `String ==` merges them.
    @Test func canonicallyEquivalentSpellingsStayDistinctInEveryStrategy() throws {
        let dir = TestFolders.root.appendingPathComponent("rewind-nfc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let log = dir.appendingPathComponent("c.jsonl")
        try ([#"{"id":"caf\u00e9","ts":"2026-01-01T00:00:01Z","service":"s\u00e9","stream":"caf\u00e9","type":"T\u00e9","data":{"k\u00e9":1}}"#,
              #"{"id":"cafe\u0301","ts":"2026-01-01T00:00:02Z","service":"se\u0301","stream":"cafe\u0301","type":"Te\u0301","data":{"ke\u0301":2}}"#,
              #"{"id":"\u212a","ts":"2026-01-01T00:00:03Z","service":"s\u00e9","stream":"caf\u00e9","type":"T\u00e9","data":{"ke\u0301":3}}"#,
              #"{"id":"K","ts":"2026-01-01T00:00:04Z","service":"s\u00e9","stream":"\u212a","type":"T\u00e9","data":{"\u212a":4,"K":5}}"#]
            .joined(separator: "\n") + "\n").write(to: log, atomically: true, encoding: .utf8)
        try """
            services:
              "s\\u00e9":
                "T\\u00e9":
                  ops:
                    - merge: $.data
                    - set: /rule
                      value: nfc
              "se\\u0301":
                "Te\\u0301":
                  ops:
                    - merge: $.data
                    - set: /rule
                      value: nfd
            """.write(to: dir.appendingPathComponent("c.rules.yaml"), atomically: true, encoding: .utf8)
        let outputs = try Strategies.names.map { try Rewind.run(["state", log.path, "--json", "--strategy", $0]) }
        for o in outputs { #expect(o.status == 0, "\(o.stderr)") }
        #expect(outputs[0].stderr.contains("4 lines read: 4 accepted, 0 duplicates, 0 rejected"), "\(outputs[0].stderr)")
        #expect(Set(outputs.map(\.stdout)).count == 1, "\(outputs.map(\.stdout))")
        let services = try JSONParser.parse(outputs[0].stdout)["services"]
        let expected = JSONValue.object([
            JSONKey("s\u{e9}"): .object([
                JSONKey("caf\u{e9}"): .object([JSONKey("k\u{e9}"): .int(1), JSONKey("ke\u{301}"): .int(3), "rule": .string("nfc")]),
                JSONKey("\u{212a}"): .object([JSONKey("\u{212a}"): .int(4), "K": .int(5), "rule": .string("nfc")]),
            ]),
            JSONKey("se\u{301}"): .object([
                JSONKey("cafe\u{301}"): .object([JSONKey("ke\u{301}"): .int(2), "rule": .string("nfd")]),
            ]),
        ])
        #expect(services == expected, "\(outputs[0].stdout)")
        // Narrowing by a name finds only that spelling.
        let one = try Rewind.run(["state", log.path, "--json", "--service", "se\u{301}", "--stream", "cafe\u{301}"])
        #expect(try JSONParser.parse(one.stdout)["services"]?.objectValue?.count == 1, "\(one.stdout)")
    }

    @Test func atTakesEpochMillisecondsStartEndAndNarrowing() throws {
        let dir = try Rewind.sampleFolder()
        let log = dir.appendingPathComponent("bank.jsonl").path
        let before = try Rewind.run(["state", log, "--at", "1772441999999", "--json"])
        #expect(try JSONParser.parse(before.stdout) == JSONParser.parse(#"{"at":"2026-03-02T08:59:59.999Z","position":0,"services":{}}"#))
        let end = try Rewind.run(["state", log, "--json", "--service", "accounts", "--stream", "account-A"])
        #expect(try JSONParser.parse(end.stdout) == JSONParser.parse(
            #"{"at":"2026-03-03T08:00:05Z","position":21,"services":{"accounts":{"account-A":{"owner":"Alice","balance":450}}}}"#))
        let none = try Rewind.run(["state", log, "--json", "--service", "nope"])
        #expect(try JSONParser.parse(none.stdout)["services"] == .object([:]))
        // The second run reuses the store: no import summary.
        #expect(!none.stderr.contains("lines read"))
    }

    @Test func readableStateAndTheDefaultCommand() throws {
        let dir = try Rewind.sampleFolder()
        let r = try Rewind.run([dir.appendingPathComponent("bank.jsonl").path])
        #expect(r.status == 0)
        #expect(r.stdout.contains("at 2026-03-03T08:00:05Z: 21 of 21 events applied"))
        #expect(r.stdout.contains("account-A: {"))
        #expect(r.stdout.contains("\"balance\": 450"))
        #expect(!r.stdout.contains("sessions"))  // deleted by SessionEnded
    }

    @Test func badUsageAndUnopenableInputExitTwo() throws {
        let dir = try Rewind.sampleFolder()
        let log = dir.appendingPathComponent("bank.jsonl").path
        let missing = try Rewind.run(["state", dir.appendingPathComponent("nope.jsonl").path])
        #expect(missing.status == 2 && missing.stderr.contains("nope.jsonl: no such file"))
        let directory = try Rewind.run(["state", dir.path])
        #expect(directory.status == 2 && directory.stderr.contains("is a directory"))
        let badTime = try Rewind.run(["state", log, "--at", "2026-02-30T00:00:00Z"])
        #expect(badTime.status == 2 && badTime.stderr.contains("day 30 does not exist"))
        let strategy = try Rewind.run(["state", log, "--strategy", "teleport"])
        #expect(strategy.status == 2)
        let noArgs = try Rewind.run(["state"])
        #expect(noArgs.status == 2)
        let postgres = try Rewind.run(["state", "postgres://localhost/x"])
        #expect(postgres.status == 2)
    }

    @Test func aBrokenRulesFileNamesItsLine() throws {
        let dir = try Rewind.sampleFolder()
        try "services:\n  accounts:\n    MoneyDebited:\n      ops:\n        - inc: balance\n".write(
            to: dir.appendingPathComponent("bank.rules.yaml"), atomically: true, encoding: .utf8)
        let r = try Rewind.run(["state", dir.appendingPathComponent("bank.jsonl").path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("bank.rules.yaml:5: 'inc' takes a JSON Pointer"), "\(r.stderr)")
    }

    @Test func skippedOpsAreReportedWithTheEventLineAndExitOne() throws {
        let dir = try Rewind.sampleFolder()
        let log = dir.appendingPathComponent("bank.jsonl")
        var text = try String(contentsOf: log, encoding: .utf8)
        text += #"{"id":"evt-900","ts":"2026-03-04T00:00:00Z","service":"accounts","stream":"account-A","type":"MoneyDebited","data":{"amount":"lots"}}"# + "\n"
        try text.write(to: log, atomically: true, encoding: .utf8)
        let r = try Rewind.run(["state", log.path, "--json"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("bank.jsonl:23: accounts/MoneyDebited: inc skipped"), "\(r.stderr)")
        #expect(try JSONParser.parse(r.stdout)["services"]?["accounts"]?["account-A"]?["balance"] == .int(450))
    }

    @Test func textFromTheLogNeverReachesTheTerminalAsEscapes() throws {
        let dir = TestFolders.root.appendingPathComponent("rewind-esc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let log = dir.appendingPathComponent("esc.jsonl")
        try (#"{"id":"1","ts":"2026-01-01T00:00:00Z","service":"svc\u001b[2J","stream":"s\u009b31m","type":"T","data":{"note":"\u001b]0;pwned\u0007","k\u001b":1}}"# + "\n"
             + "{\"id\":\"2\u{1B}[31m\",\"ts\":\"2026-01-01T00:00:01Z\",\"service\":\"svc\",\"stream\":\"s\",\"type\":\"T\"}\n"
             + "{\"id\":\"2\u{1B}[31m\",\"ts\":\"bad\u{1B}[5m\",\"service\":\"svc\",\"stream\":\"s\",\"type\":\"T\"}\n")
            .write(to: log, atomically: true, encoding: .utf8)
        for args in [["state", log.path], ["state", log.path, "--json"], ["import", log.path]] {
            let r = try Rewind.run(args)
            #expect(!r.stdoutBytes.contains(0x1B), "ESC on stdout for \(args)")
            #expect(!r.stdout.unicodeScalars.contains { (0x80..<0xA0).contains($0.value) })
            #expect(!Data(r.stderr.utf8).contains(0x1B), "ESC on stderr for \(args): \(r.stderr)")
        }
    }

    /// Standard output that cannot be written (a full disk) is an error with exit 2, not a crash.
    @Test(.enabled(if: FileManager.default.isWritableFile(atPath: "/dev/full"))) func aFullStandardOutputIsAnErrorNotACrash() throws {
        let dir = try Rewind.sampleFolder()
        for arguments in [["state", "bank.jsonl"], ["state", "bank.jsonl", "--json"], ["simulate", "bank", "--events", "100"]] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Rewind.binary)
            p.arguments = arguments
            p.currentDirectoryURL = dir
            p.standardOutput = FileHandle(forWritingAtPath: "/dev/full")
            let err = Pipe()
            p.standardError = err
            try p.run()
            let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 2 && p.terminationReason == .exit, "\(arguments): \(e)")
            #expect(e.contains("rewind: standard output: writing failed (No space left on device)"), "\(e)")
        }
    }

    /// Every byte from outside goes through the same escaping: a log's file name (an OSC 52
    /// clipboard write), rules keys, `--at`, `--invariant` and `--strategy` text echoed in errors,
    /// and invisible or direction-changing characters (U+202E, U+200B, U+2028) in names and payloads.
    @Test func textFromOutsideTheLogIsEscapedToo() throws {
        let dir = TestFolders.root.appendingPathComponent("rewind-esc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let log = dir.appendingPathComponent("osc\u{1B}]52;c;aGVsbG8=\u{7}log.jsonl")
        try (#"{"id":"1","ts":"2026-01-01T00:00:00Z","service":"svc\u202e","stream":"s\u200b","type":"T","data":{"n":"a\u2028b"}}"# + "\nnot json\n")
            .write(to: log, atomically: true, encoding: .utf8)
        let rules = dir.appendingPathComponent("r.yaml")
        try "services:\n  \"svc\\u202e\":\n    T:\n      opz: 1\n".write(to: rules, atomically: true, encoding: .utf8)
        let runs: [[String]] = [
            ["import", log.path], ["state", log.path], ["state", log.path, "--json"], ["verify", log.path],
            ["state", log.path, "--at", "\u{1B}[31mX"], ["bisect", log.path, "--invariant", "\u{1B}[31m("],
            ["state", log.path, "--strategy", "\u{1B}[31mX"], ["state", log.path, "--rules", rules.path],
            ["state", dir.appendingPathComponent("missing\u{1B}[2J.jsonl").path],
        ]
        for args in runs {
            let r = try Rewind.run(args)
            for (name, text) in [("stdout", r.stdout), ("stderr", r.stderr)] {
                let unsafe = text.unicodeScalars.filter { $0.isTerminalUnsafe && $0 != "\n" }
                #expect(unsafe.isEmpty, "\(name) of \(args.prefix(1)) holds \(unsafe.map { String($0.value, radix: 16) })")
            }
        }
        let state = try Rewind.run(["state", log.path])
        #expect(state.stdout.contains("svc\\u{202e}") && state.stdout.contains("s\\u{200b}"), "\(state.stdout)")
        let json = try Rewind.run(["state", log.path, "--json"])
        #expect(try JSONParser.parse(json.stdout)["services"]?["svc\u{202E}"]?["s\u{200B}"]?["n"] == .string("a\u{2028}b"),
                "escaped as \\u in JSON, the same string once parsed")
        #expect(try Rewind.run(["state", log.path, "--rules", rules.path]).stderr.contains("svc\\u{202e}"))
    }
}
