import Foundation
import Testing
import RewindTestSupport

/// Drives the real binary in a real terminal (tmux): opens the sample log, steps, jumps with
/// `g`, shows help, survives a resize and quits, giving the terminal back.
@Suite(.serialized) struct TerminalUITests {
    struct Tmux {
        let socket = "rewind-test-\(UUID().uuidString.prefix(8))"

        @discardableResult
        func run(_ args: [String]) throws -> String {
            // posix_spawn + waitpid, with output through a file: the tmux server that the first
            // call starts daemonises, and Foundation's Process did not notice its client exit.
            let file = TestFolders.root.appendingPathComponent("tmux-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: file) }
            let argv = ["/usr/bin/env", "tmux", "-L", socket, "-f", "/dev/null"] + args
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, file, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            var cArgs = argv.map { strdup($0) } + [nil]
            defer { for a in cArgs { free(a) } }
            // Test threads block signals (libdispatch workers do); the tmux server and the UI under
            // it must start with none blocked, or SIGWINCH never reaches the UI.
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var none = sigset_t(), all = sigset_t()
            sigemptyset(&none)
            sigfillset(&all)
            posix_spawnattr_setsigmask(&attributes, &none)
            posix_spawnattr_setsigdefault(&attributes, &all)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, "/usr/bin/env", &actions, &attributes, &cArgs, environ)
            guard rc == 0 else { throw POSIXError(.init(rawValue: rc) ?? .EIO) }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data(), as: UTF8.self)
        }

        func screen() throws -> String { try run(["capture-pane", "-p", "-t", "s"]) }

        func keys(_ keys: String...) throws { try run(["send-keys", "-t", "s"] + keys) }

        func type(_ text: String) throws { try run(["send-keys", "-t", "s", "-l", "--", text]) }

        /// Waits until the screen satisfies `condition` (10 s at most); returns the last screen.
        @discardableResult
        func waitFor(_ what: String, _ condition: (String) -> Bool) throws -> String {
            let deadline = Date().addingTimeInterval(10)
            var last = ""
            while Date() < deadline {
                last = try screen()
                if condition(last) { return last }
                usleep(100_000)
            }
            Issue.record("timed out waiting for \(what); screen:\n\(last)")
            return last
        }

