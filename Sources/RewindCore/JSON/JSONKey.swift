import Foundation

/// A JSON string used as a key — an object's member name, a service, a stream, an event id —
/// compared and hashed as the sequence of code points it is (by its UTF-8 bytes).
///
/// Swift's `String ==` and `Hashable` follow Unicode canonical equivalence: `"caf\u{e9}"` and
/// `"cafe\u{301}"`, or `"\u{212a}"` (KELVIN SIGN) and `"K"`, are one `String` key. In JSON
/// they are different strings, and so two ids, two streams or two members of a document.
/// Every dictionary and comparison of text from outside goes through this type (or
/// `String.sameCodePoints`), never `String ==`.
public struct JSONKey: Hashable, Comparable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let string: String

    @inlinable public init(_ string: String) { self.string = string }
    public init(stringLiteral value: String) { string = value }

    public var description: String { string }

    public static func == (a: JSONKey, b: JSONKey) -> Bool { a.string.sameCodePoints(b.string) }

    public func hash(into hasher: inout Hasher) { hasher.combine(ContentHash.digest(of: string)) }
    /// What dictionaries call: the bytes' digest, seeded, without a second (SipHash) pass.
    public func _rawHashValue(seed: Int) -> Int { ContentHash.keyHash(ContentHash.digest(of: string), seed: seed) }

    /// By code points (UTF-8 bytes), the order of canonical text.
    public static func < (a: JSONKey, b: JSONKey) -> Bool { StreamOrder.less(a.string, b.string) }
}

extension String {
    /// Whether the two strings are the same sequence of code points (not merely canonically
    /// equivalent, as `==` decides).
    public func sameCodePoints(_ other: String) -> Bool {
        if let r = utf8.withContiguousStorageIfAvailable({ x in
            other.utf8.withContiguousStorageIfAvailable { y -> Bool in
                x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0)
            }
        }), let r { return r }
        return utf8.elementsEqual(other.utf8)
    }
}

extension String {
    /// Whether `needle`'s code points occur in this string's, in a row (a byte search of the
    /// UTF-8: a match never starts or ends inside a character's bytes, UTF-8 being self-synchronising).
    public func containsCodePoints(_ needle: String) -> Bool {
        var a = self, b = needle
        return a.withUTF8 { x in
            b.withUTF8 { y in
                guard !y.isEmpty else { return true }
                guard x.count >= y.count, let base = x.baseAddress else { return false }
                let first = Int32(y[0]), last = x.count - y.count
                var i = 0
                while i <= last {
                    guard let hit = memchr(base + i, first, last + 1 - i) else { return false }
                    let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    if memcmp(base + at, y.baseAddress!, y.count) == 0 { return true }
                    i = at + 1
                }
                return false
            }
        }
    }
}

extension Optional where Wrapped == String {
    /// `sameCodePoints` for optional strings: nil equals only nil.
    public func sameCodePoints(_ other: String?) -> Bool {
        switch (self, other) {
        case (nil, nil): return true
        case (let a?, let b?): return a.sameCodePoints(b)
        default: return false
        }
    }
}
