import Foundation

/// Where tests write their files: one folder per test process (`$TMPDIR/rewind-tests/PID`),
/// removed when the process exits, and — for a run that was killed — by the next run, which
/// removes the folders of processes no longer alive. Without it every run left its stores,
/// logs and indexes behind (gigabytes after a day of work).
public enum TestFolders {
    public static let root: URL = {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("rewind-tests")
        try? FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: parent.path)) ?? [] {
            // kill(pid, 0) fails with ESRCH once the process is gone.
            if let pid = Int32(name), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
                try? FileManager.default.removeItem(at: parent.appendingPathComponent(name))
            }
        }
        let url = parent.appendingPathComponent(String(getpid()))
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: TestFolders.root) }
        return url
    }()

    /// A new empty folder under `root`, named `prefix-UUID`.
    public static func make(_ prefix: String) -> URL {
        let url = root.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A path under `root` that does not exist yet, named `prefix-UUID` + `suffix`.
    public static func path(_ prefix: String, suffix: String = "") -> String {
        root.appendingPathComponent("\(prefix)-\(UUID().uuidString)\(suffix)").path
    }
}
