import Foundation
import Testing
@testable import RewindCore
@testable import RewindStore
import RewindTestSupport

/// What only a server store does: its URL, its schema, and a connection lost midway.
@Suite struct PostgresStoreTests {
    @Test func urlsKeepTheirPasswordOutOfMessages() throws {
        let u = try PostgresURL("postgres://ann:pw@db.example:5433/ledger?sslmode=require&password=x&schema=audit")
        #expect(u.schema == "audit")
        #expect(u.redacted == "postgres://ann@db.example:5433/ledger?sslmode=require&password=…&schema=audit")
        #expect(u.connection == "postgres://ann:pw@db.example:5433/ledger?sslmode=require&password=x")
        #expect(try PostgresURL("postgres://ann:p@ss:w@rd@db/ledger").redacted == "postgres://ann@db/ledger")
        #expect(try PostgresURL("postgresql://ann:s%40cret@db:5432").redacted == "postgresql://ann@db:5432")
        #expect(try PostgresURL("postgres:///ledger?host=/run/pg").redacted == "postgres:///ledger?host=/run/pg")
        #expect(throws: StoreError.self) { try PostgresURL("postgres://h/db?schema=a\"b") }
        #expect(throws: StoreError.self) { try PostgresURL("postgres://h/db?schema=9a") }
        #expect(throws: StoreError.self) { try PostgresURL("postgres://h/db?schema=a&schema=b") }
        #expect(throws: StoreError.self) { try PostgresURL("postgres://u:pw@h/db?schema=a#frag") }
        #expect(try PostgresURL("POSTGRES://h/db").connection == "postgres://h/db")
    }

    @Test func aLostConnectionIsMadeAgainForAReadAndAWriteFailsWhole() throws {
        let url = TestPostgres.freshURL()
        let store = try PostgresStore(url: url, create: true)
        var registry = NameRegistry()
        var batch = ImportBatch()
        for i in 1...3 {
            batch.addEvent(line: i, ts: Timestamp(nanoseconds: Int64(i)), id: "e\(i)", service: "s", stream: "a", type: "T",
                           tsRaw: "\(i)", data: "{}", registry: &registry)
        }
        try store.append(batch, checkpoint: ImportCheckpoint(sourcePath: "/x", line: 3))
        let killer = try PGConnection(try PostgresURL(url))
        // Only this store's connection: other tests use the same server at the same time.
        func killStoreConnections() throws {
            try killer.query("SELECT pg_terminate_backend($1)", [.int(Int64(store.backendPID))])
            usleep(50_000)
        }
        try killStoreConnections()
        #expect(try store.eventCount() == 3, "a read after the server closed the connection reconnects")
        try killStoreConnections()
        var more = ImportBatch()
        more.addEvent(line: 4, ts: Timestamp(nanoseconds: 4), id: "e4", service: "s", stream: "a", type: "T", tsRaw: "4", data: "{}", registry: &registry)
        do {
            try store.append(more, checkpoint: ImportCheckpoint(sourcePath: "/x", line: 4))
            Issue.record("a write on a lost connection succeeded")
        } catch let e as StoreError {
            #expect(e.isConnectionLost && e.message.contains("lost"), "\(e)")
        }
        #expect(try store.eventCount() == 3 && store.checkpoint()?.line == 3, "nothing of the failed batch was written")
        try store.append(more, checkpoint: ImportCheckpoint(sourcePath: "/x", line: 4))
        #expect(try store.eventCount() == 4)
    }
}
