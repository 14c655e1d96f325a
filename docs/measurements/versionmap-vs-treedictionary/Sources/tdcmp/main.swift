import Foundation
import HashTreeCollections

// Keyframes every K events over the real stream-id sequence of the 1M bank log: the heap each
// structure holds for all keyframes (mallinfo2), and the time to reach random positions.
let ids = try! String(contentsOfFile: "ids.txt", encoding: .utf8).split(separator: "\n").map { UInt32($0)! }
let K = 4096
func heap() -> Int {
    let statm = try! String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
    return Int(statm[1])! * 4096
}

func measure<M>(_ name: String, _ empty: M, _ set: (inout M, UInt32, UInt32) -> Void) {
    let before = heap()
    var live = empty
    var keyframes: [M] = [live]
    var start = Date()
    for (p, id) in ids.enumerated() {
        set(&live, id, UInt32(p + 1))
        if (p + 1) % K == 0 { keyframes.append(live) }
    }
    let build = Date().timeIntervalSince(start)
    let bytes = heap() - before
    var rng = SystemRandomNumberGenerator()
    var times: [Double] = []
    for _ in 0..<300 {
        let pos = Int.random(in: 0...ids.count, using: &rng)
        let k = pos / K
        start = Date()
        var m = keyframes[k]
        for p in (k * K)..<pos { set(&m, ids[p], UInt32(p + 1)) }
        times.append(Date().timeIntervalSince(start))
        _ = m
    }
    times.sort()
    print("\(name): keyframes + live map \(bytes / 1_000_000) MB (\(bytes / ids.count) B/event), build \(String(format: "%.2f", build)) s, reach p50 \(String(format: "%.0f", times[150] * 1e6)) µs p99 \(String(format: "%.0f", times[297] * 1e6)) µs (one update per event)")
    withExtendedLifetime(keyframes) {}
}

if CommandLine.arguments.last == "tree" {
    measure("TreeDictionary<UInt32, UInt32>", TreeDictionary<UInt32, UInt32>()) { $0[$1] = $2 }
} else {
    measure("VersionMap (dense-id trie)    ", VersionMap()) { $0.set($1, $2) }
}
