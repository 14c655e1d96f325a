import Foundation
import RewindCore

/// Draws the explorer into a screen buffer. Layout, top to bottom: the header; the timeline
/// (event density as a sparkline, then the markers and the cursor, then a legend counting each
/// kind of marker); the panes (streams | events | document or another view), each under its
/// title; the footer (a prompt, long work's status, a message, or the main keys). Overlays — a
/// line opened whole, the help — cover the panes.
public enum ExplorerView {
    public static func render(_ explorer: Explorer) throws -> ScreenBuffer {
        let s = explorer.state
        var b = ScreenBuffer(width: s.width, height: s.height, ascii: explorer.ascii)
        guard s.width >= 40, s.height >= 12 else {
            b.put(0, 0, "too small", .warning)
            b.put(0, 1, "need 40x12", .warning)
            return b
        }
        try header(explorer, &b)
        try scrubber(explorer, &b)
        let layout = Explorer.Layout(width: s.width, height: s.height)
        let top = layout.top, bottom = layout.bottom, left = layout.left, middle = layout.middle
        let h = bottom - top + 1
        try streamsPane(explorer, &b, x: 0, y: top, w: left - 1, h: h)
        try eventsPane(explorer, &b, x: left, y: top, w: middle - 1, h: h)
        try documentPane(explorer, &b, x: left + middle, y: top, w: s.width - left - middle, h: h)
        for y in (top - 1)...bottom {
            b.put(left - 1, y, b.glyph("│", "|"), .faint)
            b.put(left + middle - 1, y, b.glyph("│", "|"), .faint)
        }
        footer(explorer, &b)
        if let line = s.expanded { expanded(line, &b, top: top - 1, bottom: bottom) }
        if s.mode == .help { help(&b, offset: s.helpOffset) }
        return b
    }

    static func header(_ e: Explorer, _ b: inout ScreenBuffer) throws {
        let s = e.state
        b.fill(0, 0, s.width, " ", CellStyle(bold: true, reverse: true))
        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        // The time first (what a user scrubs for), then the position; fixed widths, so that nothing
        // to the right moves as they change (times to the millisecond; finer ones take more room).
        var text = " rewind  \(e.data.logName)  "
        let time: String
        if let t = try e.cursorTime() {
            time = (s.position == 0 ? "before " : "") + t.rfc3339
        } else {
            time = "empty log"
        }
        text += time + String(repeating: " ", count: max(0, 24 - time.count))
        let digits = String(s.count).count
        text += "  position " + String(repeating: " ", count: max(0, digits - String(s.position).count)) + "\(s.position)/\(s.count)"
        text += "  \(plural(e.serviceCount, "service"))"
        if s.follow { text += "  FOLLOWING" }
        if let inv = s.invariant { text += s.breaks.contains(s.position) ? "  BREAKS: \(inv)" : "  invariant: \(inv)" }
        b.clip(0, 0, text, CellStyle(bold: true, reverse: true), maxWidth: s.width)
    }

