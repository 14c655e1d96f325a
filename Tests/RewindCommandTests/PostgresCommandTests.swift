import Foundation
import Testing
@testable import RewindStore
import RewindTestSupport

/// The command line on a PostgreSQL store, with real processes: every command answers as on a
/// file, two users (two cache folders: two machines' indexes) share one database and its cached
/// states, an import killed midway and rerun ends with exactly the rows of an uninterrupted one.
@Suite struct PostgresCommandTests {
    /// The environment of a user with a cache folder of their own.
    func user(_ dir: URL, _ name: String) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["XDG_CACHE_HOME"] = dir.appendingPathComponent("cache-\(name)").path
        return env
    }

    /// Runs the commands as processes at the same time; their results in order (nil: could not start).
    func atOnce(_ runs: [([String], [String: String])]) -> [Rewind.Result?] {
        final class Box: @unchecked Sendable { var results: [Rewind.Result?]; let lock = NSLock(); init(_ n: Int) { results = Array(repeating: nil, count: n) } }
        let box = Box(runs.count)
        let threads = runs.enumerated().map { i, run in
            Thread { let r = try? Rewind.run(run.0, environment: run.1); box.lock.withLock { box.results[i] = r } }
        }
        threads.forEach { $0.start() }
        while threads.contains(where: { !$0.isFinished }) { usleep(10_000) }
        return box.lock.withLock { box.results }
    }

    @Test func everyCommandAnswersAsOnAFile() throws {
        let dir = try Rewind.sampleFolder()
        let log = dir.appendingPathComponent("bank.jsonl").path
        let url = TestPostgres.freshURL()
        let env = user(dir, "a")
        let imported = try Rewind.run(["import", log, "--to", url], environment: env)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("22 lines read: 21 accepted, 1 duplicate, 0 rejected"), "\(imported.stdout)")
        #expect(!imported.stdout.contains("schema=t_") || imported.stdout.contains("postgres://"))
        let again = try Rewind.run(["import", log, "--to", url], environment: env)
        #expect(again.stdout.contains("unchanged"), "\(again.stdout)")
        for arguments in [["state", "--at", "2026-03-02T09:14:07Z", "--json"],
                          ["state", "--at", "2026-03-02T09:14:07Z", "--strategy", "replay", "--json"],
                          ["state", "--at", "end", "--service", "accounts", "--json"],
                          ["bisect", "--invariant", "accounts/account-A.balance >= 0"],
                          ["squash", "--json"]] {
            let onFile = try Rewind.run([arguments[0], log] + arguments.dropFirst(), environment: env)
            let onServer = try Rewind.run([arguments[0], url] + arguments.dropFirst(), environment: env)
            #expect(onServer.status == onFile.status, "\(arguments): \(onServer.stderr)")
            #expect(onServer.stdout.replacingOccurrences(of: url, with: "LOG") == onFile.stdout.replacingOccurrences(of: log, with: "LOG"),
                    "\(arguments)")
        }
        let verify = try Rewind.run(["verify", url], environment: env)
        #expect(verify.status == 0 && verify.stdout.contains("0 drifted, 0 damaged"), "\(verify.stdout)\(verify.stderr)")
    }

    @Test func compactionRewritesTheServersStoreAsAFilesAndKeepsABackupSchema() throws {
        let dir = try Rewind.sampleFolder()
        let log = dir.appendingPathComponent("bank.jsonl").path
        let url = TestPostgres.freshURL()
        let env = user(dir, "a")
        #expect(try Rewind.run(["import", log, "--to", url], environment: env).status == 0)
        let before = try Rewind.run(["state", url, "--json"], environment: env).stdout
        let onServer = try Rewind.run(["squash", url, "--compact", "--before", "2026-03-03", "--yes"], environment: env)
        let onFile = try Rewind.run(["squash", log, "--compact", "--before", "2026-03-03", "--yes"], environment: env)
        #expect(onServer.status == 0 && onServer.stdout.contains("15 events → 6"), "\(onServer.stdout)\(onServer.stderr)")
        #expect(try Rewind.run(["state", url, "--json"], environment: env).stdout == Rewind.run(["state", log, "--json"], environment: env).stdout)
        #expect(try Rewind.run(["state", url, "--at", "2026-03-02T09:14:05Z", "--json"], environment: env).stdout
                == Rewind.run(["state", log, "--at", "2026-03-02T09:14:05Z", "--json"], environment: env).stdout, "\(onFile.stdout)")
        let schema = try #require(onServer.stdout.split(separator: " ").first { $0.hasPrefix("t\(getpid())_") && $0.contains("_backup_") }.map(String.init))
        let backup = TestPostgres.server + "&schema=\(schema)"
        #expect(try Rewind.run(["state", backup, "--json"], environment: env).stdout == before, "the backup schema is the store before compaction")
    }

    @Test func twoUsersShareTheDatabaseAndItsCachedStates() throws {
        let dir = try Rewind.sampleFolder()
        let log = dir.appendingPathComponent("big.jsonl").path
        #expect(try Rewind.run(["simulate", "bank", "--events", "20000", "--seed", "3", "--out", log]).status == 0)
        let url = TestPostgres.freshURL()
        #expect(try Rewind.run(["import", log, "--to", url], environment: user(dir, "a")).status == 0)
        // Both users at once: each builds (or reads) its own machine's index of the server's events.
        let arguments = ["compare", url, "--at", "end", "--json"]
        let results = atOnce([(arguments, user(dir, "a")), (arguments, user(dir, "b"))])
        let a = try #require(results[0]), b = try #require(results[1])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr)\(b.stderr)")
        let store = try PostgresStore(url: url, create: false)
        let cached = try store.cachedStateCount()
        #expect(cached > 0, "compare writes the cache strategy's states into the database")
        // A third process of the second user reads those states back instead of making new ones.
        let state = try Rewind.run(["state", url, "--at", "end", "--strategy", "cache", "--json"], environment: user(dir, "b"))
        let onFile = try Rewind.run(["state", log, "--at", "end", "--json"], environment: user(dir, "b"))
        #expect(state.status == 0 && state.stdout == onFile.stdout.replacingOccurrences(of: log, with: url))
        #expect(try store.cachedStateCount() == cached)
        let indexes = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("cache-b/rewind").path)
        #expect(indexes.contains { $0.hasSuffix(".rewind-index") }, "\(indexes)")
    }

    @Test func aKilledImportRerunEndsWithTheSameRows() throws {
        let dir = try Rewind.sampleFolder()
        let log = dir.appendingPathComponent("big.jsonl").path
        #expect(try Rewind.run(["simulate", "bank", "--events", "150000", "--seed", "7", "--skew", "0.001", "--out", log]).status == 0)
        let reference = TestPostgres.freshURL()
        #expect(try Rewind.run(["import", log, "--to", reference], environment: user(dir, "a")).status == 0)

        let interrupted = TestPostgres.freshURL()
        let killedMidway = try Rewind.killMidway(["import", log, "--to", interrupted], environment: user(dir, "b")) {
            guard let store = try? PostgresStore(url: interrupted, create: false), let c = try? store.checkpoint() else { return false }
            return c.line > 0 && !c.complete
        }
        #expect(killedMidway, "the import finished before it could be killed")
        let rerun = try Rewind.run(["import", log, "--to", interrupted], environment: user(dir, "b"))
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("continued from line") || !killedMidway, "\(rerun.stdout)")
        #expect(try PostgresStore(url: interrupted, create: false).dump() == PostgresStore(url: reference, create: false).dump())
        let a = try Rewind.run(["state", reference, "--at", "end", "--json"], environment: user(dir, "a"))
        let b = try Rewind.run(["state", interrupted, "--at", "end", "--json"], environment: user(dir, "b"))
        #expect(a.stdout.replacingOccurrences(of: reference, with: "") == b.stdout.replacingOccurrences(of: interrupted, with: ""))
    }

    @Test func twoImportsAtOnceFromTwoMachinesNeverInterleave() throws {
        let dir = try Rewind.sampleFolder()
        let log = dir.appendingPathComponent("big.jsonl").path
        #expect(try Rewind.run(["simulate", "bank", "--events", "60000", "--seed", "5", "--out", log]).status == 0)
        let reference = TestPostgres.freshURL()
        #expect(try Rewind.run(["import", log, "--to", reference], environment: user(dir, "r")).status == 0)
        let url = TestPostgres.freshURL()
        let results = atOnce([(["import", log, "--to", url], user(dir, "m0")), (["import", log, "--to", url], user(dir, "m1"))])
        for r in results {
            let r = try #require(r)
            #expect(r.status == 0 || r.stderr.contains("another rewind process imported into this store meanwhile"), "\(r.stderr)")
        }
        // Whatever the race did, one more import (a no-op or the rest) ends with the reference's rows.
        _ = try Rewind.run(["import", log, "--to", url], environment: user(dir, "m0"))
        #expect(try PostgresStore(url: url, create: false).dump() == PostgresStore(url: reference, create: false).dump())
    }

    @Test func aForeignTableIsReadInNumericOrderAndNeverImportedInto() throws {
        let dir = try Rewind.sampleFolder()
        let schema = TestPostgres.freshSchema("app")
        let admin = try PGConnection(try PostgresURL(TestPostgres.server))
        try admin.execute("""
            CREATE SCHEMA \(schema); CREATE TABLE \(schema).m2 (global_position bigserial PRIMARY KEY, position bigint NOT NULL,
            time timestamp NOT NULL, stream_name text NOT NULL, type text NOT NULL, data jsonb, metadata jsonb, id uuid NOT NULL DEFAULT gen_random_uuid());
            INSERT INTO \(schema).m2 (position, time, stream_name, type, data) SELECT g, '2026-03-02 09:00:00', 'counter-1', 'Set', jsonb_build_object('v', g) FROM generate_series(1, 12) g
            """)
        let url = TestPostgres.server + "&preset=message-db&table=\(schema).m2"
        let env = user(dir, "a")
        let first = try Rewind.run(["state", url, "--json"], environment: env)
        #expect(first.stdout.contains(#""counter-1":{"v":12}"#), "global position 12 is the last, not 9 (text order): \(first.stdout)")
        let again = try Rewind.run(["state", url, "--json"], environment: env)
        #expect(!again.stderr.contains("new row") && !again.stderr.contains("lines read"), "nothing is read again: \(again.stderr)")
        let into = try Rewind.run(["import", dir.appendingPathComponent("bank.jsonl").path, "--to", url], environment: env)
        #expect(into.status == 2 && into.stderr.contains("which rewind only reads"), "\(into.stderr)")
        #expect(try admin.query("SELECT count(*) FROM \(schema).m2").int(0, 0) == 12)
    }

    @Test func aSharedStoreIsNeverReplacedByAnotherLogAndNoOutputShowsThePassword() throws {
        let dir = try Rewind.sampleFolder()
        let url = TestPostgres.freshURL()
        let withPassword = url.replacingOccurrences(of: "postgres://rewind@", with: "postgres://rewind:S3cr3tPW@") + "&password=QueryPW9"
        let env = user(dir, "a")
        #expect(try Rewind.run(["import", dir.appendingPathComponent("bank.jsonl").path, "--to", withPassword], environment: env).status == 0)
        for arguments in [["state", withPassword], ["compare", withPassword], ["bisect", withPassword, "--invariant", "accounts/account-A.balance >= 0"],
                          ["verify", withPassword], ["squash", withPassword], ["import", dir.appendingPathComponent("bank.jsonl").path, "--to", withPassword]] {
            let r = try Rewind.run(arguments, environment: env)
            #expect(!(r.stdout + r.stderr).contains("S3cr3tPW") && !(r.stdout + r.stderr).contains("QueryPW9"), "\(arguments[0]): \(r.stdout)\(r.stderr)")
        }
        let simulated = dir.appendingPathComponent("other.jsonl").path
        #expect(try Rewind.run(["simulate", "bank", "--size", "200", "--seed", "1", "--out", simulated]).status == 0)
        let other = try Rewind.run(["import", simulated, "--to", url], environment: env)
        #expect(other.status == 2 && other.stderr.contains("holds the import of"), "\(other.stderr)")
        #expect(try PostgresStore(url: url, create: false).summary().accepted == 21, "the first log's events stay")
    }

    @Test func connectionFailuresNameTheServerNeverThePassword() throws {
        let r = try Rewind.run(["state", "postgres://bob:s3cret-pw@127.0.0.1:1/ledger", "--at", "end"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("postgres://bob@127.0.0.1:1/ledger") && r.stderr.contains("cannot connect"), "\(r.stderr)")
        #expect(!r.stderr.contains("s3cret"), "\(r.stderr)")
        let fresh = try Rewind.run(["state", TestPostgres.freshURL(), "--at", "end"])
        #expect(fresh.status == 2 && fresh.stderr.contains("no rewind schema") && fresh.stderr.contains("rewind import LOG --to"), "\(fresh.stderr)")
        let badSchema = try Rewind.run(["state", TestPostgres.server + "&schema=x;drop", "--at", "end"])
        #expect(badSchema.status == 2 && badSchema.stderr.contains("a schema name is letters"), "\(badSchema.stderr)")
    }

    @Test(arguments: ["message-db", "marten", "eventuous"]) func readsAnotherEventStoresTableWithoutWritingToIt(_ preset: String) throws {
        let dir = try Rewind.sampleFolder()
        let schema = TestPostgres.freshSchema("app")
        let admin = try PGConnection(try PostgresURL(TestPostgres.server))
        let table: String, rows: [String]
        switch preset {
        case "message-db":
            table = "messages"
            try admin.execute("""
                CREATE SCHEMA \(schema); CREATE TABLE \(schema).messages (global_position bigserial PRIMARY KEY, position bigint NOT NULL,
                time timestamp NOT NULL, stream_name text NOT NULL, type text NOT NULL, data jsonb, metadata jsonb, id uuid NOT NULL)
                """)
            rows = ["(0, '2026-03-02 09:00:00', 'account-A', 'Opened', '{\"balance\": 100}', '{\"causationId\": \"c1\"}', gen_random_uuid())",
                    "(1, '2026-03-02 09:00:01.5', 'account-A', 'Debited', '{\"balance\": 60}', NULL, gen_random_uuid())"]
        case "marten":
            table = "mt_events"
            try admin.execute("""
                CREATE SCHEMA \(schema); CREATE TABLE \(schema).mt_events (seq_id bigserial PRIMARY KEY, id uuid NOT NULL, stream_id uuid NOT NULL,
                version integer NOT NULL, data jsonb NOT NULL, type varchar NOT NULL, timestamp timestamptz NOT NULL, tenant_id varchar, mt_dotnet_type varchar)
                """)
            rows = ["(gen_random_uuid(), '11111111-1111-1111-1111-111111111111', 1, '{\"balance\": 100}', 'account_opened', '2026-03-02 10:00:00+01', '*DEFAULT*', 'X')",
                    "(gen_random_uuid(), '11111111-1111-1111-1111-111111111111', 2, '{\"balance\": 60}', 'account_debited', '2026-03-02 10:00:01.5+01', '*DEFAULT*', 'X')"]
        default:
            table = "messages"
            try admin.execute("""
                CREATE SCHEMA \(schema); CREATE TABLE \(schema).messages (message_id uuid NOT NULL, message_type varchar NOT NULL, stream_id integer NOT NULL,
                stream_position integer NOT NULL, global_position bigserial PRIMARY KEY, json_data jsonb NOT NULL, json_metadata jsonb, created timestamp NOT NULL)
                """)
            rows = ["(gen_random_uuid(), 'AccountOpened', 7, 0, '{\"balance\": 100}', NULL, '2026-03-02 09:00:00')",
                    "(gen_random_uuid(), 'AccountDebited', 7, 1, '{\"balance\": 60}', '{\"user\": \"ann\"}', '2026-03-02 09:00:01.5')"]
        }
        let columns: String
        switch preset {
        case "message-db": columns = "position, time, stream_name, type, data, metadata, id"
        case "marten": columns = "id, stream_id, version, data, type, timestamp, tenant_id, mt_dotnet_type"
        default: columns = "message_id, message_type, stream_id, stream_position, json_data, json_metadata, created"
        }
        try admin.execute("INSERT INTO \(schema).\(table) (\(columns)) VALUES \(rows[0])")
        let url = TestPostgres.server + "&preset=\(preset)&table=\(schema).\(table)"
        let env = user(dir, "a")
        let first = try Rewind.run(["state", url, "--at", "end", "--json"], environment: env)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("\"balance\":100"), "\(first.stdout)")
        // The table grows; the next command reads only the new row.
        try admin.execute("INSERT INTO \(schema).\(table) (\(columns)) VALUES \(rows[1])")
        let second = try Rewind.run(["state", url, "--at", "end", "--json"], environment: env)
        #expect(second.status == 0 && second.stdout.contains("\"balance\":60") && second.stdout.contains("\"at\":\"2026-03-02T09:00:01.5Z\""),
                "\(second.stdout)\(second.stderr)")
        #expect(second.stderr.contains("read 1 new row"), "\(second.stderr)")
        if preset == "message-db" { #expect(second.stdout.contains("\"account\":{\"account-A\""), "the category is the service") }
        // Nothing was written to the application's database: its schema holds its one table, unchanged.
        let tables = try admin.query("SELECT count(*) FROM pg_tables WHERE schemaname = $1", [.text(schema)]).int(0, 0)
        #expect(tables == 1)
        #expect(try admin.query("SELECT count(*) FROM \(schema).\(table)").int(0, 0) == 2)
        // A mapping that names a missing column says which columns it reads.
        let bad = try Rewind.run(["state", TestPostgres.server + "&table=\(schema).\(table)&columns=position:nope,ts:x,stream:y,type:z", "--at", "end"],
                                 environment: env)
        #expect(bad.status == 2 && bad.stderr.contains("nope") && bad.stderr.contains("does not exist"), "\(bad.stderr)")
        let injected = try Rewind.run(["state", TestPostgres.server + "&preset=\(preset)&table=\(schema).x;drop", "--at", "end"], environment: env)
        #expect(injected.status == 2 && injected.stderr.contains("plain identifiers"), "\(injected.stderr)")
    }
}
