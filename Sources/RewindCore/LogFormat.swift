/// Input formats that importers convert, line by line, into SPEC §1 event lines.
public enum LogFormat: String, Sendable, CaseIterable {
    /// SPEC §1 JSON Lines: no conversion.
    case jsonl
    /// `kcat -J` envelopes: `{"topic","partition","offset","ts","key","payload"}`.
    case kcat
    /// Debezium change events: `{"payload": {"before","after","source","op","ts_ms"}}` or the bare payload.
    case debezium

    public enum Converted {
        case blank
        case line([UInt8])
        case rejected(String)
    }

    /// The format a line is written in, when it says so plainly: a SPEC §1 event (`id`, `ts`,
    /// `service`, `stream`, `type`), a kcat envelope (`topic`, `partition`, `offset`) or a
    /// Debezium change event (`op` beside `before`/`after`, bare or in a `payload`). Nil for
    /// anything else (a line that is not even JSON is left to the import to reject).
    public static func detect(_ line: UnsafeBufferPointer<UInt8>) -> LogFormat? {
        guard case .object(let o)? = try? JSONParser.parse(line) else { return nil }
        if ["id", "ts", "service", "stream", "type"].allSatisfy({ o[JSONKey($0)] != nil }) { return .jsonl }
        if o["topic"] != nil && o["partition"] != nil && o["offset"] != nil { return .kcat }
        let change = o["payload"]?.objectValue ?? o
        if change["op"] != nil && (change["before"] != nil || change["after"] != nil) { return .debezium }
        return nil
    }

    /// How a line of this format is described in messages.
    public var lineName: String {
        switch self {
        case .jsonl: return "a JSON Lines event (SPEC §1)"
        case .kcat: return "a kcat -J envelope"
        case .debezium: return "a Debezium change event"
        }
    }

    /// Converts one line of this format to one SPEC §1 line.
    public func convert(_ line: UnsafeBufferPointer<UInt8>) -> Converted {
        var p = JSONParser(line)
        p.skipWhitespace()
        if p.atEnd { return .blank }
        let value: JSONValue
        do throws(JSONParseError) {
            value = try JSONParser.parse(line)
        } catch {
            return .rejected("invalid JSON: \(error)")
        }
        guard case .object(let o) = value else { return .rejected("not a JSON object (the line is a \(value.kindName))") }
        let result: Result<JSONValue, RuleProblem>
        switch self {
        case .jsonl: return .line(Array(line))
        case .kcat: result = LogFormat.kcat(o)
        case .debezium: result = LogFormat.debezium(o)
        }
        switch result {
        case .success(let event):
            var out: [UInt8] = []
            event.write(to: &out)
            return .line(out)
        case .failure(let problem):
            return .rejected(problem.message)
        }
    }

    /// A kcat envelope. A payload that is itself a SPEC event is taken as it is (with the
    /// envelope's topic, partition, offset, key and headers added to `meta`); any other payload becomes the
    /// `data` of an event of service = topic, stream = key, id = topic-partition-offset.
    static func kcat(_ o: [JSONKey: JSONValue]) -> Result<JSONValue, RuleProblem> {
        guard case .string(let topic)? = o["topic"] else { return .failure(RuleProblem("kcat envelope without a \"topic\" string")) }
        guard case .int(let partition)? = o["partition"], case .int(let offset)? = o["offset"] else {
            return .failure(RuleProblem("kcat envelope without integer \"partition\" and \"offset\""))
        }
        var payload: JSONValue = .null
        switch o["payload"] {
        case .string(let text)?:
            payload = (try? JSONParser.parse(text)) ?? .string(text)
        case let other?:
            payload = other
        case nil:
            payload = .null
        }
        var meta: [JSONKey: JSONValue] = ["topic": .string(topic), "partition": .int(partition), "offset": .int(offset)]
        if let key = o["key"], !key.isNull { meta["key"] = key }
        // Record headers: kcat -J writes them as ["name", "value", …]; an object is taken as it is.
        switch o["headers"] {
        case .array(let items)?:
            guard items.count % 2 == 0 else { return .failure(RuleProblem("kcat \"headers\" must pair names with values")) }
            var headers: [JSONKey: JSONValue] = [:]
            for i in stride(from: 0, to: items.count, by: 2) {
                guard case .string(let name) = items[i] else { return .failure(RuleProblem("kcat header names must be strings")) }
                headers[JSONKey(name)] = items[i + 1]
            }
            meta["headers"] = .object(headers)
        case .object(let headers)?:
            meta["headers"] = .object(headers)
        case nil, .null?:
            break
        default:
            return .failure(RuleProblem("kcat \"headers\" must be an array of names and values"))
        }
        if case .object(var event) = payload, event["id"] != nil, event["type"] != nil, event["service"] != nil {
            if event["ts"] == nil, let ts = o["ts"] { event["ts"] = ts }
            var m = event["meta"]?.objectValue ?? [:]
            for (k, v) in meta where m[k] == nil { m[k] = v }
            event["meta"] = .object(m)
            return .success(.object(event))
        }
        guard let ts = o["ts"], case .int = ts else { return .failure(RuleProblem("kcat envelope without an integer \"ts\" (epoch ms)")) }
        let stream: String
        switch o["key"] {
        case .string(let k)?: stream = k
        case let k? where !k.isNull: stream = k.jsonText
        default: stream = "partition-\(partition)"
        }
        var data: JSONValue
        var type = "Message"
        switch payload {
        case .object(let p):
            data = .object(p)
            if case .string(let t)? = p["type"] { type = t }
        case .null:
            data = .emptyObject
            type = "Tombstone"
        default:
            data = .object(["value": payload])
        }
        // Debezium's outbox event router puts the outbox row's id (and, when configured, its
        // type) in headers: the id then names the event, so a relay's second delivery of it is
        // a duplicate, as it must be.
        var id = "\(topic)-\(partition)-\(offset)"
        if case .object(let headers)? = meta["headers"] {
            if case .string(let h)? = headers["id"] { id = h }
            if type == "Message" || type == "Tombstone", case .string(let t)? = headers["eventType"] ?? headers["type"] { type = t }
        }
        return .success(.object([
            "id": .string(id), "ts": ts, "service": .string(topic),
            "stream": .string(stream), "type": .string(type), "data": data, "meta": .object(meta),
        ]))
    }