        func kill() { _ = try? run(["kill-server"]) }
    }

    static var hasTmux: Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/tmux")
        }
    }

    func start(_ tmux: Tmux, log: String, environment: String = "LANG=C.UTF-8", width: Int = 100, height: Int = 30) throws {
        try tmux.run(["new-session", "-d", "-s", "s", "-x", "\(width)", "-y", "\(height)",
                      "env \(environment) '\(Rewind.binary)' '\(log)'; echo EXITED-$?; sleep 60"])
    }

    @Test func opensStepsJumpsShowsHelpSurvivesResizeAndQuits() throws {
        try #require(Self.hasTmux, "tmux is needed (.ci/run installs it)")
        let dir = try Rewind.sampleFolder()
        let tmux = Tmux()
        defer { tmux.kill() }
        try start(tmux, log: dir.appendingPathComponent("bank.jsonl").path)
        // Each wait holds for the finished screen the test then checks (a capture can catch a redraw
        // half done under load): the footer is drawn last.
        let first = try tmux.waitFor("the explorer") {
            $0.contains("position 21/21") && $0.contains("alice@example.com") && $0.contains("q quit")
        }
        #expect(first.contains("2026-03-03T08:00:05Z"), "the cursor's time, in RFC 3339")
        #expect(first.contains("notifications/customer-A") && first.contains("alice@example.com"))

        try tmux.keys("Left")
        try tmux.waitFor("a step back") { $0.contains("position 20/21") && $0.contains("2026-03-03T08:00:04Z") }
        try tmux.keys("l")
        try tmux.waitFor("a step forward") { $0.contains("position 21/21") }

        try tmux.keys("g")
        try tmux.type("2026-03-02T09:14:05Z")
        try tmux.keys("Enter")
        let jumped = try tmux.waitFor("the jump") {
            $0.contains("position 11/21") && $0.contains("went to") && $0.contains("SessionRefreshed")
        }
        #expect(jumped.contains("went to 2026-03-02T09:14:05Z"))
        #expect(jumped.contains("notifications/customer-A"), "the selected stream stays selected")

        try tmux.keys("g")
        try tmux.type("2026-02-30T00:00:00Z")
        try tmux.keys("Enter")
        try tmux.waitFor("a clear message") { $0.contains("cannot go there") && $0.contains("day 30 does not exist") }

        try tmux.keys("?")
        let help = try tmux.waitFor("help") {
            $0.contains("keys (any other key closes this)") && $0.contains("step one event forward")
        }
        #expect(help.contains("↓/↑ scroll"), "the keys that do not fit scroll")
        try tmux.keys("PageDown")
        try tmux.waitFor("the rest of the keys") { $0.contains("quit") && $0.contains("follow the log as it grows") }
        try tmux.keys("x")
        try tmux.waitFor("help to close") { !$0.contains("keys (any other key closes this)") }

        try tmux.run(["resize-window", "-t", "s", "-x", "80", "-y", "24"])
        let small = try tmux.waitFor("the resize") { screen in
            screen.contains("position 11/21") && screen.contains("q quit")
                && screen.split(separator: "\n").allSatisfy { $0.count <= 80 }
        }
        #expect(small.contains("q quit"))

        try tmux.keys("q")
        let after = try tmux.waitFor("the terminal to come back") { $0.contains("EXITED-0") }
        #expect(!after.contains("position 11/21"), "the UI's screen is gone once it quits")
    }

    @Test func followModeShowsLinesAsTheyAreAppended() throws {
        try #require(Self.hasTmux, "tmux is needed (.ci/run installs it)")
        let dir = try Rewind.sampleFolder()
        let log = dir.appendingPathComponent("bank.jsonl")
        let tmux = Tmux()
        defer { tmux.kill() }
        try start(tmux, log: log.path)
        try tmux.waitFor("the explorer") { $0.contains("position 21/21") }
        try tmux.keys("f")
        try tmux.type("account-b")
        try tmux.keys("Enter")
        try tmux.waitFor("the filter") { $0.contains("1 stream match") }
        try tmux.keys("F")
        try tmux.waitFor("follow mode") { $0.contains("FOLLOWING") }
        let h = try FileHandle(forWritingTo: log)
        try h.seekToEnd()
        h.write(Data((#"{"id":"evt-022","ts":"2026-03-03T09:00:00Z","service":"accounts","stream":"account-B","type":"MoneyDebited","data":{"amount":100}}"# + "\n").utf8))
        try h.close()
        let after = try tmux.waitFor("the appended event") {
            $0.contains("position 22/22") && $0.contains("MoneyDebited") && $0.contains("\"balance\": 600")
        }
        #expect(after.contains("2026-03-03T09:00:00Z") && after.contains("MoneyDebited"))
        #expect(after.contains("\"balance\": 600"), "account-B's document after the new debit")
        // A line earlier than the last rebuilds the index from there: nothing of that may reach
        // the screen the UI owns (no progress bar, no notice), and the screen stays whole.
        let again = try FileHandle(forWritingTo: log)
        try again.seekToEnd()
        again.write(Data((#"{"id":"evt-023","ts":"2026-03-02T09:20:00Z","service":"accounts","stream":"account-B","type":"MoneyDeposited","data":{"amount":7}}"# + "\n").utf8))
        try again.close()
        let backwards = try tmux.waitFor("the earlier line") { $0.contains("position 23/23") && $0.contains("following: 1 new event") }
        #expect(backwards.split(separator: "\n").first?.hasPrefix(" rewind  bank.jsonl") == true, "the header is still the first row")
        #expect(!backwards.contains("building the timeline index") && !backwards.contains("timestamp goes backwards"))
        // A line that is no event is rejected, as every import rejects it, and the UI says so.
        let bad = try FileHandle(forWritingTo: log)
        try bad.seekToEnd()
        bad.write(Data("not json\n".utf8))
        try bad.close()
        try tmux.waitFor("the rejected line") { $0.contains("following: 0 new events; 1 line rejected (copied to bank.rejected.jsonl)") }
        try tmux.keys("q")
        try tmux.waitFor("quit") { $0.contains("EXITED-0") }
    }

    /// The pattern views in a real terminal on the simulated bank sample: the saga of a
    /// compensated transfer, its causation chain, and field provenance.
    @Test func theSagaCausationAndProvenanceViewsInATerminal() throws {
        try #require(Self.hasTmux, "tmux is needed (.ci/run installs it)")
        let dir = TestFolders.root.appendingPathComponent("rewind-views-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in ["bank.jsonl", "bank.rules.yaml"] {
            try FileManager.default.copyItem(at: Rewind.packageRoot.appendingPathComponent("sample-logs/simulated/\(name)"), to: dir.appendingPathComponent(name))
        }
        let tmux = Tmux()
        defer { tmux.kill() }
        try start(tmux, log: dir.appendingPathComponent("bank.jsonl").path, width: 160, height: 30)
        try tmux.waitFor("the explorer") { $0.contains("events") && $0.contains("position") }
        try tmux.keys("/")
        try tmux.type("evt-0000374 type:CommissionFailed")
        try tmux.keys("Enter")
        try tmux.keys("a")
        let saga = try tmux.waitFor("the saga view") {
            $0.contains("saga transfer-000046: compensated") && $0.contains("TransferCompensated")
        }
        #expect(saga.contains("CommissionFailed") && saga.contains("TransferCompensated"))
        try tmux.keys("o")
        let causation = try tmux.waitFor("the causation view") {
            $0.contains("causation of evt-0000374") && $0.contains("evt-0000385")
        }
        #expect(causation.contains("evt-0000294") && causation.contains("► evt-0000374") && causation.contains("evt-0000385"))
        try tmux.keys("o")
        try tmux.keys("@")
        try tmux.keys("Tab")
        try tmux.keys("j")
        try tmux.keys("p")
        try tmux.waitFor("provenance") { $0.contains("set by") }
        try tmux.keys("q")
        try tmux.waitFor("quit") { $0.contains("EXITED-0") }
    }

    /// Following one stream through time: the filter finds it, `P` pins it, and it stays selected
    /// and pinned across every form of `g`; Enter shows the event at the cursor whole.
    @Test func aPinnedStreamStaysAcrossJumpsAndTheEventView() throws {
        try #require(Self.hasTmux, "tmux is needed (.ci/run installs it)")
        let dir = try Rewind.sampleFolder()
        let tmux = Tmux()
        defer { tmux.kill() }
        try start(tmux, log: dir.appendingPathComponent("bank.jsonl").path, width: 120, height: 30)
        try tmux.waitFor("the explorer") { $0.contains("position 21/21") && $0.contains("q quit") }
        try tmux.keys("f")
        try tmux.type("account-a")
        try tmux.waitFor("the filter as typed") { $0.contains("filter account-a: 1") }
        try tmux.keys("Enter")
        try tmux.waitFor("the filter") { $0.contains("1 stream matches account-a") }
        try tmux.keys("P")
        try tmux.waitFor("the pin") { $0.contains("pinned accounts/account-A") && $0.contains("pinned (1)") }
        try tmux.keys("Escape")
        try tmux.waitFor("the filter cleared") { $0.contains("filter cleared") && !$0.contains("filter account-a") }
        // Every form `g` takes; after each, the stream is still selected and pinned.
        let forms: [(String, String)] = [
            ("2026-03-02", "went to 2026-03-02T00:00:00Z"),
            ("09:14:05", "went to 2026-03-02T09:14:05Z"),        // the cursor's day, from before the first event
            ("+1h", "(+1h)"),
            ("-30m", "(-30m)"),
            ("#3", "went to position 3"),
            ("2026-03-02T09:14Z", "went to 2026-03-02T09:14:00Z"),
            ("2026-03-02 09:14:07", "went to 2026-03-02T09:14:07Z"),
            ("2026-03-02T10:14:07+01:00", "went to 2026-03-02T09:14:07Z"),
            ("1772442845000", "went to 2026-03-02T09:14:05Z"),
            ("start", "went to the start"),
            ("end", "went to the end"),
        ]
        for (text, said) in forms {
            try tmux.keys("g")
            try tmux.keys("C-u")
            try tmux.type(text)
            try tmux.keys("Enter")
            let screen = try tmux.waitFor("g \(text)") { $0.contains(said) }
            #expect(screen.contains("pinned (1)") && screen.contains("accounts/account-A"), "after g \(text)")
        }
        try tmux.keys("g")
        try tmux.type("soon")
        try tmux.keys("Enter")
        try tmux.waitFor("a clear message") { $0.contains("cannot go there") && $0.contains("is not a time (try 09:14:05") }
        try tmux.keys("s")
        try tmux.keys("S")
        try tmux.keys("Enter")
        let event = try tmux.waitFor("the event view") {
            $0.contains("event 19 of 21, line 20") && $0.contains("\"compensates\"") && $0.contains("\"sagaId\"")
        }
        #expect(event.contains("\"compensates\": \"evt-017\"") && event.contains("\"sagaId\": \"transfer-2\""))
        try tmux.keys("q")
        try tmux.waitFor("quit") { $0.contains("EXITED-0") }
    }

    /// Long work on a big log runs off the key loop: the status line says how far it got, keys
    /// are answered meanwhile, Escape cancels it, and Ctrl-C quits at once.
    @Test func aLongSearchOnABigLogIsCancelled() throws {
        try #require(Self.hasTmux, "tmux is needed (.ci/run installs it)")
        let dir = TestFolders.root.appendingPathComponent("rewind-big-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("big.jsonl")
        var text = ""
        for i in 0..<400_000 {
            text += #"{"id":"e\#(i)","ts":\#(1_767_225_600_000 + i * 100),"service":"bank","stream":"acct-\#(i % 5000)","type":"Set","data":{"balance":\#(i),"note":"payment number \#(i) for the account"}}"# + "\n"
        }
        try text.write(to: log, atomically: true, encoding: .utf8)
        #expect(try Rewind.run(["import", log.path]).status == 0)
        let tmux = Tmux()
        defer { tmux.kill() }
        try start(tmux, log: log.path, width: 140, height: 30)
        try tmux.waitFor("the explorer") { $0.contains("position 400000/400000") && $0.contains("q quit") }
        // Every word but the last matches every event: each is looked for in every payload.
        let words = "payment number for the account balance bank acct set no-such-word"
        try tmux.keys("/")
        try tmux.type(words)
        try tmux.keys("Enter")
        try tmux.waitFor("the status line") { $0.contains("searching \(words):") && $0.contains("Esc cancels") }
        try tmux.keys("Left")
        try tmux.waitFor("a step while it runs") { $0.contains("position 399999/400000") && $0.contains("Esc cancels") }
        try tmux.keys("Escape")
        let cancelled = try tmux.waitFor("the cancel") { $0.contains("cancelled: searching \(words)") }
        #expect(!cancelled.contains("no event matches"), "the cancelled search's result never lands")
        try tmux.keys("/")
        try tmux.keys("Enter")                    // the same search again (the prompt keeps it)
        try tmux.waitFor("the search again") { $0.contains("Esc cancels") }
        try tmux.keys("C-c")
        try tmux.waitFor("Ctrl-C to quit at once") { $0.contains("EXITED-0") }
    }

    /// A crash (here SIGSEGV from outside) gives the terminal back before the process dies.
    @Test func aCrashRestoresTheTerminal() throws {
        try #require(Self.hasTmux, "tmux is needed (.ci/run installs it)")
        let dir = try Rewind.sampleFolder()
        let tmux = Tmux()
        defer { tmux.kill() }
        try start(tmux, log: dir.appendingPathComponent("bank.jsonl").path)
        try tmux.waitFor("the explorer") { $0.contains("position 21/21") }
        let shell = try tmux.run(["display-message", "-p", "-t", "s", "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let children = try String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)
        let pid = try #require(children.split(separator: " ").compactMap { Int32($0) }.first, "the rewind process under the shell")
        #expect(kill(pid, SIGSEGV) == 0)
        let after = try tmux.waitFor("the shell to come back") { $0.contains("EXITED-139") }
        #expect(!after.contains("position 21/21"), "the UI's screen is gone: the terminal was restored")
        // The terminal works normally again: typed text echoes (raw mode and noecho are undone).
        try tmux.type("typed-after-crash")
        try tmux.waitFor("the tty to echo again") { $0.contains("typed-after-crash") }
    }

    @Test func ctrlCQuitsAndASCIIWithoutUTF8OrColour() throws {
        try #require(Self.hasTmux, "tmux is needed (.ci/run installs it)")
        let dir = try Rewind.sampleFolder()
        let tmux = Tmux()
        defer { tmux.kill() }
        try start(tmux, log: dir.appendingPathComponent("bank.jsonl").path, environment: "LANG=C LC_ALL=C NO_COLOR=1 TERM=vt100")
        let screen = try tmux.waitFor("the explorer") { $0.contains("position 21/21") && $0.contains("q quit") }
        #expect(screen.unicodeScalars.allSatisfy { $0.value < 0x80 }, "ASCII only without a UTF-8 locale")
        try tmux.keys("g")
        try tmux.type("#3")
        try tmux.keys("Enter")
        try tmux.waitFor("the cursor drawn in ASCII") { $0.contains("position  3/21") && $0.contains("^") }
        try tmux.keys("?")
        // The wait holds for the whole overlay (a capture can catch a redraw half done).
        let help = try tmux.waitFor("help") { $0.contains("keys (any other key closes this)") && $0.contains("Right l") && $0.contains("Down j") }
        #expect(!help.contains("??") && help.contains("Right l") && help.contains("Down j"), "the keys are spelled out in ASCII")
        try tmux.keys("x")
        try tmux.keys("C-c")
        try tmux.waitFor("Ctrl-C to quit") { $0.contains("EXITED-0") }
    }
}
