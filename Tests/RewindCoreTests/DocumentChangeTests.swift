import Foundation
import Testing
@testable import RewindCore

/// A change as the index keeps it: its text reads back as the same change, and applying it makes
/// the fold's document again.
@Suite struct DocumentChangeTests {
    @Test func everyKindReadsBackFromItsText() throws {
        let odd = ["a/b", "~0", "\u{0}", "\"q\"", "caf\u{e9}", "cafe\u{301}", ""]
        let changes: [DocumentChange] = [
            .ops([.set(odd, .object(["x": .int(1)])), .inc(["n"], .double(0.5)), .unset(["gone"]), .append(["list"], .string("\u{1b}[31m")),
                  .merge(.object(["m": .null])), .patch(.string("whole")), .delete, .ensure]),
            .ops([]),
            .replace(nil),
            .replace(.array([.bool(true), .null])),
        ]
        for change in changes {
            var text: [UInt8] = []
            change.write(to: &text)
            let back = text.withUnsafeBufferPointer { DocumentChange(text: $0) }
            #expect(back == change, "\(String(decoding: text, as: UTF8.self))")
        }
        for bad in ["", "{}", #"{"r":1,"s":2}"#, "[1]", #"[["s"]]"#, #"[["s",[1],2]]"#, #"[["z"]]"#, #"[["d",1]]"#] {
            #expect(Array(bad.utf8).withUnsafeBufferPointer { DocumentChange(text: $0) } == nil, "\(bad)")
        }
    }

    @Test func applyingTheFoldsChangeMakesTheFoldsDocument() throws {
        let rules = try Rules.parse(yaml: """
            services:
              s:
                T:
                  ops:
                    - set: /a/b
                      value: $.data.v
                    - inc: /n
                      by: $.data.v
                    - append: /l
                      value: $.id
                    - unset: /gone
                    - inc: /n
                      by: $.data.missing
                Del:
                  ops:
                    - delete: true
                    - set: /again
                      value: 1
                Gone:
                  ops:
                    - delete: true
                    - inc: /n
                      by: -$.data.s
            """, file: "r.rules.yaml")
        let fold = Fold(rules: rules)
        var doc: JSONValue? = .object(["gone": .int(1), "keep": .string("k")])
        for (i, type) in ["T", "T", "Del", "T", "U", "Gone", "T"].enumerated() {
            let e = Event(id: "e\(i)", ts: Timestamp(nanoseconds: Int64(i)), tsText: "2026-01-01T00:00:0\(i)Z", service: "s", stream: "x",
                          type: type, data: .object(["v": .int(Int64(i + 1)), "s": .string("not a number")]), metaText: nil, extraText: nil, line: i + 1)
            var replayed = doc
            var issues: [FoldIssue] = []
            let change = fold.apply(e, rule: rules.rule(service: "s", type: type), toDocument: &replayed, issues: &issues)
            var text: [UInt8] = []
            change.write(to: &text)
            var applied = doc
            try #require(text.withUnsafeBufferPointer { DocumentChange(text: $0) }).apply(to: &applied)
            #expect(applied == replayed, "event \(i) (\(type))")
            // An op whose value cannot be made still leaves a document (`{}` after a delete).
            if type == "Gone" { #expect(replayed == .emptyObject && issues.count == 1) }
            doc = replayed
        }
    }
}
