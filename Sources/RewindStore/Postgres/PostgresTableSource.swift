import Foundation
import RewindCore

/// An event table another program keeps in PostgreSQL, read without writing to it, converted to
/// the SPEC log: `postgres://…?preset=message-db` (or `marten`, `eventuous`), or any table by
/// `?table=SCHEMA.TABLE&columns=position:COL,id:COL,ts:COL,stream:COL,type:COL,data:COL,meta:COL`
/// (`service:COL` optional; without it a stream's service is its category, the part of its name
/// before the first `-`, as Message DB defines it).
///
/// The rows, in global-position order, are appended as SPEC lines to a log in rewind's cache
/// folder (`sync`), which every command then opens like any log: a store and index beside it,
/// extended as the table grows. Each line carries `"source": {"table", "position"}`, and the next
/// read starts after the last complete line's position, so a read killed midway loses nothing and
/// repeats nothing. The session is read-only (`default_transaction_read_only`), every query a
/// `SELECT`; column and table names are checked identifiers, quoted.
public struct PostgresTableSource {
    public struct Mapping: Equatable, Sendable {
        public var table: String
        public var position: String
        public var id: String?
        public var ts: String
        public var stream: String
        public var type: String
        public var data: String?
        public var meta: String?
        public var service: String?
    }

    /// The schemas of the common event stores.
    public static let presets: [String: Mapping] = [
        // Message DB: message_store.messages (global_position, position, time, stream_name, type, data, metadata, id).
        "message-db": Mapping(table: "message_store.messages", position: "global_position", id: "id", ts: "time", stream: "stream_name",
                              type: "type", data: "data", meta: "metadata", service: nil),
        // Marten: mt_events (seq_id, id, stream_id, version, data, type, timestamp, …).
        "marten": Mapping(table: "public.mt_events", position: "seq_id", id: "id", ts: "timestamp", stream: "stream_id", type: "type",
                          data: "data", meta: nil, service: nil),
        // Eventuous: eventuous.messages (global_position, stream_id, stream_position, message_type, json_data, json_metadata, created).
        "eventuous": Mapping(table: "eventuous.messages", position: "global_position", id: nil, ts: "created", stream: "stream_id",
                             type: "message_type", data: "json_data", meta: "json_metadata", service: nil),
    ]

    public let url: PostgresURL
    public let mapping: Mapping

