import Foundation
import GRDB
@testable import RewindCore
@testable import RewindStore

/// A fresh temporary folder per test.
func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("rewind-tests-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

extension SQLiteStore {
    /// Every row of every table that an import writes, as text: equal dumps, equal stores.
    func dump() throws -> String {
        try queue.read { db in
            var out = ""
            for (table, order) in [("events", "pos"), ("duplicates", "line"), ("rejected", "line"), ("backwards", "line")] {
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY \(order)") {
                    out += "\(table): \(row.description)\n"
                }
            }
            let c = try Row.fetchOne(db, sql: "SELECT line, byte_offset, hash_state, quarantine_length, latest, sorted, blank_lines, tail, complete FROM import_state")
            out += "checkpoint: \(c?.description ?? "none")\n"
            return out
        }
    }
}

func importFile(_ path: String, store: SQLiteStore, quarantine: String? = nil,
                diagnostics: inout [ImportDiagnostic]) throws -> ImportResult {
    let importer = JSONLImporter(path: path, store: store, quarantinePath: quarantine ?? LogOpener.quarantinePath(forLog: path))
    var seen: [ImportDiagnostic] = []
    importer.onDiagnostic = { seen.append($0) }
    let result = try importer.run()
    diagnostics = seen
    return result
}

func importFile(_ path: String, store: SQLiteStore) throws -> ImportResult {
    var ignored: [ImportDiagnostic] = []
    return try importFile(path, store: store, diagnostics: &ignored)
}

func line(_ id: String, _ ts: String, stream: String = "s", type: String = "T", data: String = "{}") -> String {
    #"{"id":"\#(id)","ts":"\#(ts)","service":"svc","stream":"\#(stream)","type":"\#(type)","data":\#(data)}"#
}
