import Foundation
import Testing
import RewindTestSupport

/// Runs the built `rewind` binary, as a user would.
struct Rewind {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var binary: String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("rewind").path,
            packageRoot.appendingPathComponent(".build/debug/rewind").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stdoutBytes: Data
    }

    @discardableResult
    static func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments
        if let directory { p.currentDirectoryURL = directory }
        if let environment { p.environment = environment }
        // Output goes to files, so that a large output can never block the process.
        let base = TestFolders.root.appendingPathComponent("rewind-run-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: base.path + ".out", contents: nil)
        FileManager.default.createFile(atPath: base.path + ".err", contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: base.path + ".out")
            try? FileManager.default.removeItem(atPath: base.path + ".err")
        }
        p.standardOutput = FileHandle(forWritingAtPath: base.path + ".out")
        p.standardError = FileHandle(forWritingAtPath: base.path + ".err")
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let outData = try Data(contentsOf: URL(fileURLWithPath: base.path + ".out"))
        let errData = try Data(contentsOf: URL(fileURLWithPath: base.path + ".err"))
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), stdoutBytes: outData)
    }

    /// Starts `rewind ARGUMENTS` and kills it with SIGKILL as soon as `midway` holds (polled every
    /// 20 ms, for at most two minutes); returns whether it was killed before it finished.
    static func killMidway(_ arguments: [String], environment: [String: String]? = nil, when midway: () -> Bool) throws -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments
        if let environment { p.environment = environment }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        var killed = false
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && p.isRunning {
            if midway() {
                kill(p.processIdentifier, SIGKILL)
                killed = true
                break
            }
            usleep(20_000)
        }
        p.waitUntilExit()
        return killed && p.terminationReason == .uncaughtSignal
    }

    /// A temporary folder holding copies of the bundled sample logs.
    static func sampleFolder() throws -> URL {
        let dir = TestFolders.root.appendingPathComponent("rewind-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in ["bank.jsonl", "bank.rules.yaml"] {
            try FileManager.default.copyItem(at: packageRoot.appendingPathComponent("sample-logs/\(name)"),
                                             to: dir.appendingPathComponent(name))
        }
        return dir
    }
}
