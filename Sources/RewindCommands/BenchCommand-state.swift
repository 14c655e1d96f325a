import Foundation
import RewindCore
import RewindExplorer
import RewindStore

/// `rewind bench state` and `rewind bench explorer`: what a user waits for, end to end.
extension BenchCommand {
    /// The baseline a user would write in five minutes: fold the log (RFC 7386 merge patch,
    /// duplicates skipped, ordered by ts then line) and print one stream's document at T, as
    /// `rewind state --json` prints it.
    static let pythonFold = #"""
        import sys
        from datetime import datetime, timezone
        try:
            import orjson
            loads = orjson.loads
            def dumps(o): return orjson.dumps(o, option=orjson.OPT_SORT_KEYS).decode()
        except ImportError:
            import json
            loads = json.loads
            def dumps(o): return json.dumps(o, sort_keys=True, separators=(',', ':'), ensure_ascii=False)

        def ns(ts):
            if isinstance(ts, int):
                return ts * 1000000
            s, off = ts, 0
            if s[-1] in 'Zz':
                s = s[:-1]
            else:
                off = (1 if s[-6] == '+' else -1) * (int(s[-5:-3]) * 3600 + int(s[-2:]) * 60)
                s = s[:-6]
            frac = 0
            if '.' in s:
                s, f = s.split('.')
                frac = int((f + '000000000')[:9])
            dt = datetime.strptime(s, '%Y-%m-%dT%H:%M:%S').replace(tzinfo=timezone.utc)
            return (int(dt.timestamp()) - off) * 1000000000 + frac

        def merge(target, patch):
            if not isinstance(patch, dict):
                return patch
            if not isinstance(target, dict):
                target = {}
            for k, v in patch.items():
                if v is None:
                    target.pop(k, None)
                else:
                    target[k] = merge(target.get(k), v)
            return target