    public init(_ url: PostgresURL) throws {
        self.url = url
        var mapping: Mapping
        if let preset = url.preset {
            guard let m = PostgresTableSource.presets[preset] else {
                throw StoreError("preset=\(preset.escapingForTerminal): not a known event store; presets: \(PostgresTableSource.presets.keys.sorted().joined(separator: ", "))")
            }
            mapping = m
        } else {
            mapping = Mapping(table: "", position: "", id: nil, ts: "", stream: "", type: "", data: nil, meta: nil, service: nil)
        }
        if let table = url.table { mapping.table = table }
        if let columns = url.columns {
            for pair in columns.split(separator: ",") {
                let kv = pair.split(separator: ":", maxSplits: 1).map(String.init)
                guard kv.count == 2 else { throw StoreError("columns=\(columns.escapingForTerminal): give FIELD:COLUMN pairs, e.g. ts:created") }
                switch kv[0] {
                case "position": mapping.position = kv[1]
                case "id": mapping.id = kv[1]
                case "ts": mapping.ts = kv[1]
                case "stream": mapping.stream = kv[1]
                case "type": mapping.type = kv[1]
                case "data": mapping.data = kv[1]
                case "meta": mapping.meta = kv[1]
                case "service": mapping.service = kv[1]
                default: throw StoreError("columns=: \(kv[0].escapingForTerminal) is not a field (position, id, ts, service, stream, type, data, meta)")
                }
            }
        }
        for (field, column) in [("position", mapping.position), ("ts", mapping.ts), ("stream", mapping.stream), ("type", mapping.type)] where column.isEmpty {
            throw StoreError("\(url.redacted): no column for \(field): give a preset (message-db, marten, eventuous) or columns=\(field):COLUMN,…")
        }
        let parts = mapping.table.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), parts.allSatisfy(PostgresURL.isIdentifier) else {
            throw StoreError("table=\(mapping.table.escapingForTerminal): give SCHEMA.TABLE or TABLE, plain identifiers")
        }
        for column in [mapping.position, mapping.ts, mapping.stream, mapping.type] + [mapping.id, mapping.data, mapping.meta, mapping.service].compactMap({ $0 })
        where !PostgresURL.isIdentifier(column) {
            throw StoreError("\(column.escapingForTerminal): a column name is letters, digits and _")
        }
        self.mapping = mapping
    }

    static func quoted(_ name: String) -> String {
        name.split(separator: ".").map { "\"\($0)\"" }.joined(separator: ".")
    }

    /// The SPEC log this table is read into (in rewind's cache folder, named by the server's URL
    /// and the table).
    public var logPath: String {
        var key = ContentHash()
        key.update(url.redacted)
        key.update(mapping.table)
        let table = String(mapping.table.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == ".") }.prefix(60))
        return LogOpener.cacheFolder() + "/table-\(table)-\(String(key.digest, radix: 16)).jsonl"
    }

    /// Appends the rows after the last one read to `logPath`; returns the path and the rows added.
    @discardableResult
    public func sync(chunk: Int = 20_000) throws -> (path: String, added: Int) {
        let path = logPath
        let (keep, after) = try PostgresTableSource.resume(path)
        let c = try PGConnection(url)
        try c.execute("SET default_transaction_read_only = on", doing: "open the table read-only")
        let m = mapping
        // Qualified by the table's alias: an output column of the same name (the ::text casts keep
        // the names) would otherwise win in ORDER BY, and sort positions as text (1, 10, 2, …).
        func col(_ name: String) -> String { "src.\"\(name)\"" }
        let table = PostgresTableSource.quoted(m.table)
        let select = [
            "\(col(m.position))::text",
            m.id.map { "\(col($0))::text" } ?? "NULL",
            "(extract(epoch from \(col(m.ts))) * 1000000)::bigint::text",
            "\(col(m.stream))::text",
            "\(col(m.type))::text",
            m.data.map { "\(col($0))::text" } ?? "NULL",
            m.meta.map { "\(col($0))::text" } ?? "NULL",
            m.service.map { "\(col($0))::text" } ?? "NULL",
        ].joined(separator: ", ")
        guard let handle = FileHandle(forWritingAtPath: path) ?? {
            FileManager.default.createFile(atPath: path, contents: nil)
            return FileHandle(forWritingAtPath: path)
        }() else { throw StoreError("\(path): cannot be written") }
        defer { try? handle.close() }
        // Only a line cut short is cut off: touching an unchanged log would make it look rewritten.
        let size = try handle.seekToEnd()
        if size != keep {
            try handle.truncate(atOffset: keep)
            try handle.seek(toOffset: keep)
        }
        var last = after, added = 0
        while true {
            let r: PGResult
            do {
                r = try c.query("SELECT \(select) FROM \(table) AS src WHERE \(col(m.position)) > $1 ORDER BY \(col(m.position)) LIMIT $2",
                                [.int(last), .int(Int64(chunk))], doing: "read the table \(m.table)")
            } catch let e as StoreError where e.sqlState == "42P01" || e.sqlState == "42703" || e.sqlState == "3F000" {
                throw StoreError("\(e.message) (the table and columns rewind reads: \(m.table): \(select.replacingOccurrences(of: "\"", with: "")))")
            }
            guard r.rows > 0 else { break }
            var out = [UInt8]()
            for i in 0..<r.rows {
                guard let position = r.int(i, 0) else { continue }
                PostgresTableSource.line(r, i, position: position, mapping: m, to: &out)
                last = position
            }
            handle.write(Data(out))
            added += r.rows
            if r.rows < chunk { break }
        }
        return (path, added)
    }

    /// Where the log ends in whole lines, and the position its last line read.
    static func resume(_ path: String) throws -> (keep: UInt64, after: Int64) {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return (0, Int64.min) }
        let bytes = [UInt8](data)
        var end = bytes.count
        while end > 0 && bytes[end - 1] != 10 { end -= 1 }  // a line cut short by a kill is read again
        var start = end - 1
        while start > 0 && bytes[start - 1] != 10 { start -= 1 }
        guard end > 0, start >= 0 else { return (0, Int64.min) }
        let parsed: JSONValue? = try? JSONParser.parse(bytes: Array(bytes[start..<(end - 1)]))
        guard case .object(let fields)? = parsed, case .object(let source)? = fields[JSONKey("source")],
              case .int(let position)? = source[JSONKey("position")] else {
            return (UInt64(end), Int64.min)
        }
        return (UInt64(end), position)
    }

    /// One row as a SPEC line.
    static func line(_ r: PGResult, _ i: Int, position: Int64, mapping m: Mapping, to out: inout [UInt8]) {
        func string(_ s: String) -> String { JSONValue.string(s).jsonText }
        func json(_ column: Int) -> String? {
            // JSON text as the server gives it; newlines (whitespace between tokens) kept off the line.
            r.string(i, column).map { $0.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ") }
        }
        let stream = r.string(i, 3) ?? ""
        let service = r.string(i, 7) ?? String(stream.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        var fields = ["\"id\":" + string(r.string(i, 1) ?? "\(m.table):\(position)")]
        if let micros = r.int(i, 2) {
            fields.append("\"ts\":" + string(Timestamp(nanoseconds: micros * 1000).rfc3339))
        } else {
            fields.append("\"ts\":null")  // rejected by the import, with its line: nothing is lost silently
        }
        fields.append("\"service\":" + string(service))
        fields.append("\"stream\":" + string(stream))
        fields.append("\"type\":" + string(r.string(i, 4) ?? ""))
        if let data = json(5) { fields.append("\"data\":" + data) }
        if let meta = json(6), meta != "null" { fields.append("\"meta\":" + meta) }
        fields.append("\"source\":{\"table\":" + string(m.table) + ",\"position\":\(position)}")
        out += Array(("{" + fields.joined(separator: ",") + "}\n").utf8)
    }
}
