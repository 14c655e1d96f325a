import Foundation
import RewindCore
import RewindStore

/// Runs hydration strategies for a command: builds the derived data they need (once, and again
/// when the rules or the log changed) and recovers from damaged rows by rebuilding them.
final class Hydrator {
    static let names = ["replay", "diff", "undo", "squash", "cache"]

    let opened: OpenedLog
    let fold: Fold
    private(set) var derivedData: SQLiteDerivedData?
    /// A damaged row was found (and rebuilt): the command should exit 1.
    private(set) var foundDamage = false

    init(opened: OpenedLog) {
        self.opened = opened
        fold = Fold(rules: opened.rules)
    }

    var logName: String { opened.sourcePath ?? opened.displayName }

    func derived(forceReason: String? = nil, quiet: Bool = false) throws -> SQLiteDerivedData {
        if let derivedData, forceReason == nil { return derivedData }
        let started = Date()
        let progress = ProgressBar(label: "building diffs and keyframes")
        let (d, status) = try opened.store.ensureDerived(fold: fold, forceReason: forceReason) { done, total in
            if !quiet { progress.update(Int64(done), of: Int64(total)) }
        }
        progress.finish()
        if case .built(let reason) = status, !quiet {
            Output.diagnostic("\(logName): built diffs, keyframes and squashed days (\(reason)) in "
                              + String(format: "%.2f s", Date().timeIntervalSince(started)))
        }
        derivedData = d
        return d
    }

    /// The derived data after the log changed: extended when it only grew, else rebuilt.
    func derivedAfterChange() throws -> SQLiteDerivedData {
        derivedData = nil
        return try derived(quiet: true)
    }

    func strategy(_ name: String) throws -> any HydrationStrategy {
        switch name {
        case "replay": return ReplayStrategy(source: opened.store, fold: fold)
        case "diff": return DiffStrategy(derived: try derived())
        case "undo": return UndoStrategy(derived: try derived())
        case "squash": return SquashStrategy(derived: try derived())
        case "cache": return CacheStrategy(derived: try derived(), source: opened.store, fold: fold)
        default: throw UsageError(message: "unknown strategy '\(name)' (available: \(Hydrator.names.joined(separator: ", ")))")
        }
    }

    /// Hydrates with `name`; a damaged derived row is reported, rebuilt, and the hydration retried.
    func hydrate(_ name: String, to position: Int) throws -> Hydration {
        do {
            return try strategy(name).hydrate(to: position)
        } catch let damage as DerivedDataDamage {
            reportDamage(damage)
            _ = try derived(forceReason: "a damaged row was found")
            return try strategy(name).hydrate(to: position)
        }
    }

    func reportDamage(_ damage: DerivedDataDamage) {
        foundDamage = true
        Output.diagnostic("\(logName): \(damage); not used, rebuilding derived data from the log")
    }
}