        log, at, service, stream = sys.argv[1:5]
        limit = ns(at)
        seen, mine, position = set(), [], 0
        with open(log, 'rb') as f:
            for i, line in enumerate(f):
                if not line.strip():
                    continue
                e = loads(line)
                if e['id'] in seen:
                    continue
                seen.add(e['id'])
                t = ns(e['ts'])
                if t <= limit:
                    position += 1
                    if e['service'] == service and e['stream'] == stream:
                        mine.append((t, i, e.get('data', {})))
        doc = None
        for _, _, data in sorted(mine, key=lambda x: (x[0], x[1])):
            doc = merge(doc, data)
        print(dumps({'at': at, 'position': position, 'services': {service: {stream: doc}} if doc is not None else {}}))
        """#

    func benchState(_ log: String) throws {
        // The store and index are built by a child process, and this one only maps the index to
        // pick questions: a child's peak memory counts its parent's until it runs its own program,
        // so this process stays small.
        let me = BenchCommand.executable
        try BenchCommand.runProcess(me, ["import", log])
        guard let image = try IndexFile.open(IndexMaintenance.indexPath(forStore: LogOpener.defaultStorePath(forLog: log))) else {
            throw UsageError(message: "\(log): no index was built")
        }
        let index = TimelineIndex(image: image)
        let count = index.count
        guard count > 0 else { return }
        // Questions: a random point in time, and a stream that has an event before it.
        var rng = SplitMix64(seed: seed &+ 17)
        var questions: [(at: String, service: String, stream: String)] = []
        for _ in 0..<queries {
            let p = 1 + Int(rng.next() % UInt64(count))
            let key = try index.streamKey(index.stream(at: Int(rng.next() % UInt64(p))))
            questions.append((index.timestamp(at: p - 1).rfc3339, key.service, key.stream))
        }
        var times: [Double] = [], answers: [String] = []
        var peak = 0
        for q in questions {
            let r = try BenchCommand.runProcess(me, ["state", log, "--at", q.at, "--service", q.service, "--stream", q.stream, "--json"])
            times.append(r.seconds)
            answers.append(r.output)
            peak = max(peak, r.peakMB)
        }
        let p50 = BenchCommand.percentile(times, 0.5), p99 = BenchCommand.percentile(times, 0.99)
        Output.out("state (rewind state LOG --at T --service S --stream X --json, a whole process, \(queries) random T and streams):")
        Output.out("  rewind state        p50 \(BenchCommand.duration(p50))  p99 \(BenchCommand.duration(p99))  best \(BenchCommand.duration(times.min()!)); "
                   + "peak memory \(peak) MB")
        if let postgres {
            // The same questions on the same log imported into PostgreSQL (schema rewind_bench_state).
            let url = postgres + (postgres.contains("?") ? "&" : "?") + "schema=rewind_bench_state"
            try BenchCommand.runProcess(me, ["import", log, "--to", url])
            var onServer: [Double] = []
            var same = 0
            for (q, answer) in zip(questions, answers) {
                let r = try BenchCommand.runProcess(me, ["state", url, "--at", q.at, "--service", q.service, "--stream", q.stream, "--json"])
                onServer.append(r.seconds)
                if r.output == answer { same += 1 }
            }
            Output.out("  rewind state on postgres  p50 \(BenchCommand.duration(BenchCommand.percentile(onServer, 0.5)))  p99 \(BenchCommand.duration(BenchCommand.percentile(onServer, 0.99)))  "
                       + "best \(BenchCommand.duration(onServer.min()!)); \(same) of \(questions.count) answers the same as on the file")
        }
        guard !noBaselines, let python = BenchCommand.which("python3") else { return }
        var baseline: [Double] = []
        var agree = 0
        let script = "\(dir)/fold.py"
        try BenchCommand.pythonFold.write(toFile: script, atomically: true, encoding: .utf8)
        let orjson = (try? BenchCommand.runProcess(python, ["-c", "import orjson"])) != nil
        for (q, answer) in zip(questions, answers).prefix(max(1, runs)) {
            let r = try BenchCommand.runProcess(python, [script, log, q.at, q.service, q.stream])
            baseline.append(r.seconds)
            if r.output == answer { agree += 1 }
        }
        let median = BenchCommand.percentile(baseline, 0.5)
        Output.out("  Python fold (\(orjson ? "orjson" : "json")) best \(BenchCommand.duration(baseline.min()!)), median \(BenchCommand.duration(median)) "
                   + "(\(baseline.count) questions, \(agree) answered exactly as rewind) → rewind is \(BenchCommand.ratio(median, p99)) faster at its p99, "
                   + "\(BenchCommand.ratio(median, p50)) at its p50")
    }

    func benchExplorer(_ log: String) throws {
        let store = LogOpener.defaultStorePath(forLog: log)
        for suffix in ["", "-journal", "-index", "-index.building", "-lock"] { try? FileManager.default.removeItem(atPath: store + suffix) }
        func frame() throws -> (Explorer, OpenedLog) {
            var problems = false
            let opened = try LogOptions.open(log, rules: nil, quiet: true, problems: &problems)
            opened.lock.unlock()
            let explorer = try Explorer(data: StoreExplorerData(opened: opened), width: 200, height: 60)
            _ = try ExplorerView.render(explorer)
            return (explorer, opened)
        }
        var start = DispatchTime.now().uptimeNanoseconds
        _ = try frame()
        let first = BenchCommand.seconds(since: start)
        var reopen: [Double] = []
        var explorer: Explorer!
        for _ in 0..<max(1, runs) {
            start = DispatchTime.now().uptimeNanoseconds
            explorer = try frame().0
            reopen.append(BenchCommand.seconds(since: start))
        }
        // Key press to finished frame: steps back and forth, then jumps of a minute, an hour, a day.
        let driver = ExplorerDriver(explorer: explorer)
        func press(_ keys: [Key]) throws -> [Double] {
            try keys.map { key in
                let start = DispatchTime.now().uptimeNanoseconds
                try driver.handle(key)
                try driver.poll()
                _ = try ExplorerView.render(explorer)
                return BenchCommand.seconds(since: start)
            }
        }
        let n = max(20, queries)
        let steps = try press(Array(repeating: .left, count: n) + Array(repeating: .right, count: n / 2) + Array(repeating: .down, count: n / 4))
        var rng = SplitMix64(seed: seed)
        let jumpKeys: [Key] = [.char("["), .char("]"), .char("{"), .char("}"), .char("("), .char(")")]
        let jumps = try press((0..<n).map { _ in jumpKeys[Int(rng.next() % UInt64(jumpKeys.count))] } + [.home, .end])
        // Every other key that starts no long work: the stream's events, the views, paging,
        // pinning, zooming, the filter typed letter by letter, the go-to prompt.
        let viewKeys: [Key] = [.char("S"), .char("s"), .char("S"), .enter, .enter, .char("d"), .char("d"), .char("O"), .char("O"),
                               .pageDown, .pageUp, .char("P"), .char("P"), .char("z"), .char("z"), .char("Z"), .char("Z"),
                               .char("f"), .char("a"), .char("c"), .char("c"), .escape, .escape,
                               .char("g"), .char("+"), .char("5"), .char("m"), .enter, .char("g"), .char("#"), .char("1"), .enter]
        var others: [Double] = []
        var slowest: [String: Double] = [:]
        for _ in 0..<max(1, n / viewKeys.count) {
            let times = try press(viewKeys)
            others += times
            for (key, t) in zip(viewKeys, times) { slowest[key.description] = max(slowest[key.description] ?? 0, t) }
        }
        let worst = slowest.sorted { $0.value > $1.value }.prefix(3).map { "\($0.key) \(BenchCommand.duration($0.value))" }.joined(separator: ", ")
        // Long work: the time until its status is on screen, and until Escape has stopped it.
        var statusTimes: [Double] = [], cancelTimes: [Double] = []
        for word in ["zzzz-no-such-word", "balance"] {
            _ = try press([.char("/")] + word.map { Key.char($0) })
            let start = DispatchTime.now().uptimeNanoseconds
            try driver.handle(.enter)
            let frame = try ExplorerView.render(explorer)
            statusTimes.append(BenchCommand.seconds(since: start))
            guard frame.text.contains("Esc cancels") || !driver.isBusy else { throw UsageError(message: "no status line for the search") }
            let cancel = DispatchTime.now().uptimeNanoseconds
            try driver.handle(.escape)
            _ = try ExplorerView.render(explorer)
            cancelTimes.append(BenchCommand.seconds(since: cancel))
        }
        Output.out("explorer (200×60, the terminal UI's work without a terminal):")
        Output.out("  first frame of a log never opened (import and index included): \(BenchCommand.duration(first))")
        Output.out("  first frame reopened: best \(BenchCommand.duration(reopen.min()!)), median \(BenchCommand.duration(BenchCommand.percentile(reopen, 0.5)))")
        Output.out("  key press to finished frame, stepping (\(steps.count) keys): p50 \(BenchCommand.duration(BenchCommand.percentile(steps, 0.5))), "
                   + "p99 \(BenchCommand.duration(BenchCommand.percentile(steps, 0.99)))")
        Output.out("  key press to finished frame, jumping (\(jumps.count) keys): p50 \(BenchCommand.duration(BenchCommand.percentile(jumps, 0.5))), "
                   + "p99 \(BenchCommand.duration(BenchCommand.percentile(jumps, 0.99)))")
        Output.out("  key press to finished frame, other keys (views, paging, filter, prompts; \(others.count) keys): "
                   + "p50 \(BenchCommand.duration(BenchCommand.percentile(others, 0.5))), p99 \(BenchCommand.duration(BenchCommand.percentile(others, 0.99))); "
                   + "slowest: \(worst)")
        Output.out("  long work (search): status on screen within \(BenchCommand.duration(statusTimes.max()!)), "
                   + "Escape answered within \(BenchCommand.duration(cancelTimes.max()!))")
        Output.out("  peak memory: \(BenchCommand.peakMegabytes()) MB")
    }
}
