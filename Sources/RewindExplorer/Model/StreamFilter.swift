import Foundation
import RewindCore

/// The streams filter: every stream's `service/stream` name as bytes in one buffer (in the
/// directory's order), lowered too, scanned without making a `String`. A name matches when it
/// holds the text (listed first), or its letters in order (`ntfcA` finds
/// `notifications/customer-A`). Smart case, as the search: all lower case ignores ASCII case.
struct StreamFilter: Sendable {
    let sorted: [UInt32]
    private var rank: [Int32]
    private var bytes: [UInt8] = [], lowered: [UInt8] = []
    private var ends: [Int] = []
    var count: Int { sorted.count }

    init(index: TimelineIndex, sorted: [UInt32]) {
        self.sorted = sorted
        rank = [Int32](repeating: -1, count: index.streamCount)
        ends.reserveCapacity(sorted.count)
        for (r, id) in sorted.enumerated() {
            if Int(id) < rank.count { rank[Int(id)] = Int32(r) }
            _ = index.appendName(id, separator: UInt8(ascii: "/"), to: &bytes)
            ends.append(bytes.count)
        }
        lowered = bytes.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
    }

    /// The matches of `text`, among `narrowing` (a shorter text's matches) when given.
    func matches(_ text: String, among narrowing: [UInt32]? = nil, control: WorkControl? = nil) -> [UInt32] {
        let ignoresCase = !text.unicodeScalars.contains { $0.isASCII && $0.properties.isUppercase }
        let needle = Array(text.utf8)
        guard !needle.isEmpty else { return sorted }
        // In name order, whatever order the narrowed result was in: the same as a fresh scan.
        let ranks: [Int] = narrowing.map { $0.compactMap { Int($0) < rank.count && rank[Int($0)] >= 0 ? Int(rank[Int($0)]) : nil }.sorted() }
            ?? Array(sorted.indices)
        var contiguous: [UInt32] = [], scattered: [UInt32] = []
        (ignoresCase ? lowered : bytes).withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { n in
                for (k, r) in ranks.enumerated() {
                    if k & 0xFFFF == 0xFFFF { control?.report(done: k, total: ranks.count); if control?.isCancelled == true { return } }
                    let start = r == 0 ? 0 : ends[r - 1], end = ends[r]
                    var found = false
                    var i = start
                    while i + n.count <= end {
                        if h[i] == n[0] && memcmp(h.baseAddress! + i, n.baseAddress!, n.count) == 0 { found = true; break }
                        i += 1
                    }
                    if found { contiguous.append(sorted[r]); continue }
                    var j = 0
                    i = start
                    while i < end && j < n.count { if h[i] == n[j] { j += 1 }; i += 1 }
                    if j == n.count { scattered.append(sorted[r]) }
                }
            }
        }
        return contiguous + scattered
    }
}
