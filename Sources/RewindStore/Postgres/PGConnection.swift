import CLibpq
import Foundation
import RewindCore

/// A `postgres://` (or `postgresql://`) URL as rewind takes it: libpq's own URI syntax
/// (`postgres://user:password@host:port/db?host=/socket/dir&sslmode=…`), plus one parameter of
/// rewind's, `schema=NAME` (default `rewind`), which names the schema rewind keeps its tables in
/// and is taken out before the rest goes to libpq.
public struct PostgresURL: Sendable, Equatable {
    /// What libpq connects with.
    public var connection: String
    /// The schema's name (a plain identifier: letters, digits, `_`).
    public var schema: String
    /// The URL without its password, for every message and file name.
    public var redacted: String
    /// rewind's other parameters: `preset=`, `table=`, `columns=` (an event table of another
    /// program, read only: `PostgresTableSource`).
    public var preset: String?
    public var table: String?
    public var columns: String?
    /// The URL names another program's event table rather than rewind's own store.
    public var isForeignTable: Bool { preset != nil || table != nil }

    public static func isPostgres(_ text: String) -> Bool {
        let head = text.prefix(13).lowercased()
        return head.hasPrefix("postgres://") || head.hasPrefix("postgresql://")
    }

    public init(_ text: String) throws {
        guard PostgresURL.isPostgres(text) else { throw StoreError("not a postgres:// URL") }
        guard !text.contains("#") else {
            throw StoreError("\(text.escapingForTerminal.replacingOccurrences(of: #":[^@/]*@"#, with: "@", options: .regularExpression)): a URL fragment (#…) means nothing to PostgreSQL; percent-encode a # in a password as %23")
        }
        // libpq takes the scheme in lower case only.
        let scheme = text.prefix { $0 != ":" }
        var base = scheme.lowercased() + text.dropFirst(scheme.count), query = ""
        if let q = base.firstIndex(of: "?") {
            query = String(base[base.index(after: q)...])
            base = String(base[..<q])
        }
        var kept: [String] = [], shown: [String] = []
        var seen: Set<String> = []
        var schema = "rewind"
        var preset: String?, table: String?, columns: String?
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(pair[0])
            let value = pair.count > 1 ? String(pair[1]) : ""
            if ["preset", "table", "columns", "schema"].contains(key), seen.contains(key) {
                throw StoreError("\(key)= is given twice: give it once")
            }
            seen.insert(key)
            if ["preset", "table", "columns"].contains(key) {
                let decoded = value.removingPercentEncoding ?? value
                switch key {
                case "preset": preset = decoded
                case "table": table = decoded
                default: columns = decoded
                }
                shown.append(String(part))
                continue
            }
            if key == "schema" {
                let decoded = value.removingPercentEncoding ?? value
                guard PostgresURL.isIdentifier(decoded) else {
                    throw StoreError("schema=\(decoded.escapingForTerminal): a schema name is letters, digits and _, not starting with a digit, at most 63 bytes")
                }
                schema = decoded
                continue
            }
            kept.append(String(part))
            shown.append(key == "password" ? "password=…" : String(part))
        }
        connection = kept.isEmpty ? base : base + "?" + kept.joined(separator: "&")
        self.schema = schema
        self.preset = preset
        self.table = table
        self.columns = columns
        // user:password@ → user@ (the last @ before the path: a password may hold an unencoded @)
        var visible = base
        if let scheme = visible.range(of: "://") {
            let authority = visible[scheme.upperBound...].prefix { $0 != "/" }
            if let at = authority.lastIndex(of: "@"), let colon = visible[scheme.upperBound..<at].firstIndex(of: ":") {
                visible.replaceSubrange(colon..<at, with: "")
            }
        }
        if schema != "rewind" { shown.append("schema=\(schema)") }
        redacted = shown.isEmpty ? visible : visible + "?" + shown.joined(separator: "&")
    }

    static func isIdentifier(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard let first = bytes.first, bytes.count <= 63, !(48...57).contains(first) else { return false }
        return bytes.allSatisfy { (97...122).contains($0) || (65...90).contains($0) || (48...57).contains($0) || $0 == 95 }
    }
}

/// A parameter of a query: bound by libpq, never spliced into SQL text.
enum PGValue {
    case int(Int64)
    case text(String)
    case bytes([UInt8])
    case null
}

/// One result of a query (rows in text format), freed when dropped.
final class PGResult {
    let result: OpaquePointer
    let rows: Int
    init(_ result: OpaquePointer) {
        self.result = result
        rows = Int(PQntuples(result))
        columns = Int(PQnfields(result))
    }
    deinit { PQclear(result) }

    let columns: Int

    func isNull(_ row: Int, _ column: Int) -> Bool {
        guard row >= 0, row < rows, column >= 0, column < columns else { return true }
        return PQgetisnull(result, Int32(row), Int32(column)) == 1
    }