    /// An outbox row's insert as the event it carries.
    static func outboxRow(_ row: [JSONKey: JSONValue], op: String, table: String, ts: JSONValue) -> Result<JSONValue, RuleProblem> {
        guard let idValue = row["id"], !idValue.isNull else { return .failure(RuleProblem("an outbox row without an \"id\"")) }
        let id = idValue.stringValue ?? idValue.jsonText
        let service = row["aggregatetype"]!.stringValue!
        let aggregate = row["aggregateid"]!
        let stream = aggregate.stringValue ?? aggregate.jsonText
        var data: JSONValue
        switch row["payload"]! {
        case .string(let text):
            data = (try? JSONParser.parse(text)) ?? .string(text)
        case let other:
            data = other
        }
        if case .object = data {} else { data = .object(["value": data]) }
        return .success(.object([
            "id": .string(id), "ts": ts, "service": .string(service), "stream": .string(stream), "type": row["type"]!,
            "data": data, "meta": .object(["op": .string(op), "table": .string(table), "outbox": .bool(true)]),
        ]))
    }

    /// A Debezium change event: service = table, stream = the row's `id` (or first column),
    /// type = Created / Updated / Deleted / Snapshot; the stream's document becomes the row after
    /// the change, and a delete removes it (a row image, `meta.rewind = "row-image"`).
    static func debezium(_ o: [JSONKey: JSONValue]) -> Result<JSONValue, RuleProblem> {
        var p = o
        if case .object(let inner)? = o["payload"], inner["op"] != nil { p = inner }
        guard case .string(let op)? = p["op"] else { return .failure(RuleProblem("Debezium event without an \"op\"")) }
        let source = p["source"]?.objectValue ?? [:]
        guard case .string(let table)? = source["table"] ?? source["collection"] else {
            return .failure(RuleProblem("Debezium event without source.table"))
        }
        guard let ts = source["ts_ms"] ?? p["ts_ms"], case .int = ts else {
            return .failure(RuleProblem("Debezium event without an integer source.ts_ms or ts_ms"))
        }
        let after = p["after"]?.objectValue
        let before = p["before"]?.objectValue
        let type: String
        switch op {
        case "c": type = "Created"
        case "u": type = "Updated"
        case "d": type = "Deleted"
        case "r": type = "Snapshot"
        default: return .failure(RuleProblem("Debezium op \"\(op)\" is not a row change"))
        }
        guard let row = after ?? before else { return .failure(RuleProblem("Debezium event without before or after")) }
        // A row of a transactional outbox table (the shape Debezium's outbox event router reads):
        // the row is an event of its own — id, aggregate type (the service), aggregate id (the
        // stream), type and payload — not a document.
        if case .string? = row["aggregatetype"], row["aggregateid"] != nil, case .string? = row["type"], row["payload"] != nil {
            guard op == "c" || op == "r", let after else {
                return .failure(RuleProblem("a delete or update of an outbox row (the outbox's housekeeping), not an event"))
            }
            return outboxRow(after, op: op, table: table, ts: ts)
        }
        let keyValue = row["id"] ?? row.keys.sorted().first.flatMap { row[$0] } ?? .null
        let stream: String = keyValue.stringValue ?? keyValue.jsonText
        // A row image: the document becomes the row after the change, and a delete removes it
        // (`meta.rewind = "row-image"`, see `Event.replacesDocument`).
        let data: JSONValue = op == "d" ? .emptyObject : .object(after ?? [:])
        let position = source["lsn"] ?? source["pos"] ?? source["change_lsn"] ?? ts
        var meta: [JSONKey: JSONValue] = ["rewind": .string("row-image"), "op": .string(op), "table": .string(table)]
        if op == "d" { meta["deleted"] = .bool(true) }
        if let db = source["db"] { meta["db"] = db }
        if let tx = source["txId"] { meta["txId"] = tx }
        return .success(.object([
            "id": .string("\(table)/\(stream)/\(op)/\(position.stringValue ?? position.jsonText)"), "ts": ts,
            "service": .string(table), "stream": .string(stream), "type": .string(type), "data": data,
            "meta": .object(meta),
        ]))
    }
}
