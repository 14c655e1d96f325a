import ArgumentParser
import Foundation
import RewindCore
import RewindStore

/// `rewind`: the root command. Usage errors exit 2 (SPEC §6), not ArgumentParser's 64.
public struct RewindCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "rewind",
        abstract: "A time machine for event logs: scrub every service's state to any timestamp.",
        discussion: """
            LOG is a .jsonl event log (imported once into a store beside it and reused while the file is unchanged) or a store file. `rewind LOG` opens the terminal UI (on a terminal; otherwise it prints the state at the end of the log).

            Exit codes: 0 success, 1 the work ran but found a problem (rejected lines, skipped ops), 2 bad usage or input that cannot be opened.

            Example: rewind sample-logs/bank.jsonl  (the terminal UI); rewind state sample-logs/bank.jsonl --at 2026-03-02T09:14:07Z --json
            """,
        version: RewindCommand.version,
        subcommands: [OpenCommand.self, StateCommand.self, ImportCommand.self, CompareCommand.self, BisectCommand.self, VerifyCommand.self,
                      SquashCommand.self, SimulateCommand.self, CheckCommand.self, BenchCommand.self],
        defaultSubcommand: OpenCommand.self
    )

    /// The release, as `rewind --version` prints it (with the store and index formats it reads).
    public static let version = "rewind 0.12.0 (store \(SQLiteStore.schema), timeline index format \(IndexFormat.version))"

    public init() {}

    public static func main() {
        // For `rewind bench`: the process's own peak resident memory (its VmHWM, which unlike a
        // child's rusage does not count the parent that started it) written at exit.
        if ProcessInfo.processInfo.environment["REWIND_PEAK_MEMORY_TO"] != nil {
            atexit {
                guard let path = ProcessInfo.processInfo.environment["REWIND_PEAK_MEMORY_TO"],
                      let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
                      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return }
                let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
                try? String(kb / 1024).write(toFile: path, atomically: false, encoding: .utf8)
            }
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch let error as OpenError {
            Output.error(error.message)
            Foundation.exit(2)
        } catch let error as StoreError {
            Output.error(error.message)
            Foundation.exit(2)
        } catch let error as UsageError {
            Output.error(error.message)
            Foundation.exit(2)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            Output.error(fullMessage(for: error))
            Foundation.exit(code == .failure ? 1 : 2)
        }
    }
}

/// A bad argument value found after parsing (exit 2).
struct UsageError: Error {
    var message: String
}
