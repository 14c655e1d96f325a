import RewindCore

/// Random logs that exercise every op kind, duplicates, equal and backwards timestamps,
/// deletes and irreversible events.
public struct RandomLog {
    public static let rules = """
        services:
          a:
            Set:
              ops:
                - set: /x/y
                  value: $.data.v
            Inc:
              ops:
                - inc: /n
                  by: $.data.v
            Dec:
              ops:
                - inc: /n
                  by: -$.data.v
            Unset:
              ops:
                - unset: /x
            Append:
              ops:
                - append: /list
                  value: $.data
            Merge:
              ops:
                - merge: $.data
            Delete:
              ops:
                - delete: true
            Mixed:
              ops:
                - set: /when
                  value: $.ts
                - inc: /n
                  by: $.data.missing
                - append: /x
                  value: 1
          b:
            Email:
              irreversible: true
              ops:
                - append: /sent
                  value: $.data.to
        """

    public static func text(seed: UInt64, lines: Int) -> String {
        var rng = SplitMix64(seed: seed)
        func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
        var ts: Int64 = 1_767_225_600_000 + Int64(rng.next() % 1000)
        var out: [String] = []
        var ids: [String] = []
        for i in 0..<lines {
            switch rng.next() % 10 {
            case 0: break                                        // equal timestamp
            case 1: ts -= Int64(rng.next() % 5000)               // backwards
            case 2: ts += 86_400_000 / 3                          // crosses UTC days
            default: ts += Int64(rng.next() % 3000)
            }
            if !ids.isEmpty && rng.next() % 15 == 0 {            // duplicate delivery
                out.append(#"{"id":"\#(pick(ids))","ts":\#(ts),"service":"a","stream":"s0","type":"Set","data":{"v":-1}}"#)
                continue
            }
            let id = "e\(i)"
            ids.append(id)
            let service = rng.next() % 5 == 0 ? "b" : (rng.next() % 4 == 0 ? "c" : "a")
            let stream = "s\(rng.next() % 5)"
            let type = service == "b" ? pick(["Email", "Other"])
                : pick(["Set", "Inc", "Dec", "Unset", "Append", "Merge", "Delete", "Mixed", "Plain"])
            let v = pick(["1", "2.5", "-3", "\"text\"", "null", "{\"k\":1}", "[1,2]"])
            let data = pick([#"{"v":\#(v)}"#, #"{"v":\#(v),"w":{"z":\#(v)}}"#, #"{"to":"x@y"}"#, "{}", #"{"x":null,"n":4}"#])
            let meta = rng.next() % 7 == 0 ? #","meta":{"effect":"external"}"# : ""
            let tsText = rng.next() % 2 == 0 ? "\(ts)" : "\"\(Timestamp(nanoseconds: ts * 1_000_000).rfc3339)\""
            out.append(#"{"id":"\#(id)","ts":\#(tsText),"service":"\#(service)","stream":"\#(stream)","type":"\#(type)","data":\#(data)\#(meta)}"#)
        }
        return out.joined(separator: "\n") + "\n"
    }
}

