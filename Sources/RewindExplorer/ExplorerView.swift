import Foundation
import RewindCore

/// Draws the explorer into a screen buffer. Layout, top to bottom: header, timeline scrubber
/// (sparkline, then markers and the cursor), the panes (streams | events | document), and the
/// footer (keys, a message or the go-to prompt). The help overlay covers the panes.
public enum ExplorerView {
    public static func render(_ explorer: Explorer) throws -> ScreenBuffer {
        let s = explorer.state
        var b = ScreenBuffer(width: s.width, height: s.height, ascii: explorer.ascii)
        guard s.width >= 40, s.height >= 10 else {
            b.put(0, 0, "too small", .warning)
            b.put(0, 1, "need 40x10", .warning)
            return b
        }
        try header(explorer, &b)
        try scrubber(explorer, &b)
        let top = 4, bottom = s.height - 2
        let left = max(16, min(30, s.width / 5))
        let middle = (s.width - left) / 2
        try streamsPane(explorer, &b, x: 0, y: top, w: left - 1, h: bottom - top + 1)
        try eventsPane(explorer, &b, x: left, y: top, w: middle - 1, h: bottom - top + 1)
        try documentPane(explorer, &b, x: left + middle, y: top, w: s.width - left - middle, h: bottom - top + 1)
        for y in top...bottom {
            b.put(left - 1, y, b.glyph("│", "|"), .faint)
            b.put(left + middle - 1, y, b.glyph("│", "|"), .faint)
        }
        footer(explorer, &b)
        if s.mode == .help { help(&b) }
        return b
    }

    static func header(_ e: Explorer, _ b: inout ScreenBuffer) throws {
        let s = e.state
        b.fill(0, 0, s.width, " ", .selected)
        var text = " rewind  \(e.data.logName)  \(s.count) events  \(e.serviceCount) services  "
        if let t = try e.cursorTime() {
            text += (s.position == 0 ? "before " : "") + t.rfc3339
        } else {
            text += "empty log"
        }
        text += "  position \(s.position)/\(s.count)"
        if s.follow { text += "  FOLLOWING" }
        if let inv = s.invariant { text += s.breaks.contains(s.position) ? "  BREAKS: \(inv)" : "  invariant: \(inv)" }
        b.put(0, 0, text, CellStyle(bold: true, reverse: true), maxWidth: s.width)
    }

    /// Row 1: event density as a sparkline; row 2: markers and the cursor.
    static func scrubber(_ e: Explorer, _ b: inout ScreenBuffer) throws {
        let s = e.state
        let w = s.width
        let density = try e.data.density(buckets: w)
        let peak = max(1, density.max() ?? 1)
        let levels: [String] = b.ascii ? [" ", ".", ":", "|", "#"] : [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        for (x, n) in density.enumerated() {
            let level = n == 0 ? 0 : 1 + (n * (levels.count - 2)) / peak
            b.put(x, 1, levels[min(level, levels.count - 1)], .faint)
        }
        guard s.count > 0 else { return }
        for (x, kind) in try e.markerCells() {
            let (glyph, style): (String, CellStyle) = switch kind {
            case .irreversible: ("!", .warning)
            case .backwards: ("<", .marker)
            case .duplicate: ("=", .marker)
            }
            b.put(x, 2, glyph, style)
        }
        for x in try e.scrubberColumns("matches", Array(s.matches.prefix(5000))) { b.put(x, 2, "*", .title) }
        for x in try e.scrubberColumns("breaks", s.breaks.filter { $0 > 0 }.map { $0 - 1 }) { b.put(x, 2, "x", .warning) }
        if let mark = s.mark { b.put(try e.scrubberColumns("mark", [max(0, mark - 1)])[0], 2, "M", .title) }
        let cursor = try e.scrubberColumns("cursor", [max(0, s.position - 1)])[0]
        b.put(cursor, 2, b.glyph("▲", "^"), .title)
        b.setStyle(cursor, 1, 1, .selected)
        b.put(0, 3, "streams", .title)
    }

    /// Each service's header with its stream count, then its streams; only the rows on screen are
    /// built, around the selected stream (a state can hold a million streams).
    static func streamsPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        let rows = e.streamRows(height: h)
        guard !rows.isEmpty else {
            b.put(x, y, "(no state yet)", .faint, maxWidth: w)
            return
        }
        for (line, row) in rows.enumerated() {
            switch row {
            case .service(let name, let count):
                b.put(x, y + line, "\(name) (\(count))", .title, maxWidth: w)
            case .stream(let id):
                let key = try e.data.index.streamKey(id)
                b.put(x, y + line, "  " + key.stream, key == e.state.selected ? .selected : .plain, maxWidth: w)
            }
        }
    }