    /// The column's bytes (text format), or nil for NULL.
    func bytes(_ row: Int, _ column: Int) -> UnsafeBufferPointer<UInt8>? {
        guard !isNull(row, column), let p = PQgetvalue(result, Int32(row), Int32(column)) else { return nil }
        return UnsafeRawPointer(p).withMemoryRebound(to: UInt8.self, capacity: 1) {
            UnsafeBufferPointer(start: $0, count: Int(PQgetlength(result, Int32(row), Int32(column))))
        }
    }

    func string(_ row: Int, _ column: Int) -> String? { bytes(row, column).map { String(decoding: $0, as: UTF8.self) } }

    func int(_ row: Int, _ column: Int) -> Int64? {
        guard let b = bytes(row, column), !b.isEmpty else { return nil }
        var n: Int64 = 0, i = 0, negative = false
        if b[0] == 45 { negative = true; i = 1 }
        guard i < b.count else { return nil }
        while i < b.count {
            let d = b[i] &- 48
            guard d < 10 else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            n = a
            i += 1
        }
        return negative ? -n : n
    }

    /// A `bytea` column (text format: `\x` and hex digits).
    func bytea(_ row: Int, _ column: Int) -> [UInt8]? {
        guard let b = bytes(row, column), b.count >= 2, b[0] == 92, b[1] == 120, b.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity((b.count - 2) / 2)
        var i = 2
        while i < b.count {
            guard let h = nibble(b[i]), let l = nibble(b[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}

/// One libpq connection. Not shared between threads: every use is serialised by its owner.
/// Failures become `StoreError`s naming the server (host and database, never the password) with
/// the server's own message; a connection that was lost is reset once before a read is retried.
final class PGConnection {
    private var connection: OpaquePointer?
    let url: PostgresURL

    init(_ url: PostgresURL) throws {
        self.url = url
        // Defaults first: a URL's own parameters (expanded from dbname) override them.
        let keys = ["connect_timeout", "fallback_application_name", "client_encoding", "options", "dbname"]
        let values = ["10", "rewind", "UTF8", "-c client_min_messages=warning", url.connection]
        connection = PGConnection.withCStrings(keys) { k in
            PGConnection.withCStrings(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            let message = connection.map { PGConnection.message(PQerrorMessage($0)) } ?? "out of memory"
            if let connection { PQfinish(connection) }
            self.connection = nil
            throw StoreError("\(url.redacted): cannot connect to the PostgreSQL server: \(message)")
        }
    }

    deinit { if let connection { PQfinish(connection) } }

    static func message(_ p: UnsafePointer<CChar>?) -> String {
        guard let p else { return "no message" }
        return String(cString: p).trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: "; ")
            .replacingOccurrences(of: "\t", with: "")
    }

    static func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
        var pointers: [UnsafePointer<CChar>?] = strings.map { UnsafePointer(strdup($0)) }
        pointers.append(nil)
        defer { for p in pointers { free(UnsafeMutablePointer(mutating: p)) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    var isLost: Bool { connection.map { PQstatus($0) != CONNECTION_OK } ?? true }

    /// Reconnects after the server closed the connection (a restart, a network failure).
    func reset() throws {
        guard let connection else { throw StoreError("\(url.redacted): no connection") }
        PQreset(connection)
        guard PQstatus(connection) == CONNECTION_OK else {
            throw StoreError("\(url.redacted): the connection to the PostgreSQL server was lost and cannot be made again: \(PGConnection.message(PQerrorMessage(connection)))")
        }
    }

    /// The failure of `result` (or of the connection) as a `StoreError`.
    private func failure(_ result: OpaquePointer?, doing what: String) -> StoreError {
        guard let connection else { return StoreError("\(url.redacted): no connection") }
        if PQstatus(connection) != CONNECTION_OK {
            return StoreError("\(url.redacted): cannot \(what): the connection to the PostgreSQL server was lost (\(PGConnection.message(PQerrorMessage(connection))))",
                              isConnectionLost: true)
        }
        // The server's own sentence and hint, not the query text with a caret under it.
        var text = result.map { PGConnection.message(PQresultErrorMessage($0)) } ?? PGConnection.message(PQerrorMessage(connection))
        if let result, let primary = PQresultErrorField(result, 77 /* PG_DIAG_MESSAGE_PRIMARY */) {
            text = String(cString: primary)
            if let hint = PQresultErrorField(result, 72 /* PG_DIAG_MESSAGE_HINT */) { text += " (\(String(cString: hint)))" }
        }
        let state = result.flatMap { PQresultErrorField($0, 67 /* PG_DIAG_SQLSTATE */) }.map { String(cString: $0) }
        return StoreError("\(url.redacted): cannot \(what): \(text)", sqlState: state)
    }

    /// Runs one statement with its parameters bound; returns its rows.
    @discardableResult
    func query(_ sql: String, _ parameters: [PGValue] = [], doing what: String = "read the store") throws -> PGResult {
        guard let connection else { throw StoreError("\(url.redacted): no connection") }
        var buffers: [[UInt8]?] = []
        var formats: [Int32] = []
        for p in parameters {
            switch p {
            case .int(let n): buffers.append(Array("\(n)".utf8) + [0]); formats.append(0)
            case .text(let s): buffers.append(Array(s.utf8) + [0]); formats.append(0)
            case .bytes(let b): buffers.append(b); formats.append(1)
            case .null: buffers.append(nil); formats.append(0)
            }
        }
        let lengths = buffers.map { Int32($0?.count ?? 0) }
        let result: OpaquePointer? = withPointers(buffers) { values in
            PQexecParams(connection, sql, Int32(parameters.count), nil, values, lengths, formats, 0)
        }
        let status = result.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        guard let result, status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let error = failure(result, doing: what)
            if let result { PQclear(result) }
            throw error
        }
        return PGResult(result)
    }

    /// Runs statements without parameters (a migration script, `BEGIN`, `COMMIT`).
    func execute(_ sql: String, doing what: String = "write the store") throws {
        guard let connection else { throw StoreError("\(url.redacted): no connection") }
        let result = PQexec(connection, sql)
        defer { if let result { PQclear(result) } }
        let status = result.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else { throw failure(result, doing: what) }
    }

    private func withPointers<T>(_ buffers: [[UInt8]?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> T) -> T {
        var pointers: [UnsafePointer<CChar>?] = []
        var owned: [UnsafeMutablePointer<UInt8>] = []
        for b in buffers {
            guard let b else { pointers.append(nil); continue }
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, b.count))
            p.initialize(from: b, count: b.count)
            owned.append(p)
            pointers.append(UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))
        }
        defer { for p in owned { p.deallocate() } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if !isLost { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// `COPY … FROM STDIN` (text format): `fill` writes rows into the buffer, which is sent in
    /// pieces of about 1 MB; returns the rows the server took.
    func copyIn(_ sql: String, _ fill: (_ send: (inout [UInt8]) throws -> Void) throws -> Void) throws {
        guard let connection else { throw StoreError("\(url.redacted): no connection") }
        let start = PQexec(connection, sql)
        guard let start, PQresultStatus(start) == PGRES_COPY_IN else {
            let error = failure(start, doing: "copy rows into the store")
            if let start { PQclear(start) }
            throw error
        }
        PQclear(start)
        var failed: StoreError?
        do {
            try fill { buffer in
                guard !buffer.isEmpty else { return }
                let rc = buffer.withUnsafeBytes { PQputCopyData(connection, $0.baseAddress!.assumingMemoryBound(to: CChar.self), Int32($0.count)) }
                buffer.removeAll(keepingCapacity: true)
                guard rc == 1 else { throw self.failure(nil, doing: "copy rows into the store") }
            }
        } catch let e as StoreError {
            failed = e
        }
        _ = PQputCopyEnd(connection, failed == nil ? nil : "rewind stopped the copy")
        var error: StoreError? = failed
        while let r = PQgetResult(connection) {
            if PQresultStatus(r) != PGRES_COMMAND_OK, error == nil { error = failure(r, doing: "copy rows into the store") }
            PQclear(r)
        }
        if let error { throw error }
    }

    /// The server's process id of this connection (tests end it to simulate a lost connection).
    var backendPID: Int32 { connection.map { PQbackendPID($0) } ?? 0 }
}

/// Rows in `COPY … FROM STDIN (FORMAT binary)`: a header, per row its field count and each field
/// as a length and its bytes in network order (-1: NULL), then a trailer.
enum CopyBinary {
    static func header(_ out: inout [UInt8]) {
        out += [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00]  // PGCOPY\n\377\r\n\0
        out += [0, 0, 0, 0, 0, 0, 0, 0]  // flags, header extension length
    }

    static func trailer(_ out: inout [UInt8]) { out += [0xFF, 0xFF] }

    @inline(__always) static func fields(_ n: Int16, _ out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: n >> 8)); out.append(UInt8(truncatingIfNeeded: n))
    }

    @inline(__always) static func be32(_ n: Int32, _ out: inout [UInt8]) {
        let u = UInt32(bitPattern: n)
        out.append(UInt8(truncatingIfNeeded: u >> 24)); out.append(UInt8(truncatingIfNeeded: u >> 16))
        out.append(UInt8(truncatingIfNeeded: u >> 8)); out.append(UInt8(truncatingIfNeeded: u))
    }

    @inline(__always) static func int32(_ n: Int32, _ out: inout [UInt8]) {
        be32(4, &out)
        be32(n, &out)
    }

    @inline(__always) static func int64(_ n: Int64, _ out: inout [UInt8]) {
        be32(8, &out)
        let u = UInt64(bitPattern: n)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: u >> UInt64(shift))) }
    }

    @inline(__always) static func text(_ b: UnsafeBufferPointer<UInt8>?, _ out: inout [UInt8]) {
        guard let b else { be32(-1, &out); return }
        be32(Int32(b.count), &out)
        out.append(contentsOf: b)
    }

    /// A name or id: its bytes, `PGName`-escaped when it holds `\` or U+0000.
    static func name(_ b: UnsafeBufferPointer<UInt8>, _ out: inout [UInt8]) {
        guard let escaped = PGName.escape(b) else { text(b, &out); return }
        escaped.withUnsafeBufferPointer { text($0, &out) }
    }

    static func name(_ s: String, _ out: inout [UInt8]) {
        var s = s
        s.withUTF8 { name($0, &out) }
    }
}