    /// Row 1: event density as a sparkline; row 2: irreversible events, the mark and the cursor;
    /// row 3: backwards timestamps, duplicates, breaks, matches; row 4: the legend.
    static func scrubber(_ e: Explorer, _ b: inout ScreenBuffer) throws {
        let s = e.state
        let w = s.width
        let density = try e.data.density(buckets: w, in: e.span)
        let peak = max(1, density.max() ?? 1)
        let levels: [String] = b.ascii ? [" ", ".", ":", "|", "#"] : [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        for (x, n) in density.enumerated() {
            let level = n == 0 ? 0 : 1 + (n * (levels.count - 2)) / peak
            b.put(x, 1, levels[min(level, levels.count - 1)], .faint)
        }
        guard s.count > 0 else { return }
        let (irreversible, cells, counts) = try e.markerCells()
        for x in irreversible { b.put(x, 2, "!", .warning) }
        for (x, kind) in cells { b.put(x, 3, kind == .backwards ? "<" : "=", .marker) }
        let matches = try e.scrubberColumns("matches", Array(s.matches.prefix(5000)))
        for x in matches.compactMap({ $0 }) { b.put(x, 3, "*", .match) }
        let breaks = try e.scrubberColumns("breaks", s.breaks.filter { $0 > 0 }.map { $0 - 1 })
        for x in breaks.compactMap({ $0 }) { b.put(x, 3, "x", .warning) }
        if let mark = s.mark, let x = try e.scrubberColumns("mark", [max(0, mark - 1)])[0] { b.put(x, 2, "M", .title) }
        if let cursor = try e.scrubberColumns("cursor", [max(0, s.position - 1)])[0] {
            // On an irreversible event the cursor is that `!` reversed, so neither hides the other.
            if b.cell(cursor, 2).character == "!" { b.setStyle(cursor, 2, 1, .selected) } else { b.put(cursor, 2, b.glyph("▲", "^"), .title) }
            b.setStyle(cursor, 1, 1, .selected)
        }
        // The legend: what each marker means and how many there are (in the span shown).
        var legend: [(String, CellStyle)] = []
        func add(_ glyph: String, _ n: Int, _ what: String, _ style: CellStyle) {
            if n > 0 { legend.append(("\(glyph) \(n) \(what)", style)) }
        }
        add("!", counts[.irreversible] ?? 0, "irreversible", .warning)
        add("<", counts[.backwards] ?? 0, "backwards", .marker)
        add("=", counts[.duplicate] ?? 0, "duplicate", .marker)
        let span = e.span
        func inSpan(_ sorted: [Int], shift: Int) -> Int { sorted.lowerBound(span.upperBound + shift) - sorted.lowerBound(span.lowerBound + shift) }
        add("x", inSpan(s.breaks, shift: 1), "break" + (s.breaks.count == 1 ? "" : "s"), .warning)
        add("*", inSpan(s.matches, shift: 0), "match" + (s.matches.count == 1 ? "" : "es"), .match)
        var x = 0
        if let z = s.zoom {
            x += b.put(0, 4, "zoomed to positions \(z.lowerBound)…\(z.upperBound) (Z: out)  ", .title)
        }
        for (text, style) in legend where x + text.count <= w {
            b.put(x, 4, String(text.prefix(1)), style)
            b.put(x + 1, 4, String(text.dropFirst()), .faint)
            x += text.count + 2
        }
    }

    static func streamsPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        b.clip(x, y - 1, "streams", .title, maxWidth: w)
        let rows = try e.streamRows(height: h)
        guard !rows.isEmpty else {
            b.clip(x, y, e.state.count == 0 ? "(no events)" : "(no stream yet)", .faint, maxWidth: w)
            return
        }
        for (line, row) in rows.enumerated() where line < h {
            switch row {
            case .heading(let text):
                b.clip(x, y + line, ScreenBuffer.middle(text, columns: w, ascii: b.ascii), .title, maxWidth: w)
            case .service(let name, let count):
                let suffix = " (\(count))"
                b.clip(x, y + line, ScreenBuffer.middle(name, columns: max(1, w - suffix.count), ascii: b.ascii) + suffix, .title, maxWidth: w)
            case .stream(let key, let exists):
                let pinned = e.state.pinned.contains(key)
                let inPinnedRows = line >= 1 && line <= e.pinnedRows(height: h)
                let label = e.state.filter != nil || inPinnedRows ? "\(key.service)/\(key.stream)" : key.stream
                // The selection is drawn in the pinned rows or in the list, where the arrows are.
                let selected = key == e.state.selected && inPinnedRows == e.state.inPins
                let style: CellStyle = selected ? .selected : (exists ? .plain : .faint)
                if selected { b.fill(x, y + line, w, " ", .selected) }
                b.clip(x, y + line, (pinned ? b.glyph("◆ ", "* ") : "  ") + ScreenBuffer.middle(label, columns: max(1, w - 2), ascii: b.ascii), style, maxWidth: w)
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

    static func day(_ t: Timestamp) -> Int64 { t.utcDay }

    /// The events around the cursor in aligned columns (time, type, service/stream), with a row
    /// naming the day wherever the day changes.
    static func eventsPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        let s = e.state
        b.put(x, y - 1, "events", .title)
        guard s.count > 0 else { b.put(x, y, "(no events)", .faint); return }
        let current = s.position - 1
        let shown = try e.eventRows(height: h)
        let indices = shown.compactMap { if case .event(let i) = $0 { return i }; return nil }
        guard let start = indices.first, let last = indices.last else { return }
        let end = last + 1
        let events = try indices.map { try e.data.event(at: $0) }
        let byIndex = Dictionary(uniqueKeysWithValues: zip(indices, events))
        enum Row { case day(String), event(Int, Event) }
        let rows: [Row] = shown.map { row in
            switch row {
            case .day(let label): return .day(label)
            case .event(let i): return .event(i, byIndex[i]!)
            }
        }
        let first = 0
        // Milliseconds when there is room for them; types get three fifths of what remains.
        let clockWidth = w >= 44 ? 12 : 8
        let typeWidth = min(max(6, (w - clockWidth - 1) * 3 / 5), events.map { ScreenBuffer.columns($0.type, ascii: b.ascii) }.max() ?? 0)
        let matched = Set(s.matches[s.matches.lowerBound(start)...].prefix { $0 < end })
        for (line, row) in rows.dropFirst(first).prefix(h).enumerated() {
            switch row {
            case .day(let label):
                let rule = b.glyph("─", "-")
                b.clip(x, y + line, rule + rule + " " + label + " " + String(repeating: rule, count: max(0, w - label.count - 4)), .faint, maxWidth: w)
            case .event(let i, let ev):
                let type = ScreenBuffer.middle(ev.type, columns: typeWidth, ascii: b.ascii)
                let typeColumn = type + String(repeating: " ", count: max(0, typeWidth - ScreenBuffer.columns(type, ascii: b.ascii)))
                let rest = max(1, w - clockWidth - 1 - typeWidth - 1)
                let text = "\(clock(ev.ts).prefix(clockWidth)) \(typeColumn) " + ScreenBuffer.middle("\(ev.service)/\(ev.stream)", columns: rest, ascii: b.ascii)
                let style: CellStyle = i == current ? .selected : (matched.contains(i) ? .match : (i > current ? .faint : .plain))
                if i == current { b.fill(x, y + line, w, " ", .selected) }
                b.clip(x, y + line, text, style, maxWidth: w)
            }
        }
    }

    /// A list that scrolls with the pane's cursor (`treeRow`): lines too long end in `…` and
    /// Enter shows them whole.
    static func list(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int, _ rows: [Explorer.PaneRow], cutInTheMiddle: Bool = false) {
        let lines = rows.map { ($0.text, $0.style) }
        let cursor = min(e.state.treeRow, max(0, lines.count - 1))
        let offset = max(0, min(cursor - h / 2, lines.count - h))
        for (i, line) in lines.dropFirst(offset).prefix(h).enumerated() {
            let isCursor = e.state.focusOnDocument && offset + i == cursor
            if isCursor { b.fill(x, y + i, w, " ", .selected) }
            // A change is cut in the middle (it keeps its path's start and its values); other lines at the end.
            let text = cutInTheMiddle ? ScreenBuffer.middle(line.0, columns: w, ascii: b.ascii) : line.0
            b.clip(x, y + i, text, isCursor ? .selected : line.1, maxWidth: w)
        }
        if offset + h < lines.count {
            b.fill(x, y + h - 1, w)
            b.clip(x, y + h - 1, "… \(lines.count - offset - h + 1) more (Tab, then ↓ or PgDn)", .faint, maxWidth: w)
        }
    }

    static func diffPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        let title = e.state.mark.map { "changes since the mark (position \($0))" } ?? "changes of the last event"
        b.clip(x, y - 1, title, .title, maxWidth: w)
        let rows = try e.paneRows() ?? []
        if rows.isEmpty { b.clip(x, y, "(no changes)", .faint, maxWidth: w); return }
        list(e, &b, x: x, y: y, w: w, h: h, rows, cutInTheMiddle: true)
    }

    /// The strategies pane's table: one line per strategy.
    static func strategyLines(_ runs: [StrategyRun], driving: String) -> [String] {
        runs.map { o in
            o.name.padding(toLength: 7, withPad: " ", startingAt: 0) + String(format: "%7d applied ", o.applied)
                + String(format: "%8.3f ms", o.seconds * 1000) + (o.agrees ? "  agrees" : "  DISAGREES")
        }
    }

    static func strategiesPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        b.clip(x, y - 1, "strategies at position \(e.state.position), \(e.state.drivingStrategy) drives", .title, maxWidth: w)
        guard let compared = e.state.strategyRuns, compared.position == e.state.position else {
            b.clip(x, y, "comparing the five strategies here (replay folds the whole log)…", .faint, maxWidth: w)
            return
        }
        list(e, &b, x: x, y: y, w: w, h: h, try e.paneRows() ?? [])
    }