    /// HH:MM:SS.mmm in UTC (the header shows the full RFC 3339 time of the cursor).
    static func clock(_ t: Timestamp) -> String {
        let ns = t.nanoseconds
        let day: Int64 = 86_400_000_000_000
        let ofDay = ((ns % day) + day) % day
        let ms = ofDay / 1_000_000
        func pad(_ v: Int64, _ w: Int) -> String { String(repeating: "0", count: max(0, w - String(v).count)) + String(v) }
        return "\(pad(ms / 3_600_000, 2)):\(pad(ms / 60_000 % 60, 2)):\(pad(ms / 1000 % 60, 2)).\(pad(ms % 1000, 3))"
    }

    static func eventsPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        let s = e.state
        b.put(x, y - 1, "events", .title)
        guard s.count > 0 else { b.put(x, y, "(no events)", .faint); return }
        let current = s.position - 1
        let start = max(0, min(current - h / 2, s.count - h))
        let matched = Set(s.matches.filter { $0 >= start && $0 < start + h })
        for row in 0..<h {
            let i = start + row
            guard i < s.count else { break }
            let ev = try e.data.event(at: i)
            let text = "\(clock(ev.ts)) \(ev.type)  \(ev.service)/\(ev.stream)"
            let isMatch = matched.contains(i)
            let style: CellStyle = i == current ? .selected : (isMatch ? .title : (i > current ? .faint : .plain))
            if i == current { b.fill(x, y + row, w, " ", .selected) }
            b.put(x, y + row, text, style, maxWidth: w)
        }
    }

    static func diffPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        let title = e.state.mark.map { "changes since the mark (position \($0))" } ?? "changes of the last event"
        b.put(x, y - 1, title, .title, maxWidth: w)
        let changes = try e.changes()
        if changes.isEmpty { b.put(x, y, "(no changes)", .faint, maxWidth: w) }
        for (i, c) in changes.prefix(h).enumerated() {
            let style: CellStyle = switch c.kind {
            case .added: .changed
            case .removed: .warning
            case .changed: CellStyle(bold: true, role: .accent)
            }
            b.put(x, y + i, c.description, style, maxWidth: w)
        }
        if changes.count > h { b.put(x, y + h - 1, "… \(changes.count - h + 1) more changes", .faint, maxWidth: w) }
    }

    static func strategiesPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        b.put(x, y - 1, "strategies at position \(e.state.position) (\(e.state.drivingStrategy) drives the view)", .title, maxWidth: w)
        let outcomes = try e.strategies()
        var row = 0
        for o in outcomes {
            let ms = String(format: "%8.3f ms", o.seconds * 1000)
            let line = o.name.padding(toLength: 7, withPad: " ", startingAt: 0) + String(format: "%7d applied ", o.applied) + ms
                + (o.agrees ? "  agrees" : "  DISAGREES")
            b.put(x, y + row, line, o.agrees ? (o.name == e.state.drivingStrategy ? .title : .plain) : .warning, maxWidth: w)
            row += 1
        }
        let crossedPositions = outcomes.first { $0.name == "undo" }?.crossed ?? []
        let crossed = try crossedPositions.prefix(h).map { try e.data.event(at: $0) }
        row += 1
        if crossed.isEmpty {
            b.put(x, y + row, "undo crosses no irreversible event from the head to here", .faint, maxWidth: w)
        } else {
            b.put(x, y + row, "undo crosses \(crossedPositions.count) irreversible event\(crossedPositions.count == 1 ? "" : "s") (rewound, not undone):", .warning, maxWidth: w)
            for t in crossed where row + 2 < h {
                row += 1
                b.put(x, y + row, "  line \(t.line): \(t.id) \(t.service)/\(t.stream) \(t.type)", .plain, maxWidth: w)
            }
        }
    }

    /// A view with nothing to show: its title and why.
    static func emptyPane(_ b: inout ScreenBuffer, x: Int, y: Int, w: Int, title: String, _ why: String) {
        b.put(x, y - 1, title, .title, maxWidth: w)
        b.put(x, y, why, .faint, maxWidth: w)
    }

    /// The causation view: causes above the event at the cursor (►), consequences below it.
    static func causationPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        let nodes = try e.causation()
        guard let here = nodes.first(where: \.isCursor) else {
            return emptyPane(&b, x: x, y: y, w: w, title: "causation", "(no event at the cursor)")
        }
        b.put(x, y - 1, "causation of \(here.event.id) (o: back)", .title, maxWidth: w)
        if nodes.count == 1 {
            b.put(x, y, "► \(here.event.id) \(here.event.service)/\(here.event.stream) \(here.event.type)", .selected, maxWidth: w)
            b.put(x, y + 1, "no meta.causationId links it to other events", .faint, maxWidth: w)
            return
        }
        for (row, n) in nodes.enumerated() where row < h {
            let indent = String(repeating: " ", count: min(2 * n.depth, max(0, w / 2)))
            let text = indent + (n.isCursor ? "► " : "  ") + "\(n.event.id) \(n.event.service)/\(n.event.stream) \(n.event.type)"
            b.put(x, y + row, text, n.isCursor ? .selected : .plain, maxWidth: w)
        }
        if nodes.count > h { b.put(x, y + h - 1, "… \(nodes.count - h + 1) more", .faint, maxWidth: w) }
    }

    /// The saga view: its outcome and flags, then every step in timeline order.
    static func sagaPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        guard let saga = try e.saga() else {
            return emptyPane(&b, x: x, y: y, w: w, title: "saga", "this event is not part of a saga (no meta.sagaId); A: the next saga")
        }
        b.put(x, y - 1, "saga \(saga.id): \(saga.outcome), \(saga.steps.count) events (a: back, A: next)", .title, maxWidth: w)
        var row = 0
        for flag in saga.flags where row < h {
            b.put(x, y + row, "! " + flag, .warning, maxWidth: w)
            row += 1
        }
        let cursor = e.state.position - 1
        for step in saga.steps where row < h {
            let t = step.event.ts.rfc3339
            let time = t.count >= 19 ? String(t.dropFirst(11)) : t
            let line = (step.position == cursor ? "► " : "  ") + time + " " + step.event.type + " " + step.event.service + "/" + step.event.stream
                + (step.command.isEmpty ? "" : "  " + step.command) + (step.attempt > 1 ? "  attempt \(step.attempt)" : "")
            b.put(x, y + row, line, step.position == cursor ? .selected : step.isCompensation ? .warning : .plain, maxWidth: w)
            row += 1
        }
    }

    /// The deliveries view: what each delivery of the cursor event's message left in the log.
    static func deliveriesPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        guard let report = try e.deliveries() else {
            return emptyPane(&b, x: x, y: y, w: w, title: "deliveries", "no message caused this event (no meta.messageId)")
        }
        b.put(x, y - 1, "deliveries of \(report.messageId) (w: back)", .title, maxWidth: w)
        let attempts = report.rows.map(\.attempt).max() ?? 1
        let summary = "\(report.rows.count) deliver\(report.rows.count == 1 ? "y" : "ies") left events; \(report.applied) applied; highest attempt \(attempts)"
        b.put(x, y, summary, report.applied > 1 ? .warning : .plain, maxWidth: w)
        var row = 1
        if report.applied > 1 { b.put(x, y + row, "! applied \(report.applied) times: the effect was not deduplicated", .warning, maxWidth: w); row += 1 }
        let cursor = e.state.position - 1
        for r in report.rows where row < h {
            let line = (r.position == cursor ? "► " : "  ") + "attempt \(r.attempt)  \(r.consumer)  \(r.type)  \(r.outcome)  \(r.id)"
            b.put(x, y + row, line, r.position == cursor ? .selected : r.outcome == "applied" ? .plain : .faint, maxWidth: w)
            row += 1
        }
        if row < h { b.put(x, y + row, "(deliveries that crashed or lost their ack left no event)", .faint, maxWidth: w) }
    }

    /// The projection-lag view: the largest lag per time bucket, as bars, over the log's span.
    static func lagPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        let report = try e.lag(width: max(1, w))
        b.put(x, y - 1, "read-model lag (L: back)", .title, maxWidth: w)
        guard report.events > 0 else {
            return emptyPane(&b, x: x, y: y, w: w, title: "read-model lag (L: back)", "no event reports data.lagMs")
        }
        let counted = report.found > report.events ? "\(report.events) of \(report.found) events (sampled)" : "\(report.events) events"
        b.put(x, y, "\(counted) report lagMs: median \(report.median) ms, max \(report.max) ms at \(report.maxAt?.rfc3339 ?? "?")", .plain, maxWidth: w)
        let rows = max(1, min(8, h - 2))
        let glyphs = b.ascii ? [" ", ".", ":", "|"] : [" ", "▂", "▄", "▆", "█"]
        for (i, v) in report.buckets.enumerated() {
            guard let v else { continue }
            let height = report.max == 0 ? 0 : Double(v) / Double(report.max) * Double(rows)
            for r in 0..<rows {
                let fill = height - Double(rows - 1 - r)
                guard fill > 0 else { continue }
                let level = fill >= 1 ? glyphs.count - 1 : max(1, Int(fill * Double(glyphs.count - 1)))
                b.put(x + i, y + 1 + r, glyphs[level], v == report.max ? .warning : .plain, maxWidth: 1)
            }
        }
    }

    static func documentPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        if e.state.showDeliveries { return try deliveriesPane(e, &b, x: x, y: y, w: w, h: h) }
        if e.state.showLag { return try lagPane(e, &b, x: x, y: y, w: w, h: h) }
        if e.state.showSaga { return try sagaPane(e, &b, x: x, y: y, w: w, h: h) }
        if e.state.showCausation { return try causationPane(e, &b, x: x, y: y, w: w, h: h) }
        if e.state.showStrategies { return try strategiesPane(e, &b, x: x, y: y, w: w, h: h) }
        if e.state.showDiff { return try diffPane(e, &b, x: x, y: y, w: w, h: h) }
        guard let key = e.state.selected, try e.selectedDocument() != nil else {
            b.put(x, y - 1, "document", .title)
            b.put(x, y, "(nothing selected)", .faint)
            return
        }
        b.put(x, y - 1, "\(key.service)/\(key.stream)", .title, maxWidth: w)
        // Fields the last step changed, when it changed this stream.
        var changed = Set<JSONKey>()
        if e.state.position > 0 {
            let t = try e.data.index.transition(at: e.state.position - 1)
            if t.key == key {
                let before = t.before?.objectValue ?? [:], after = t.after?.objectValue ?? [:]
                for k in Set(before.keys).union(after.keys) where before[k] != after[k] { changed.insert(k) }
            }
        }
        let rows = try e.documentRows()
        let cursor = min(e.state.treeRow, max(0, rows.count - 1))
        let offset = max(0, min(cursor - h / 2, rows.count - h))
        for (i, row) in rows.dropFirst(offset).prefix(h).enumerated() {
            let isCursor = e.state.focusOnDocument && offset + i == cursor
            let style: CellStyle = isCursor ? .selected : (row.depth > 0 && changed.contains(JSONKey(row.topKey)) ? .changed : .plain)
            b.put(x, y + i, String(repeating: "  ", count: row.depth) + row.label, style, maxWidth: w)
        }
        let lines = rows
        if lines.count > h && offset + h < lines.count { b.put(x, y + h - 1, "… \(lines.count - offset - h + 1) more rows", .faint, maxWidth: w) }
    }

    static func footer(_ e: Explorer, _ b: inout ScreenBuffer) {
        let y = e.state.height - 1
        if case .goto(let text) = e.state.mode {
            b.put(0, y, "go to (RFC 3339, epoch ms, start or end): " + text + "_", .title, maxWidth: e.state.width)
        } else if case .search(let text) = e.state.mode {
            b.put(0, y, "search (words, service:S stream:X type:T): " + text + "_", .title, maxWidth: e.state.width)
        } else if case .invariant(let text) = e.state.mode {
            b.put(0, y, "invariant (e.g. all(accounts/*/balance >= 0)): " + text + "_", .title, maxWidth: e.state.width)
        } else if let m = e.state.message {
            b.put(0, y, m, .warning, maxWidth: e.state.width)
        } else {
            b.put(0, y, "\(b.glyph("←/→", "h/l")) step  g go to  d diff  m mark  i invariant  ? all keys  q quit",
                  .faint, maxWidth: e.state.width)
        }
    }

    /// The help overlay, generated from `KeyBindings.all`.
    static func help(_ b: inout ScreenBuffer) {
        func keys(_ binding: Binding) -> String {
            binding.keys.map { key -> String in
                if b.ascii, case .right = key { return "Right" }
                if b.ascii, case .left = key { return "Left" }
                if b.ascii, case .up = key { return "Up" }
                if b.ascii, case .down = key { return "Down" }
                return key.description
            }.joined(separator: " ")
        }
        var rows: [(String, String)] = []
        var lastGroup: String?
        for binding in KeyBindings.all {
            if let group = binding.group, lastGroup.map({ $0.sameCodePoints(group) }) == true {
                rows[rows.count - 1].0 += "  " + keys(binding)
            } else {
                rows.append((keys(binding), binding.group ?? binding.help))
            }
            lastGroup = binding.group
        }
        let keyWidth = rows.map(\.0.count).max() ?? 0
        let w = min(b.width - 2, keyWidth + 3 + (rows.map(\.1.count).max() ?? 0) + 4)
        // Below the header when it fits; else over the whole screen, the title first to go.
        let fits = rows.count + 2 <= b.height - 1
        let titled = rows.count + 1 <= b.height
        let h = fits ? rows.count + 2 : b.height
        let x = max(1, (b.width - w) / 2), y = fits ? max(0, min(1, b.height - 1 - h)) : 0
        for row in 0..<h { b.fill(x, y + row, w, " ", .plain) }
        if titled { b.put(x + 2, y, "keys (any key closes this)", .title, maxWidth: w - 2) }
        let first = titled ? 1 : 0
        for (i, r) in rows.enumerated() where first + i < h {
            b.put(x + 2, y + first + i, r.0.padding(toLength: keyWidth, withPad: " ", startingAt: 0) + "   " + r.1, .plain, maxWidth: w - 3)
        }
    }
}
