import Foundation

/// The PostgreSQL server the tests use: `REWIND_TEST_POSTGRES` (a `postgres://` URL, as `.ci/run`
/// sets it after starting one), else a throwaway server that `.ci/postgres` starts once for this
/// test process (initdb into a temporary folder, a unix socket only) and stops when it exits.
public enum TestPostgres {
    public static let server: String = {
        if let url = ProcessInfo.processInfo.environment["REWIND_TEST_POSTGRES"], !url.isEmpty { return url }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent(".ci/postgres").path
        let dir = "/tmp/rewind-test-pg-\(getpid())"
        // posix_spawn and waitpid, not Foundation's Process: its wait never returned here when
        // called from a test's task (the child was left a zombie). The URL comes back in DIR/url,
        // not through a pipe, which the server it starts would inherit and keep open.
        let status = spawnAndWait(["/bin/bash", script, "start", dir])
        let text = (try? String(contentsOfFile: dir + "/url", encoding: .utf8)) ?? ""
        guard status == 0, let url = text.split(separator: "\n").last.map(String.init), url.hasPrefix("postgres") else {
            fatalError("\(script) start \(dir) failed (\(status)); set REWIND_TEST_POSTGRES to a server's URL instead")
        }
        stopDirectory = dir
        stopScript = script
        atexit {
            guard let dir = TestPostgres.stopDirectory, let script = TestPostgres.stopScript else { return }
            _ = TestPostgres.spawnAndWait(["/bin/bash", script, "stop", dir])
            try? FileManager.default.removeItem(atPath: dir)
        }
        return url
    }()

    /// Runs a program (stdin, stdout and stderr on /dev/null) and returns its exit status.
    static func spawnAndWait(_ argv: [String]) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in [Int32(0), 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        var pid: pid_t = 0
        var args: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for a in args { free(a) } }
        guard posix_spawn(&pid, argv[0], &actions, nil, &args, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status >> 8) & 0xFF
    }

    nonisolated(unsafe) static var stopDirectory: String?
    nonisolated(unsafe) static var stopScript: String?

    /// The server's URL with a schema of its own (`schema=t…`): a fresh, empty store.
    public static func freshURL() -> String {
        server + (server.contains("?") ? "&" : "?") + "schema=\(freshSchema("t"))"
    }

    /// A new schema name, `KIND` + this process's id + `_` + 12 random hex digits. On a server
    /// of the developer's own (`REWIND_TEST_POSTGRES`), the schemas this process named — and
    /// their backups — are dropped when it exits.
    public static func freshSchema(_ kind: String) -> String {
        _ = dropAtExit
        return kind + "\(getpid())_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
    }

    private static let dropAtExit: Void = {
        _ = server
        guard stopDirectory == nil, psql != nil else { return }  // a throwaway server goes whole
        atexit {
            guard let psql = TestPostgres.psql else { return }
            let pattern = "^[a-z]+\(getpid())_[0-9a-f]{12}"
            _ = TestPostgres.spawnAndWait([psql, TestPostgres.server, "-qc", """
                DO $$ DECLARE s text; BEGIN
                  FOR s IN SELECT nspname FROM pg_namespace WHERE nspname ~ '\(pattern)' LOOP
                    EXECUTE format('DROP SCHEMA %I CASCADE', s);
                  END LOOP;
                END $$
                """])
        }
    }()

    /// `psql`, from PATH or PostgreSQL's own folders.
    static let psql: String? = {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin" }
        return dirs.map { $0 + "/psql" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()
}