    /// A view with nothing to show: its title and why.
    static func emptyPane(_ b: inout ScreenBuffer, x: Int, y: Int, w: Int, title: String, _ why: String) {
        b.clip(x, y - 1, title, .title, maxWidth: w)
        b.clip(x, y, why, .faint, maxWidth: w)
    }

    /// The causation view: causes above the event at the cursor (►), consequences below it.
    static func causationPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        let nodes = try e.causation()
        guard let here = nodes.first(where: \.isCursor) else {
            return emptyPane(&b, x: x, y: y, w: w, title: "causation", "(no event at the cursor)")
        }
        b.clip(x, y - 1, "causation of \(here.event.id) (o: back)", .title, maxWidth: w)
        if nodes.count == 1 {
            b.clip(x, y, "► \(here.event.id) \(here.event.service)/\(here.event.stream) \(here.event.type)", .selected, maxWidth: w)
            b.clip(x, y + 1, "no meta.causationId links it to other events", .faint, maxWidth: w)
            return
        }
        list(e, &b, x: x, y: y, w: w, h: h, try e.paneRows() ?? [])
    }

    /// The saga view: its outcome and flags, then every step in timeline order.
    static func sagaPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        guard let saga = try e.saga() else {
            return emptyPane(&b, x: x, y: y, w: w, title: "saga", "this event is not part of a saga (no meta.sagaId); A: the next saga")
        }
        b.clip(x, y - 1, "saga \(saga.id): \(saga.outcome), \(saga.steps.count) events (a: back, A: next)", .title, maxWidth: w)
        list(e, &b, x: x, y: y, w: w, h: h, try e.paneRows() ?? [])
    }

    /// The deliveries view: what each delivery of the cursor event's message left in the log.
    static func deliveriesPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        guard let report = try e.deliveries() else {
            return emptyPane(&b, x: x, y: y, w: w, title: "deliveries", "no message caused this event (no meta.messageId)")
        }
        b.clip(x, y - 1, "deliveries of \(report.messageId) (w: back)", .title, maxWidth: w)
        list(e, &b, x: x, y: y, w: w, h: h, try e.paneRows() ?? [])
    }

    /// The projection-lag view: the largest lag per time bucket, as bars, over the log's span.
    static func lagPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        let report = try e.lag(width: max(1, w))
        b.clip(x, y - 1, "read-model lag (L: back)", .title, maxWidth: w)
        guard report.events > 0 else {
            return emptyPane(&b, x: x, y: y, w: w, title: "read-model lag (L: back)", "no event reports data.lagMs")
        }
        let counted = report.found > report.events ? "\(report.events) of \(report.found) events (sampled)" : "\(report.events) events"
        b.clip(x, y, "\(counted) report lagMs: median \(report.median) ms, max \(report.max) ms at \(report.maxAt?.rfc3339 ?? "?")", .plain, maxWidth: w)
        let rows = max(1, min(8, h - 2))
        let glyphs = b.ascii ? [" ", ".", ":", "|"] : [" ", "▂", "▄", "▆", "█"]
        for (i, v) in report.buckets.enumerated() {
            guard let v else { continue }
            let height = report.max == 0 ? 0 : Double(v) / Double(report.max) * Double(rows)
            for r in 0..<rows {
                let fill = height - Double(rows - 1 - r)
                guard fill > 0 else { continue }
                let level = fill >= 1 ? glyphs.count - 1 : max(1, Int(fill * Double(glyphs.count - 1)))
                b.clip(x + i, y + 1 + r, glyphs[level], v == report.max ? .warning : .plain, maxWidth: 1)
            }
        }
    }

    /// Every service at the cursor's time, the streams changed most recently first.
    static func overviewPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        let at = e.state.position == 0 ? "before the first event" : try e.cursorTime().map { "at " + $0.rfc3339 } ?? ""
        b.clip(x, y - 1, "every service \(at) (O: back)", .title, maxWidth: w)
        let rows = try e.overview()
        if rows.isEmpty { b.clip(x, y, "(no stream has a document yet)", .faint, maxWidth: w); return }
        list(e, &b, x: x, y: y, w: w, h: h, try e.paneRows() ?? [])
    }

    /// A tree (the document, or the event at the cursor) with the document cursor.
    static func tree(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int, changed: Set<JSONKey>) throws {
        var cursor = 0, offset = 0
        let (rows, count) = try e.documentWindow { count in
            cursor = min(e.state.treeRow, max(0, count - 1))
            offset = max(0, min(cursor - h / 2, count - h))
            return offset..<(offset + max(0, h))
        }
        for (i, row) in rows.enumerated() {
            let isCursor = e.state.focusOnDocument && offset + i == cursor
            let isChanged = row.depth > 0 && changed.contains(JSONKey(row.topKey))
            if isCursor { b.fill(x, y + i, w, " ", .selected) }
            // A changed field is marked in the gutter as well as coloured: visible without colour.
            if isChanged { b.put(x, y + i, b.glyph("•", "*"), .changed) }
            let text = ScreenBuffer.truncated(String(repeating: "  ", count: row.depth) + row.label, columns: max(1, w - 1), ascii: b.ascii)
            b.clip(x + 1, y + i, text, isCursor ? .selected : (isChanged ? .changed : .plain), maxWidth: w - 1)
        }
        if count > h && offset + h < count {
            b.fill(x, y + h - 1, w)
            b.clip(x, y + h - 1, "… \(count - offset - h + 1) more rows", .faint, maxWidth: w)
        }
    }

    static func eventPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        guard e.state.position > 0 else {
            return emptyPane(&b, x: x, y: y, w: w, title: "event", "(no event before the first; → steps to it)")
        }
        let ev = try e.data.event(at: e.state.position - 1)
        b.clip(x, y - 1, "event \(e.state.position) of \(e.state.count), line \(ev.line) (Enter: back, y: copy)", .title, maxWidth: w)
        try tree(e, &b, x: x, y: y, w: w, h: h, changed: [])
    }

    static func documentPane(_ e: Explorer, _ b: inout ScreenBuffer, x: Int, y: Int, w: Int, h: Int) throws {
        switch e.state.pane {
        case .deliveries: return try deliveriesPane(e, &b, x: x, y: y, w: w, h: h)
        case .lag: return try lagPane(e, &b, x: x, y: y, w: w, h: h)
        case .saga: return try sagaPane(e, &b, x: x, y: y, w: w, h: h)
        case .causation: return try causationPane(e, &b, x: x, y: y, w: w, h: h)
        case .strategies: return try strategiesPane(e, &b, x: x, y: y, w: w, h: h)
        case .diff: return try diffPane(e, &b, x: x, y: y, w: w, h: h)
        case .event: return try eventPane(e, &b, x: x, y: y, w: w, h: h)
        case .overview: return try overviewPane(e, &b, x: x, y: y, w: w, h: h)
        case .document: break
        }
        guard let key = e.state.selected else {
            return emptyPane(&b, x: x, y: y, w: w, title: "document", "(nothing selected)")
        }
        b.clip(x, y - 1, ScreenBuffer.middle("\(key.service)/\(key.stream)", columns: w, ascii: b.ascii), .title, maxWidth: w)
        guard try e.selectedDocument() != nil else {
            // The stream stays selected at times it has no document: say when it has one.
            b.clip(x, y, "no document at this time", .faint, maxWidth: w)
            if let id = e.data.index.streamID(service: key.service, stream: key.stream) {
                if let next = e.data.index.nextEvent(of: id, from: e.state.position) {
                    let ev = try e.data.event(at: next)
                    b.clip(x, y + 1, "its next event: \(ev.type) at \(ev.ts.rfc3339) (s: go there)", .faint, maxWidth: w)
                } else {
                    b.clip(x, y + 1, "no later event (S: its previous one)", .faint, maxWidth: w)
                }
            }
            return
        }
        // Fields the last step changed, when it changed this stream.
        var changed = Set<JSONKey>()
        if e.state.position > 0 {
            let t = try e.data.index.transition(at: e.state.position - 1)
            if t.key == key {
                let before = t.before?.objectValue ?? [:], after = t.after?.objectValue ?? [:]
                for (k, v) in after where before[k] != v { changed.insert(k) }
                for k in before.keys where after[k] == nil { changed.insert(k) }
            }
        }
        try tree(e, &b, x: x, y: y, w: w, h: h, changed: changed)
    }

    static func footer(_ e: Explorer, _ b: inout ScreenBuffer) {
        let y = e.state.height - 1, w = e.state.width
        if let p = e.state.prompt {
            // The long label when there is room for it and the text; else its first word.
            var label = p.kind == .command ? ":" : p.label + ": "
            if label.count + ScreenBuffer.columns(p.text, ascii: b.ascii) + 1 > w { label = p.kind == .command ? ":" : p.shortLabel + ": " }
            var x = b.clip(0, y, label, .title, maxWidth: w)
            // The text put there is shown selected: typing replaces it. A long one shows the part
            // before the cursor; the cursor is the reversed cell (`_` at the end).
            let room = max(1, w - x - 1)
            let chars = Array(p.text)
            let cursor = max(0, min(chars.count, p.cursor))
            let before = String(chars[..<cursor]), after = String(chars[cursor...])
            let head = ScreenBuffer.columns(before, ascii: b.ascii) > room - 1 ? ScreenBuffer.tail(before, columns: max(1, room - 1), ascii: b.ascii) : before
            x += b.put(x, y, head, p.selected ? .selected : .plain, maxWidth: w - x)
            if after.isEmpty {
                b.put(x, y, "_", .title, maxWidth: w - x)
            } else {
                let cursorX = x
                b.clip(x, y, after, p.selected ? .selected : .plain, maxWidth: w - x)
                if !p.selected { b.setStyle(cursorX, y, 1, .selected) }
            }
        } else if let work = e.state.work {
            b.clip(0, y, work.status(then: e.state.queue), .title, maxWidth: w)
        } else if let m = e.state.message {
            b.clip(0, y, m, .warning, maxWidth: w)
        } else {
            b.put(0, y, "\(b.glyph("←/→", "h/l")) step  g go to  / search  f filter streams  Enter event  ? keys  q quit",
                  .faint, maxWidth: w)
        }
    }

    /// A line of a list opened whole: wrapped over the panes' whole width, a rule under it.
    static func expanded(_ text: String, _ b: inout ScreenBuffer, top: Int, bottom: Int) {
        let w = b.width - 2
        let glyphs = ScreenBuffer.glyphs(text, ascii: b.ascii)
        var lines: [String] = [], line = "", used = 0
        for g in glyphs {
            if used + g.columns > w { lines.append(line); line = ""; used = 0 }
            line.append(g.character)
            used += g.columns
        }
        lines.append(line)
        let h = min(bottom - top + 1, lines.count + 2)
        for row in 0..<h { b.fill(0, top + row, b.width, " ", .plain) }
        b.clip(1, top, "the whole line (any key closes this)", .title, maxWidth: w)
        for (i, l) in lines.prefix(h - 2).enumerated() { b.clip(1, top + 1 + i, l, .plain, maxWidth: w) }
        let last = top + h - 1
        if lines.count > h - 2 {
            b.clip(1, last, "… \(lines.count - h + 2) more lines", .faint, maxWidth: w)
        } else {
            b.fill(0, last, b.width, Character(b.glyph("─", "-")), .faint)
        }
    }

    /// The help overlay, generated from `KeyBindings.all`; it covers whole rows, so nothing of
    /// the panes shows beside it.
    static func help(_ b: inout ScreenBuffer, offset: Int) {
        func keys(_ binding: Binding) -> String {
            binding.keys.map { key -> String in b.ascii ? key.asciiDescription : key.description }.joined(separator: " ")
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
        // Below the header, as many rows as fit; more scroll (↓ / ↑, PgDn / PgUp).
        let h = min(rows.count + 2, b.height - 1)
        let x = max(1, (b.width - w) / 2), y = 1
        let visible = max(1, h - 2)
        let offset = max(0, min(offset, rows.count - visible))
        for row in 0..<h { b.fill(0, y + row, b.width, " ", .plain) }
        let more = rows.count > visible ? "  \(offset + 1)–\(offset + visible) of \(rows.count), ↓/↑ scroll" : ""
        b.clip(x + 2, y, "keys (any other key closes this)" + more, .title, maxWidth: w - 2)
        for (i, r) in rows.dropFirst(offset).prefix(visible).enumerated() {
            b.clip(x + 2, y + 1 + i, r.0.padding(toLength: keyWidth, withPad: " ", startingAt: 0) + "   " + r.1, .plain, maxWidth: w - 3)
        }
    }
}
