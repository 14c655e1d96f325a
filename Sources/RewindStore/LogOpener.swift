import Foundation
import RewindCore

/// A LOG argument that cannot be opened (exit code 2).
public struct OpenError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An opened log: its store, and where its rules and quarantine live.
public struct OpenedLog {
    public var store: SQLiteStore
    /// The store was made from `sourcePath` by this opener (so it can be rebuilt from it).
    public var rebuildable: Bool { importResult != nil }
    /// The JSON Lines file the store was imported from, when known.
    public var sourcePath: String?
    public var rules: Rules
    public var rulesPath: String?
    /// The import that ran while opening (nil when LOG was a store file).
    public var importResult: ImportResult?
    public var displayName: String
}

/// Resolves the LOG argument of every command (SPEC §6).
public enum LogOpener {
    /// `bank.jsonl` → `bank.rewind`; `events.log` → `events.log.rewind`.
    public static func defaultStorePath(forLog path: String) -> String {
        let url = URL(fileURLWithPath: path)
        if url.pathExtension == "jsonl" { return url.deletingPathExtension().path + ".rewind" }
        return url.path + ".rewind"
    }

    /// `bank.jsonl` → `bank.rejected.jsonl`.
    public static func quarantinePath(forLog path: String) -> String {
        let url = URL(fileURLWithPath: path)
        if url.pathExtension == "jsonl" { return url.deletingPathExtension().path + ".rejected.jsonl" }
        return url.path + ".rejected.jsonl"
    }

    /// `bank.jsonl` → `bank.rules.yaml`.
    public static func rulesPath(forLog path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let base = url.pathExtension == "jsonl" || url.pathExtension == "rewind" ? url.deletingPathExtension().path : url.path
        return base + ".rules.yaml"
    }

    /// Where derived files go when the log's folder is not writable.
    static func fallbackPath(for path: String, suffix: String) -> String {
        let env = ProcessInfo.processInfo.environment
        let cache = env["XDG_CACHE_HOME"].map { $0 + "/rewind" } ?? (NSHomeDirectory() + "/.cache/rewind")
        try? FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return "\(cache)/\(name)-\(ContentHash.hex(of: absolute))\(suffix)"
    }

    static func writableFolder(of path: String) -> Bool {
        FileManager.default.isWritableFile(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    /// Checks that `path` is a readable regular file.
    public static func checkReadableFile(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw OpenError("\(path): no such file")
        }
        guard !isDirectory.boolValue else { throw OpenError("\(path): is a directory, not a log file") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw OpenError("\(path): permission denied") }
    }

    /// Loads a rules file, or the rules beside the log when `explicit` is nil and one exists.
    public static func loadRules(explicit: String?, besideLog: String?) throws -> (Rules, String?) {
        let path: String
        if let explicit {
            try checkReadableFile(explicit)
            path = explicit
        } else if let log = besideLog, FileManager.default.fileExists(atPath: rulesPath(forLog: log)) {
            path = rulesPath(forLog: log)
        } else {
            return (.none, nil)
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw OpenError("\(path): cannot read") }
        guard let text = String(data: data, encoding: .utf8) else { throw OpenError("\(path): not UTF-8 text") }
        do throws(RulesFileError) {
            return (try Rules.parse(yaml: text, file: path), path)
        } catch {
            throw OpenError(error.description)
        }
    }

    /// Opens LOG: a `.jsonl` file is imported into its store (once, then reused while the
    /// file is unchanged; a file that only grew imports its new tail), a store file is
    /// opened as it is.
    public static func open(_ log: String, rulesPath explicitRules: String? = nil, storePath: String? = nil,
                            onDamage: (String) -> Void = { _ in },
                            configure: (JSONLImporter) -> Void = { _ in }) throws -> OpenedLog {
        if log.hasPrefix("postgres://") || log.hasPrefix("postgresql://") {
            throw OpenError("\(log): PostgreSQL stores are not supported by this build yet; import into a store file instead")
        }
        try checkReadableFile(log)
        if SQLiteStore.isStoreFile(log) {
            let store = try SQLiteStore(path: log)
            let source = try store.checkpoint()?.sourcePath
            let (rules, rulesFile) = try loadRules(explicit: explicitRules, besideLog: source ?? log)
            return OpenedLog(store: store, sourcePath: source, rules: rules, rulesPath: rulesFile, importResult: nil, displayName: log)
        }
        let (rules, rulesFile) = try loadRules(explicit: explicitRules, besideLog: log)
        var target = storePath ?? defaultStorePath(forLog: log)
        var quarantine = quarantinePath(forLog: log)
        if storePath == nil && !writableFolder(of: log) {
            target = fallbackPath(for: log, suffix: ".rewind")
            quarantine = fallbackPath(for: log, suffix: ".rejected.jsonl")
        }
        let store: SQLiteStore
        do {
            store = try SQLiteStore(path: target)
        } catch where StoreError.isDamage(error) {
            // The store is a cache of the log: a damaged one is rebuilt, never read.
            onDamage("\(error)")
            SQLiteStore.remove(at: target)
            do { store = try SQLiteStore(path: target) } catch { throw OpenError("\(error)") }
        } catch {
            throw OpenError("\(error)")
        }
        let importer = JSONLImporter(path: log, store: store, quarantinePath: quarantine)
        if let previous = try store.checkpoint(), let format = LogFormat(rawValue: previous.format) {
            importer.format = format  // keep the format a previous `rewind import --format` chose
        }
        configure(importer)
        let result = try importer.run()
        return OpenedLog(store: store, sourcePath: log, rules: rules, rulesPath: rulesFile, importResult: result, displayName: log)
    }
}
