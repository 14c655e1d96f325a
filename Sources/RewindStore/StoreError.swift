import GRDB

/// A problem with a store: it cannot be opened, or is not a rewind store.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// The store file is damaged (SQLite reports corruption, or the file is shorter than it says).
    public var isDamage: Bool
    /// A store of an older format (rebuilt from its log like a damaged one).
    public var isOutdated: Bool
    /// A server's connection was lost midway (PostgreSQL): a read may be tried again.
    public var isConnectionLost = false
    /// A server's SQLSTATE code for the failure (PostgreSQL), e.g. `42P01` for a missing table.
    public var sqlState: String?
    public init(_ message: String, isDamage: Bool = false, isOutdated: Bool = false, isConnectionLost: Bool = false, sqlState: String? = nil) {
        self.message = message
        self.isDamage = isDamage
        self.isOutdated = isOutdated
        self.isConnectionLost = isConnectionLost
        self.sqlState = sqlState
    }
    public var description: String { message }

    /// A SQLite failure on the store at `location` as a message that names the file and says
    /// what failed (a read-only file or folder, a full disk, an I/O error); damage stays damage.
    public static func from(_ error: DatabaseError, location: String, doing what: String) -> StoreError {
        let detail = error.message ?? "\(error.resultCode)"
        switch error.resultCode.primaryResultCode {
        case .SQLITE_READONLY, .SQLITE_PERM:
            return StoreError("\(location): cannot \(what): the store is read-only (\(detail)); make it writable, or remove it to have it made again")
        case .SQLITE_FULL:
            return StoreError("\(location): cannot \(what): the disk is full (\(detail))")
        case .SQLITE_IOERR:
            return StoreError("\(location): cannot \(what): an I/O error (\(detail))")
        case .SQLITE_CANTOPEN:
            return StoreError("\(location): cannot \(what): the file cannot be opened (\(detail))")
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return StoreError("\(location): the store is damaged (\(detail))", isDamage: true)
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return StoreError("\(location): cannot \(what): another process holds the store (\(detail))")
        default:
            return StoreError("\(location): cannot \(what): \(detail)")
        }
    }

    /// Whether `error` means the store file itself is damaged.
    public static func isDamage(_ error: any Error) -> Bool {
        if let e = error as? StoreError { return e.isDamage }
        if let e = error as? DatabaseError { return e.resultCode == .SQLITE_CORRUPT || e.resultCode == .SQLITE_NOTADB }
        return false
    }
}
