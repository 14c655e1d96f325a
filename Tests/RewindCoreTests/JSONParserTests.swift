import Foundation
import Testing
@testable import RewindCore

/// The shared JSONTestSuite: y_ accepted, n_ rejected, i_ either — never a crash.
@Suite struct JSONTestSuiteTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/testdata/jsontestsuite")

    static func cases(_ prefix: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".json") }.sorted()
    }

    static func bytes(_ name: String) -> [UInt8] {
        [UInt8]((try? Data(contentsOf: directory.appendingPathComponent(name))) ?? Data())
    }

    /// The suite sits beside the project on the development machine, not in a clone of it: run
    /// when it is there (the project's own cases in `JSONParserTests` cover the rules regardless).
    static var present: Bool { FileManager.default.fileExists(atPath: directory.path) }

    @Test(.enabled(if: present, "../shared/testdata/jsontestsuite is beside the project")) func suiteIsComplete() {
        #expect(Self.cases("y_").count > 90)
        #expect(Self.cases("n_").count > 180)
    }

    @Test(arguments: cases("y_")) func accepts(_ name: String) throws {
        let b = Self.bytes(name)
        #expect(throws: Never.self) { try JSONParser.parse(bytes: b) }
        b.withUnsafeBufferPointer { buf in
            #expect(throws: Never.self) { try JSONParser.validate(buf) }
        }
    }

    @Test(arguments: cases("n_")) func rejects(_ name: String) {
        let b = Self.bytes(name)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes: b) }
        b.withUnsafeBufferPointer { buf in
            #expect(throws: JSONParseError.self) { try JSONParser.validate(buf) }
        }
    }

    @Test(arguments: cases("i_")) func decidesWithoutCrashing(_ name: String) {
        let b = Self.bytes(name)
        let built = (try? JSONParser.parse(bytes: b)) != nil
        let validated = b.withUnsafeBufferPointer { (try? JSONParser.validate($0)) != nil }
        #expect(built == validated, "parse and validate must agree on \(name)")
    }
}

@Suite struct JSONParserTests {
    /// Reading one top-level member (what the fold asks of `meta`) agrees with parsing the whole
    /// object, on valid and invalid texts, repeated and escaped keys, deep nesting.
    @Test func oneMemberIsWhatTheWholeObjectSays() {
        var rng = SplitMix64(seed: 3)
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        let keys = [#""effect""#, #""\u0065ffect""#, #""effects""#, #""rewind""#, #""e""#, #""""#]
        let values = [#""external""#, "1", "null", #"{"effect":"external"}"#, "[1,{}]", #""ext\u0065rnal""#, "tru", "{"]
        var texts = ["", "{}", " { } ", "[]", #"{"effect":"external"} x"#, #"{"effect":"external",}"#,
                     String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
                     #"{"effect":"# + String(repeating: "[", count: 510) + String(repeating: "]", count: 510) + "}",
                     #"{"effect":"# + String(repeating: "[", count: 511) + String(repeating: "]", count: 511) + "}"]
        for _ in 0..<3_000 {
            texts.append("{" + (0..<pick(4)).map { _ in keys[pick(keys.count)] + ":" + values[pick(values.count)] }.joined(separator: ",") + "}")
        }
        for var text in texts {
            let whole = (try? JSONParser.parse(text))?["effect"]
            let one = text.withUTF8 { JSONParser.member("effect", ofObject: $0) }
            #expect(one == whole, "\(text.prefix(80))")
        }
    }

    @Test func parsesValues() throws {
        let v = try JSONParser.parse(#"{"a": [1, -2.5, "x\u00e9\n", true, null], "b": {"c": 12345678901234}}"#)
        #expect(v["a"] == .array([.int(1), .double(-2.5), .string("xé\n"), .bool(true), .null]))
        #expect(v["b"]?["c"] == .int(12_345_678_901_234))
    }

    @Test func surrogatePairsDecode() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(throws: JSONParseError.self) { try JSONParser.parse(#""\ud83d""#) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse(#""\ude00""#) }
    }

    @Test func bigIntegersBecomeDoubles() throws {
        #expect(try JSONParser.parse("9223372036854775807") == .int(.max))
        #expect(try JSONParser.parse("-9223372036854775808") == .int(.min))
        #expect(try JSONParser.parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(throws: JSONParseError.self) { try JSONParser.parse("1e999") }
    }

    @Test func deepNestingIsRejectedNotAStackOverflow() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        let ok = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(throws: Never.self) { try JSONParser.parse(ok) }
    }

    @Test func invalidUTF8IsRejectedWithColumn() {
        let bad: [UInt8] = Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        do {
            _ = try JSONParser.parse(bytes: bad)
            Issue.record("accepted invalid UTF-8")
        } catch {
            #expect(error.message == "invalid UTF-8")
            #expect(error.offset == 6)
        }
    }

    @Test func numbersCompareByValue() {
        #expect(JSONValue.int(1) == .double(1.0))
        #expect(JSONValue.int(1) != .double(1.5))
        #expect(JSONValue.object(["a": .int(2)]) == .object(["a": .double(2)]))
    }

    @Test func serialisesCanonicallyAndEscapesControlCharacters() throws {
        let v = JSONValue.object(["b": .int(1), "a": .string("\u{1B}[31mred\u{7}"), "c": .double(2.5)])
        #expect(v.jsonText == #"{"a":"\u001b[31mred\u0007","b":1,"c":2.5}"#)
        #expect(try JSONParser.parse(v.jsonText) == v)
    }
}

@Suite struct JSONEscapingTests {
    @Test func everyControlCharacterIsEscapedAndRoundTrips() throws {
        var scalars = (0..<0x20).map { Unicode.Scalar($0)! } + [Unicode.Scalar(0x7F)!]
        scalars += (0x80..<0xA0).map { Unicode.Scalar($0)! }
        scalars += ["é", "€", "😀", "\"", "\\", "/", "a"]
        let text = String(String.UnicodeScalarView(scalars))
        let encoded = JSONValue.string(text).jsonText
        #expect(!encoded.unicodeScalars.contains { $0.value < 0x20 || (0x7F..<0xA0).contains($0.value) })
        #expect(encoded.contains("\\u001b") && encoded.contains("\\u009b") && encoded.contains("€😀"))
        #expect(try JSONParser.parse(encoded) == .string(text))
    }
}
