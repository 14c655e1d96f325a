import Testing
@testable import RewindCore

@Suite struct TimestampTests {
    @Test func parsesRFC3339WithOffsetsAndFractions() throws {
        let z = try Timestamp.parseRFC3339("2026-03-01T09:14:07Z")
        #expect(z.rfc3339 == "2026-03-01T09:14:07Z")
        let offset = try Timestamp.parseRFC3339("2026-03-01T11:14:07+02:00")
        #expect(offset == z)
        let negative = try Timestamp.parseRFC3339("2026-03-01T04:44:07-04:30")
        #expect(negative == z)
        let nanos = try Timestamp.parseRFC3339("2026-03-01T09:14:07.123456789Z")
        #expect(nanos.nanoseconds - z.nanoseconds == 123_456_789)
        #expect(nanos.rfc3339 == "2026-03-01T09:14:07.123456789Z")
        let one = try Timestamp.parseRFC3339("2026-03-01T09:14:07.5Z")
        #expect(one.rfc3339 == "2026-03-01T09:14:07.5Z")
        #expect(throws: TimestampError.self) { try Timestamp.parseRFC3339("2026-03-01T09:14:07.Z") }
    }

    @Test func epochMillisecondsAgree() throws {
        let t = try Timestamp.parse("1767225600000")
        #expect(t.rfc3339 == "2026-01-01T00:00:00Z")
        #expect(try Timestamp.parse("2026-01-01T00:00:00.001Z").nanoseconds == t.nanoseconds + 1_000_000)
        #expect(try Timestamp.parse("-1").rfc3339 == "1969-12-31T23:59:59.999Z")
    }

    @Test(arguments: ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-04-31T00:00:00Z",
                      "2025-02-29T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
                      "2026-01-01T00:00:60Z", "2026-01-01", "2026-01-01T00:00:00",
                      "2026-01-01T00:00:00.1234567890Z", "2026-01-01T00:00:00+2:00", "yesterday",
                      "9999-01-01T00:00:00Z", "2026-01-01T00:00:00Zjunk"])
    func rejectsImpossibleOrMalformed(_ text: String) {
        #expect(throws: TimestampError.self) { try Timestamp.parse(text) }
    }

    @Test func leapDayExistsInLeapYears() throws {
        #expect(throws: Never.self) { try Timestamp.parse("2024-02-29T12:00:00Z") }
        #expect(throws: Never.self) { try Timestamp.parse("2000-02-29T12:00:00Z") }
        #expect(throws: TimestampError.self) { try Timestamp.parse("1900-02-29T12:00:00Z") }
    }

    @Test func utcDays() throws {
        #expect(try Timestamp.parse("1970-01-02T00:00:00Z").utcDay == 1)
        #expect(try Timestamp.parse("1969-12-31T23:59:59Z").utcDay == -1)
    }

    /// The ends of the range work end to end: the first and last representable instants parse,
    /// print and parse back; day labels, sums and fractions never overflow.
    @Test func theEndsOfTheRange() throws {
        let first = try Timestamp.parse("1677-09-21T00:12:43.145224192Z")
        let last = try Timestamp.parse("2262-04-11T23:47:16.854775807Z")
        #expect(first == Timestamp.min && last == Timestamp.max)
        #expect(try Timestamp.parse(first.rfc3339) == first)
        #expect(try Timestamp.parse(last.rfc3339) == last)
        #expect(try Timestamp.parse("-9223372036854") == Timestamp(nanoseconds: -9_223_372_036_854_000_000))
        #expect(throws: TimestampError.self) { try Timestamp.parse("1677-09-21T00:12:43.145224191Z") }
        #expect(throws: TimestampError.self) { try Timestamp.parse("2262-04-11T23:47:16.854775808Z") }
        #expect(Timestamp.date(ofDay: first.utcDay) == "1677-09-21" && Timestamp.date(ofDay: last.utcDay) == "2262-04-11")
        #expect(Timestamp.date(ofDay: 0) == "1970-01-01")
        #expect(first.adding(seconds: -1) == first && last.adding(seconds: 86_400) == last && first.adding(seconds: .max) == last)
        #expect(first.fraction(from: first, to: last) == 0 && last.fraction(from: first, to: last) == 1)
        #expect(abs(Timestamp(nanoseconds: 0).fraction(from: first, to: last) - 0.5) < 0.01)
        #expect(Timestamp.between(first, last, fraction: 1) == last && Timestamp.between(first, last, fraction: 0) == first)
    }
}
