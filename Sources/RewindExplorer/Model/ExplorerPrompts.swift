import Foundation
import RewindCore

/// The prompts: editing and history, and what submitting each does (go to, filter, search,
/// invariant, the `:` commands).
extension Explorer {
    func edit(_ p: inout Prompt, _ action: ExplorerAction) {
        let limit = Prompt.limits[p.kind] ?? 200
        if p.selected, action != .historyBack, action != .historyForward {
            // The text put there: typing or erasing replaces it; moving the cursor keeps it.
            if case .movedPromptCursor = action {} else { p.text = ""; p.cursor = 0 }
            p.selected = false
        }
        var chars = Array(p.text)
        p.cursor = max(0, min(chars.count, p.cursor))
        switch action {
        case .typed(let c):
            if chars.count < limit { chars.insert(c, at: p.cursor); p.cursor += 1 }
        case .erased:
            if p.cursor > 0 { chars.remove(at: p.cursor - 1); p.cursor -= 1 }
        case .erasedWord:
            var start = p.cursor
            while start > 0 && chars[start - 1] == " " { start -= 1 }
            while start > 0 && chars[start - 1] != " " { start -= 1 }
            chars.removeSubrange(start..<p.cursor)
            p.cursor = start
        case .erasedLine:
            chars.removeSubrange(0..<p.cursor)
            p.cursor = 0
        case .movedPromptCursor(let move):
            switch move {
            case .left: p.cursor = max(0, p.cursor - 1)
            case .right: p.cursor = min(chars.count, p.cursor + 1)
            case .home: p.cursor = 0
            case .end: p.cursor = chars.count
            }
            return
        case .historyBack, .historyForward:
            let past = state.history[p.kind] ?? []
            guard !past.isEmpty else { return }
            var i = p.historyIndex ?? past.count
            i += action == .historyBack ? -1 : 1
            // The text shown is the newest entry (a prompt opens with it): ↑ goes to the one before.
            if p.historyIndex == nil, action == .historyBack, i >= 0, past[i].sameCodePoints(p.text), i > 0 { i -= 1 }
            if i >= past.count {
                p.historyIndex = nil
                p.text = ""
            } else {
                i = max(0, i)
                p.historyIndex = i
                p.text = past[i]
            }
            p.selected = false
            p.cursor = p.text.count
            return
        default: return
        }
        p.text = String(chars)
        p.historyIndex = nil
    }

    /// Keeps what was submitted at a prompt (the last 100, no repeats).
    func remember(_ p: Prompt) {
        let text = p.text.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return }
        var past = state.history[p.kind] ?? []
        past.removeAll { $0.sameCodePoints(text) }
        past.append(text)
        state.history[p.kind] = Array(past.suffix(100))
    }

    func setFilter(_ text: String) throws {
        state.filter = text.isEmpty ? nil : text
        if index.streamCount > filterInline, filterPending {
            let narrowing = caches.filter.flatMap { c in text.utf8.starts(with: c.text.utf8) ? FilterBase((c.text, c.ids)) : nil }
            pendingEffects += startWork(.filter(text, narrowing: narrowing), text: text)
            return
        }
        // The selection moves to the best match (the first: it holds the text) as the text changes.
        if let ids = filtered(), let first = ids.first {
            state.selected = try index.streamKey(first)
            state.inPins = false
        }
    }

    func submit(_ p: Prompt, start: (WorkRequest, String) -> Void) throws {
        let text = p.text
        switch p.kind {
        case .goto:
            try go(to: text)
        case .filter:
            try setFilter(text)
            if let ids = filtered() { state.message = "\(ids.count) stream\(ids.count == 1 ? " matches" : "s match") \(text) (Esc clears the filter)" }
        case .search:
            let query = EventQuery(text)
            guard !query.isEmpty else {
                state.search = nil
                state.matches = []
                state.message = "search cleared"
                return
            }
            state.search = text
            state.matches = []
            start(.search(query), text)
        case .invariant:
            guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                state.invariant = nil
                state.breaks = []
                state.message = "invariant cleared"
                return
            }
            do throws(InvariantSyntaxError) {
                _ = try Invariant(text)
            } catch {
                state.message = "invariant: \(error)"
                return
            }
            state.invariant = text
            state.breaks = []
            start(.breaks(text), text)
        case .command:
            try command(text, start: start)
        }
    }

    /// The `:` command bar: `goto T`, `pin [service/stream]`, `filter TEXT`, `invariant EXPR`,
    /// `search TEXT`, `export FILE`, `strategy NAME`.
    func command(_ line: String, start: (WorkRequest, String) -> Void) throws {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        let name = String(trimmed.prefix { $0 != " " })
        let argument = String(trimmed.dropFirst(name.count)).trimmingCharacters(in: .whitespaces)
        switch name {
        case "goto", "g": try go(to: argument)
        case "filter", "f": try submit(Prompt(kind: .filter, text: argument), start: start)
        case "search", "s": try submit(Prompt(kind: .search, text: argument), start: start)
        case "invariant", "i": try submit(Prompt(kind: .invariant, text: argument), start: start)
        case "pin":
            if !argument.isEmpty {
                guard let slash = argument.firstIndex(of: "/") else { state.message = ":pin service/stream"; return }
                let key = StreamKey(service: String(argument[..<slash]), stream: String(argument[argument.index(after: slash)...]))
                guard index.streamID(service: key.service, stream: key.stream) != nil else { state.message = "no stream \(argument) in this log"; return }
                state.selected = key
            }
            _ = try update(.togglePin)
        case "export":
            guard !argument.isEmpty else { state.message = ":export FILE — writes the state at the cursor as SPEC JSON"; return }
            // The state at the cursor as `rewind state --json` prints it.
            start(.export(path: argument, position: state.position, at: try cursorTime() ?? Timestamp(nanoseconds: 0)), "")
        case "strategy":
            guard Strategies.names.dropFirst().contains(argument) else {
                state.message = "\(argument.isEmpty ? "which strategy?" : "no strategy \(argument):") the view is driven by diff, undo, squash or cache (replay reaches no versions to draw)"
                return
            }
            data.drivingStrategy = argument
            state.drivingStrategy = argument
            state.message = "\(argument) now reaches the positions you jump to"
        case "q", "quit": state.quit = true
        case "": return
        default:
            state.message = ":\(name)? commands: goto T, pin [service/stream], filter TEXT, search TEXT, invariant EXPR, export FILE, strategy NAME, quit"
        }
    }

}
