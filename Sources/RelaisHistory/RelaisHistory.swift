// RelaisHistory: the consultation history and audit trail, kept in SQLite.
//
// Operators need to know, after the fact, who was in which consultation, who moved which camera
// and what went wrong, and that record must outlive the relay process: a restart, an upgrade, or
// a `kill -9` by the OOM killer or an impatient operator.
//
// Why SQLite in write-ahead-log mode: every write here is one short transaction. In WAL mode a
// commit appends to `<file>-wal` and returns; when the process dies, the log is still in the
// file system (the kernel owns the page cache) and the next open replays every committed frame,
// while frames of an unfinished transaction are ignored. So a row whose write returned survives
// `kill -9`, a half-written one never appears, and readers (the admin API, the monitor) never
// block the writer. `synchronous=NORMAL` skips the fsync on each commit; it keeps the guarantee
// above against a process crash and gives up only the last commits on a power loss or kernel
// crash, an acceptable trade for an audit trail written at signaling rate.
//
// Why a leaf module: the server, the monitor, the CLIs and tests all read or write history, and
// none of them should drag in the media stack to do so. The API takes and returns plain strings
// and dates; mapping Relais' typed identifiers to strings is the caller's job.
//
// Untrusted input: every string is bound as an SQL parameter (never spliced into SQL), cut to a
// byte limit at a Unicode scalar boundary (HistoryLimits), and NUL characters are replaced by
// U+FFFD because SQLite's C string API would otherwise cut the text there on the way back.

/// Where the history lives and how long it is kept.
public struct HistoryConfiguration: Sendable {
    /// The database file; its parent directories are created at open. `":memory:"` gives an
    /// ephemeral database for tests (no WAL, gone when the store is released).
    public var path: String
    /// Rows older than this are pruned: ended consultations (by end time) with their participants,
    /// camera commands and errors (by their time). Open consultations are never pruned.
    /// Default 90 days.
    public var retention: Duration

    public init(path: String, retention: Duration = .seconds(90 * 86_400)) {
        self.path = path
        self.retention = retention
    }

    /// The path that asks for an in-memory database.
    public static let inMemoryPath = ":memory:"
}

/// Byte limits (UTF-8) applied to every stored string; longer input is cut.
public enum HistoryLimits {
    /// Identifiers, rooms, names, roles, camera names, commands, results and error codes.
    public static let shortText = 256
    /// Error messages, command details, end and leave reasons.
    public static let longText = 2048
}

/// Why a history operation failed. Wraps SQLite and file system failures with a message that
/// names the operation and the file.
public enum HistoryError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The configuration cannot be used (for example an empty path).
    case invalidConfiguration(String)
    /// The parent directory of the database file could not be created.
    case cannotCreateDirectory(path: String, reason: String)
    /// SQLite could not open the file (permissions, not a database, a directory...).
    case cannotOpen(path: String, reason: String)
    /// The schema could not be created or upgraded.
    case migrationFailed(path: String, reason: String)
    /// A read or write failed (disk full, I/O error, database locked for too long...).
    case database(operation: String, reason: String)
    /// The store was closed with ``HistoryStore/close()``.
    case closed

    public var description: String {
        switch self {
        case .invalidConfiguration(let reason):
            "history: invalid configuration: \(reason)"
        case .cannotCreateDirectory(let path, let reason):
            "history: cannot create directory \(path): \(reason)"
        case .cannotOpen(let path, let reason):
            "history: cannot open database \(path): \(reason)"
        case .migrationFailed(let path, let reason):
            "history: cannot create or upgrade the schema of \(path): \(reason)"
        case .database(let operation, let reason):
            "history: \(operation) failed: \(reason)"
        case .closed:
            "history: the store is closed"
        }
    }
}
