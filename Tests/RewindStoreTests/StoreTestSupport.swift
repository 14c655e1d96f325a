import Foundation
import GRDB
import RewindTestSupport
@testable import RewindCore
@testable import RewindStore

/// A fresh temporary folder per test.
func temporaryDirectory() -> URL {
    let url = TestFolders.root.appendingPathComponent("rewind-tests-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
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
