import Foundation
import GRDB
import Testing
@testable import RewindCore
@testable import RewindStore
import RewindTestSupport

@Suite struct StrategyCommandTests {
    func sample() throws -> (URL, String) {
        let dir = try Rewind.sampleFolder()
        return (dir, dir.appendingPathComponent("bank.jsonl").path)
    }

    @Test func compareRunsAllFiveAndTheyAgree() throws {
        let (_, log) = try sample()
        let r = try Rewind.run(["compare", log, "--at", "2026-03-02T09:14:05Z", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try JSONParser.parse(r.stdout)
        #expect(o["at"] == .string("2026-03-02T09:14:05Z") && o["position"] == .int(11))
        let strategies = o["strategies"]?.arrayValue ?? []
        #expect(strategies.compactMap { $0["name"]?.stringValue } == ["replay", "diff", "undo", "squash", "cache"])
        let hashes = Set(strategies.compactMap { $0["hash"]?.stringValue })
        #expect(hashes.count == 1)
        for s in strategies {
            #expect(s["agrees"] == .bool(true))
            #expect(s["applied"]?.isNumber == true && s["seconds"]?.isNumber == true && s["bytes"]?.isNumber == true)
        }
        // Undo walks back from the head and names the two e-mails it cannot take back.
        let undo = strategies[2]
        #expect(undo["irreversible"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["evt-021", "evt-014"])
        let table = try Rewind.run(["compare", log, "--at", "2026-03-02T09:14:05Z"])
        #expect(table.stdout.contains("undo crossed 2 irreversible events"))
    }

    @Test func everyStrategyGivesTheSameStateJSON() throws {
        let (_, log) = try sample()
        for at in ["2026-03-01T00:00:00Z", "2026-03-02T09:14:01Z", "2026-03-02T23:59:59.999999999Z", "2026-03-03T08:00:03Z", "end"] {
            let outputs = try ["replay", "diff", "undo", "squash", "cache"].map { try Rewind.run(["state", log, "--at", at, "--json", "--strategy", $0]) }
            for o in outputs { #expect(o.status == 0, "\(o.stderr)") }
            #expect(Set(outputs.map(\.stdout)).count == 1, "strategies disagree at \(at)")
        }
    }

    @Test func bisectFindsTheFirstBreakOfANonMonotonicInvariant() throws {
        let (_, log) = try sample()
        // transfer-2's status is "failed" only between CommissionFailed and TransferCompensated.
        let r = try Rewind.run(["bisect", log, "--invariant", #"transfers/transfer-2/status != "failed""#, "--json"])
        #expect(r.status == 1)
        let o = try JSONParser.parse(r.stdout)
        #expect(o["holds"] == .bool(false) && o["position"] == .int(18))
        #expect(o["event"]?["id"] == .string("evt-018") && o["event"]?["type"] == .string("CommissionFailed"))
        #expect(o["event"]?["meta"]?["sagaId"] == .string("transfer-2"))

        let holds = try Rewind.run(["bisect", log, "--invariant", "all(accounts/*/balance >= 0) && max(accounts/*/balance) <= 1000", "--json"])
        #expect(holds.status == 0 && holds.stdout == "{\"holds\":true}\n")

        let money = try Rewind.run(["bisect", log, "--invariant", "sum(accounts/*/balance) == 1200 || count(accounts/*/balance) < 3", "--json"])
        #expect(try JSONParser.parse(money.stdout)["position"] == .int(3))
    }

    @Test func invariantSyntaxErrorsNameTheColumn() throws {
        let (_, log) = try sample()
        let r = try Rewind.run(["bisect", log, "--invariant", "sum(accounts/*/balance) = 1200"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("column 25"), "\(r.stderr)")
        let wildcard = try Rewind.run(["bisect", log, "--invariant", "accounts/*/balance > 0"])
        #expect(wildcard.status == 2 && wildcard.stderr.contains("column 1"))
    }

    /// Opens the sample's store directly, as damage on disk would find it.
    func withDatabase(_ dir: URL, _ body: (Database) throws -> Void) throws {
        let queue = try DatabaseQueue(path: dir.appendingPathComponent("bank.rewind").path)
        try queue.write(body)
    }

    /// Flips one byte of the index file.
    func flip(_ path: String, at offset: Int) throws {
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try h.seek(toOffset: UInt64(offset))
        let byte = h.readData(ofLength: 1)[0]
        try h.seek(toOffset: UInt64(offset))
        h.write(Data([byte ^ 0x10]))
        try h.close()
    }

    @Test func aDamagedIndexIsDetectedReportedAndRebuiltNeverServed() throws {
        let (dir, log) = try sample()
        let index = dir.appendingPathComponent("bank.rewind-index").path
        let good = try Rewind.run(["state", log, "--json", "--at", "end"])
        let mid = try Rewind.run(["state", log, "--json", "--at", "2026-03-02T09:14:05Z"])
        // A byte of the head keyframe's root node: found when a strategy reads it.
        let head = Int(try IndexFile.open(index)!.directory.head.root) * 4
        try flip(index, at: head + 8)
        let r = try Rewind.run(["state", log, "--json", "--strategy", "undo", "--at", "2026-03-02T09:14:05Z"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("the timeline index is damaged (a keyframe node's check word does not match); not used, rebuilding"), "\(r.stderr)")
        #expect(r.stdout == mid.stdout, "the damaged keyframe is never served")
        let again = try Rewind.run(["state", log, "--json", "--strategy", "undo", "--at", "end"])
        #expect(again.status == 0 && again.stdout == good.stdout && again.stderr.isEmpty, "\(again.stderr)")
        // A byte of a document block.
        let block = try IndexFile.open(index)!.footers[0].docBlocks[0]
        try flip(index, at: Int(block.offset) + block.length / 2)
        let doc = try Rewind.run(["state", log, "--json", "--strategy", "diff", "--at", "end"])
        #expect(doc.status == 1 && doc.stderr.contains("a document block: its checksum does not match"), "\(doc.stderr)")
        #expect(doc.stdout == good.stdout)
        // A byte of the last chunk's timestamps: found when `--at end` reads it, whatever the
        // strategy — replay's answer is rebuilt too, and cache keeps nothing it reached through it.
        for strategy in ["replay", "cache"] {
            let chunk = try IndexFile.open(index)!.footers.last!.chunks.last!
            let n = chunk.length / IndexFormat.chunkBytesPerEvent
            try flip(index, at: Int(chunk.offset) + 12 * n + 3)
            let r = try Rewind.run(["state", log, "--json", "--strategy", strategy, "--at", "end"])
            #expect(r.status == 1 && r.stderr.contains("an event chunk: its checksum does not match"), "\(strategy): \(r.stderr)")
            #expect(r.stdout == good.stdout, "\(strategy) at the end")
            let later = try Rewind.run(["state", log, "--json", "--strategy", strategy, "--at", "end"])
            #expect(later.status == 0 && later.stdout == good.stdout && later.stderr.isEmpty, "\(strategy) afterwards: \(later.stderr)")
        }
        // A cut file: found when it is opened, and rebuilt.
        let size = try FileManager.default.attributesOfItem(atPath: index)[.size] as! Int
        #expect(truncate(index, off_t(size - 100)) == 0)
        let cut = try Rewind.run(["state", log, "--json", "--at", "end"])
        #expect(cut.stderr.contains("building the timeline index (the timeline index is damaged (the file is shorter"), "\(cut.stderr)")
        #expect(cut.status == 0 && cut.stdout == good.stdout)
        // Garbage instead of an index.
        try Data("not an index".utf8).write(to: URL(fileURLWithPath: index))
        let garbage = try Rewind.run(["state", log, "--json", "--at", "end"])
        #expect(garbage.stderr.contains("building the timeline index"), "\(garbage.stderr)")
        #expect(garbage.stdout == good.stdout)
        #expect(try Rewind.run(["verify", log]).stdout.contains("0 drifted, 0 damaged"))
    }

    @Test func aDamagedOrDriftedCachedStateIsFoundByVerifyAndRebuilt() throws {
        let (dir, log) = try sample()
        _ = try Rewind.run(["state", log, "--strategy", "cache", "--at", "2026-03-02T09:14:05Z"])
        _ = try Rewind.run(["state", log, "--strategy", "cache", "--at", "end"])
        // A cached state that is consistent with its hash but wrong: a drift, as a buggy writer
        // makes — account-A set to its version before the last event the state includes.
        let opened = try LogOpener.open(log)
        defer { opened.lock.unlock() }
        let store = opened.store
        let a = opened.index.streamID(service: "accounts", stream: "account-A")!
        var row = try store.loadCachedStates().first { $0.position == 11 }!
        var changes = row.changes
        for i in stride(from: 0, to: changes.count, by: 8) where changes.withUnsafeBytes({ $0.loadUnaligned(fromByteOffset: i, as: UInt32.self) }) == a {
            let last = opened.index.previousEvent(of: a, before: 11)!
            let older = StreamVersion.make(position: opened.index.previousEvent(of: a, before: last)!, hasDocument: true)
            changes.replaceSubrange((i + 4)..<(i + 8), with: withUnsafeBytes(of: older.littleEndian) { Array($0) })
        }
        #expect(changes != row.changes)
        row = CachedStateRow(position: 11, rules: row.rules, version: row.version, lastEventID: row.lastEventID, changes: changes)
        try store.saveCachedState(row)
        // And a damaged one: content changed, hash not.
        try withDatabase(dir) { db in
            try db.execute(sql: "UPDATE cached_states SET changes = CAST(zeroblob(LENGTH(changes)) AS BLOB) WHERE pos = 21")
        }
        let r = try Rewind.run(["verify", log, "--json"])
        #expect(r.status == 1, "\(r.stderr)")
        let o = try JSONParser.parse(r.stdout)
        let findings = o["findings"]?.arrayValue ?? []
        #expect(findings.count == 2)
        let drift = findings.first { $0["problem"] == .string("drifted") }
        #expect(drift?["kind"] == .string("cached state") && drift?["position"] == .int(11))
        #expect(drift?["streams"] == .array([.string("accounts/account-A")]))
        #expect(drift?["event"]?["id"] == .string("evt-009"), "the last event of account-A the cache claims to include")
        #expect(findings.contains { $0["problem"] == .string("damaged") && $0["position"] == .int(21) })
        #expect(o["rebuilt"] == .int(2))
        let clean = try Rewind.run(["verify", log])
        #expect(clean.status == 0, "\(clean.stdout)")
        #expect(clean.stdout == "verified 2 cached states and 3 keyframes against a full replay of 21 events: 0 drifted, 0 damaged, 0 rebuilt\n")
    }

    /// A store row changed under its index (by SQL, its checksum left as it was): verify's replay
    /// finds the row damaged and imports the store again from the log, instead of rebuilding the
    /// index from a store it cannot trust.
    @Test func verifyImportsAChangedStoreAgainFromTheLog() throws {
        let (dir, log) = try sample()
        let good = try Rewind.run(["state", log, "--json", "--at", "end"])
        try withDatabase(dir) { db in
            try db.execute(sql: "UPDATE events SET data = replace(data, '500', '900') WHERE pos = (SELECT MIN(pos) FROM events WHERE data LIKE '%500%')")
            #expect(db.changesCount == 1)
        }
        let r = try Rewind.run(["verify", log])
        #expect(r.status == 1, "\(r.stdout)")
        #expect(r.stderr.contains("does not match its checksum") && r.stderr.contains("rebuilding it from the log"), "\(r.stderr)")
        let after = try Rewind.run(["state", log, "--json", "--at", "end", "--strategy", "replay"])
        #expect(after.stdout == good.stdout, "the log's answer, not the changed store's")
        let clean = try Rewind.run(["verify", log])
        #expect(clean.status == 0 && clean.stdout.contains("0 drifted, 0 damaged"), "\(clean.stdout)")
    }

    @Test func changedRulesRebuildTheIndexAndIgnoreOldCaches() throws {
        let (dir, log) = try sample()
        _ = try Rewind.run(["state", log, "--strategy", "cache", "--at", "end"])
        let rules = dir.appendingPathComponent("bank.rules.yaml")
        var yaml = try String(contentsOf: rules, encoding: .utf8)
        yaml = yaml.replacingOccurrences(of: "by: -$.data.amount", with: "by: $.data.amount")  // debits now add
        try yaml.write(to: rules, atomically: true, encoding: .utf8)
        let r = try Rewind.run(["state", log, "--strategy", "cache", "--json", "--service", "accounts", "--stream", "account-A"])
        #expect(r.stderr.contains("the rules changed"), "\(r.stderr)")
        #expect(try JSONParser.parse(r.stdout)["services"]?["accounts"]?["account-A"]?["balance"] == .int(2150))
        let replay = try Rewind.run(["state", log, "--json", "--service", "accounts", "--stream", "account-A"])
        #expect(r.stdout == replay.stdout)
        let verify = try Rewind.run(["verify", log])
        // The cached state at the end was written again under the new rules (one row per position).
        #expect(verify.stdout == "verified 1 cached state and 3 keyframes against a full replay of 21 events: 0 drifted, 0 damaged, 0 rebuilt\n",
                "\(verify.stdout)")
    }

    @Test func aTruncatedOrGarbageStoreIsRebuiltFromTheLog() throws {
        let (dir, log) = try sample()
        let good = try Rewind.run(["state", log, "--json", "--strategy", "diff"])
        let storePath = dir.appendingPathComponent("bank.rewind").path
        let size = try FileManager.default.attributesOfItem(atPath: storePath)[.size] as! Int
        #expect(truncate(storePath, off_t(size / 2)) == 0)
        let truncated = try Rewind.run(["state", log, "--json", "--strategy", "diff"])
        #expect(truncated.stderr.contains("store is damaged"), "\(truncated.stderr)")
        #expect(truncated.stdout == good.stdout)
        try Data("not a database at all, just some bytes".utf8).write(to: URL(fileURLWithPath: storePath))
        let garbage = try Rewind.run(["state", log, "--json"])
        #expect(garbage.stderr.contains("store is damaged"))
        #expect(garbage.stdout == good.stdout)
    }

    /// One changed byte inside a stored event (a digit of an amount) or a stored name: every row
    /// carries a checksum, so the read fails as damage and the store is rebuilt from the log —
    /// replay never serves the changed amount, and verify never "repairs" the index to match it.
    @Test func aChangedByteInAStoredRowIsDamageNeverServed() throws {
        for (needle, replacement) in [(#""amount":1000"#, #""amount":9000"#), ("account-fees", "account-feez")] {
            let (dir, log) = try sample()
            let good = try Rewind.run(["state", log, "--json", "--strategy", "replay"])
            let storeURL = dir.appendingPathComponent("bank.rewind")
            var bytes = [UInt8](try Data(contentsOf: storeURL))
            let n = Array(needle.utf8), r = Array(replacement.utf8)
            guard let at = (0...(bytes.count - n.count)).first(where: { bytes[$0..<($0 + n.count)].elementsEqual(n) }) else {
                Issue.record("\(needle) is not in the store file"); continue
            }
            bytes.replaceSubrange(at..<(at + n.count), with: r)
            try Data(bytes).write(to: storeURL)
            let replay = try Rewind.run(["state", log, "--json", "--strategy", "replay"])
            #expect(replay.stderr.contains("does not match its checksum"), "\(replay.stderr)")
            #expect(replay.stderr.contains("rebuilding it from the log"), "\(replay.stderr)")
            #expect(replay.stdout == good.stdout, "the changed \(needle) is never served")
            let verify = try Rewind.run(["verify", log])
            #expect(verify.status == 0 && verify.stdout.contains("0 drifted, 0 damaged"), "\(verify.stdout)\(verify.stderr)")
        }
    }
}

@Suite struct BenchOnAUsersLogTests {
    @Test func benchStrategiesMeasuresEveryStrategyOnTheGivenLog() throws {
        let dir = try Rewind.sampleFolder()
        let log = dir.appendingPathComponent("bank.jsonl").path
        let r = try Rewind.run(["bench", "strategies", "--log", log, "--queries", "10"])
        #expect(r.status == 0, "\(r.stderr)")
        for name in ["replay", "diff", "undo", "squash", "cache"] {
            #expect(r.stdout.contains("\n  \(name) "), "a row for \(name): \(r.stdout)")
        }
        #expect(r.stdout.contains("21 events"), "the sample's events, folded with its rules")
        #expect(r.stdout.contains("opening the persisted index"))
        #expect(try Rewind.run(["bench", "import", "--log", log]).status == 2)
        #expect(try Rewind.run(["bench", "strategies", "--log", dir.appendingPathComponent("missing.jsonl").path]).status == 2)
        for bad in [["--queries", "0"], ["--cache-budget", "-1"]] {
            #expect(try Rewind.run(["bench", "strategies", "--log", log] + bad).status == 2, "\(bad) is refused, not a crash")
        }
    }
}

@Suite struct CompactionTests {
    /// A large document changed by small events: a squashed event would hold the whole document
    /// each day, so those days stay as they are — compaction never makes the store bigger — while
    /// a small stream's busy days are squashed; every state at a day's end and after is kept.
    @Test func aLargeDocumentsSmallChangesAreNotSquashedIntoCopiesOfIt() throws {
        let log = TestFolders.make("rewind-compact").appendingPathComponent("big.jsonl").path
        var lines: [String] = []
        let big = (0..<3000).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        lines.append(#"{"id":"b0","ts":"2026-01-01T00:00:00Z","service":"svc","stream":"big","type":"Set","data":{\#(big)}}"#)
        for day in 2...6 {
            let d = String(format: "2026-01-%02d", day)
            lines.append(#"{"id":"b\#(day)","ts":"\#(d)T01:00:00Z","service":"svc","stream":"big","type":"T","data":{"day":\#(day)}}"#)
            if day == 4 { lines.append(#"{"id":"b\#(day)x","ts":"\#(d)T02:00:00Z","service":"svc","stream":"big","type":"T","data":{"x":1}}"#) }
            for i in 0..<3 { lines.append(#"{"id":"s\#(day)-\#(i)","ts":"\#(d)T0\#(3 + i):00:00Z","service":"svc","stream":"small","type":"T","data":{"n":\#(i)}}"#) }
        }
        lines.append(#"{"id":"last","ts":"2026-01-09T00:00:00Z","service":"svc","stream":"small","type":"T","data":{"n":9}}"#)
        try (lines.joined(separator: "\n") + "\n").write(toFile: log, atomically: true, encoding: .utf8)
        let times = ["2026-01-01T23:59:59Z", "2026-01-03T23:59:59Z", "2026-01-04T23:59:59Z", "2026-01-06T23:59:59Z", "2026-01-09T00:00:00Z"]
        func services(_ t: String) throws -> JSONValue? { try JSONParser.parse(Rewind.run(["state", log, "--json", "--at", t]).stdout)["services"] }
        let before = try times.map(services)
        let done = try Rewind.run(["squash", log, "--compact", "--before", "2026-01-07", "--yes"])
        #expect(done.status == 0, "\(done.stderr)")
        // 22 events of 6 days: big's 7 kept (one a day, and day 4's two), small's 15 become 5.
        #expect(done.stdout.contains("22 events become 5 squashed events and 7 kept as they are"), "\(done.stdout)")
        #expect(done.stdout.contains("compacted: 22 events → 12;"))
        #expect(try times.map(services) == before)
        #expect(try Rewind.run(["compare", log, "--at", "2026-01-04T02:30:00Z", "--json"]).status == 0, "every strategy agrees")
        // big's intermediate state on day 4 is still there: its events were kept.
        let mid = try services("2026-01-04T01:30:00Z")?["svc"]?["big"]
        #expect(mid?["day"] == .int(4) && mid?["x"] == nil && mid?["k2999"] == .int(2999))
    }

    @Test func compactShowsTheLossAsksAndKeepsABackup() throws {
        let dir = try Rewind.sampleFolder()
        let log = dir.appendingPathComponent("bank.jsonl").path
        let dayEnd = try Rewind.run(["state", log, "--json", "--at", "2026-03-02T23:59:59Z"])
        let end = try Rewind.run(["state", log, "--json"])
        let midNextDay = try Rewind.run(["state", log, "--json", "--at", "2026-03-03T08:00:02Z"])

        let refused = try Rewind.run(["squash", log, "--compact", "--before", "2026-03-03"])
        #expect(refused.status == 2 && refused.stderr.contains("--yes"))
        #expect(refused.stdout.contains("accounts                      9         3         0            6"), "\(refused.stdout)")
        #expect(refused.stdout.contains("notifications                 1         0         1            0"), "its only event that day stays as it is")
        #expect(try Rewind.run(["state", log, "--json"]).stdout == end.stdout, "nothing changed without confirmation")

        let done = try Rewind.run(["squash", log, "--compact", "--before", "2026-03-03", "--yes"])
        #expect(done.status == 0, "\(done.stderr)")
        #expect(done.stdout.contains("15 events become 5 squashed events and 1 kept as they are"))
        #expect(done.stdout.contains("compacted: 15 events → 6;"))
        let backups = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("bank.rewind.backup-") }
        #expect(backups.count == 1)
        let backup = dir.appendingPathComponent(backups[0]).path
        #expect(try Rewind.run(["state", backup, "--json"]).stdout == end.stdout, "the backup is the old store")

        func services(_ r: Rewind.Result) throws -> JSONValue? { try JSONParser.parse(r.stdout)["services"] }
        #expect(try services(Rewind.run(["state", log, "--json", "--at", "2026-03-02T23:59:59Z"])) == services(dayEnd))
        #expect(try services(Rewind.run(["state", log, "--json"])) == services(end))
        #expect(try services(Rewind.run(["state", log, "--json", "--at", "2026-03-03T08:00:02Z"])) == services(midNextDay))
        let compare = try Rewind.run(["compare", log, "--at", "2026-03-03T08:00:02Z", "--json"])
        #expect(compare.status == 0, "every strategy still agrees after compaction")
        #expect(try JSONParser.parse(compare.stdout)["position"] == .int(9))  // 6 squashed + 3 kept events

        // A compacted event delivered again (the log grows by a copy of its first line) is still
        // a duplicate: reported, not applied.
        let first = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")[0]
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((first + "\n").utf8))
        try handle.close()
        let again = try Rewind.run(["state", log, "--json"])
        #expect(again.stderr.contains(#"duplicate delivery of id "evt-001""#), "\(again.stderr)")
        #expect(try services(again) == services(end))
    }

    @Test func compactNeedsADate() throws {
        let dir = try Rewind.sampleFolder()
        let log = dir.appendingPathComponent("bank.jsonl").path
        #expect(try Rewind.run(["squash", log, "--compact"]).status == 2)
        #expect(try Rewind.run(["squash", log, "--compact", "--before", "someday"]).status == 2)
        let nothing = try Rewind.run(["squash", log, "--compact", "--before", "2026-03-01", "--yes"])
        #expect(nothing.status == 0 && nothing.stdout.contains("nothing to compact"))
    }
}
