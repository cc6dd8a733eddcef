public import Foundation
import GRDB
import Synchronization

/// The history and audit store: one SQLite database in WAL mode.
///
/// Thread safety: a store can be shared by any number of threads, tasks and actors. Writes are
/// serialized on one connection (GRDB's `DatabasePool` writer queue); reads run concurrently on
/// their own connections and see every write that had returned before they started.
///
/// Blocking: every method is synchronous and blocks its caller for the duration of one short
/// SQLite transaction (typically tens to hundreds of microseconds; longer when a WAL checkpoint
/// runs or another process holds the write lock, up to the 5 s busy timeout). Call it from an
/// actor or a background task, never from a NIO event loop.
///
/// Durability: each write method is its own committed transaction; once it returns, the row
/// survives a `kill -9` of the process (see the module documentation). Every method throws only
/// ``HistoryError``.
///
/// Several processes may open the same file (a monitor reading while the relay writes); writers
/// then take turns, waiting up to the busy timeout. ``closeDangling(at:reason:)`` assumes a single
/// relay writes a given file.
public final class HistoryStore: Sendable {
    public let configuration: HistoryConfiguration

    private let writer: any DatabaseWriter
    private let closed = Mutex(false)

    /// How long a write waits for another connection's write lock before failing.
    static let busyTimeout: TimeInterval = 5
    /// Rows deleted per pruning transaction, so pruning never holds the write lock for long.
    static let pruneBatch = 1000
    /// Ids per `IN (...)` list, well under SQLite's parameter limit.
    static let idBatch = 500

    /// Opens the database at `configuration.path`, creating its parent directories and the schema
    /// (or upgrading it), switches it to WAL, and prunes rows older than the retention once.
    ///
    /// A database left behind by a process that was killed opens normally: SQLite replays the
    /// committed part of its write-ahead log.
    public init(configuration: HistoryConfiguration) throws {
        let path = configuration.path
        guard !path.isEmpty else {
            throw HistoryError.invalidConfiguration("the database path is empty (use \":memory:\" for an ephemeral store)")
        }
        var config = Configuration()
        config.label = "RelaisHistory"
        config.busyMode = .timeout(Self.busyTimeout)
        config.maximumReaderCount = 2
        config.prepareDatabase { db in
            // WAL + NORMAL: commits survive a process crash without an fsync each (module doc).
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }

        let writer: any DatabaseWriter
        if path == HistoryConfiguration.inMemoryPath {
            do {
                writer = try DatabaseQueue(configuration: config)
            } catch {
                throw HistoryError.cannotOpen(path: path, reason: String(describing: error))
            }
        } else {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw HistoryError.cannotCreateDirectory(path: directory.path, reason: String(describing: error))
            }
            do {
                // DatabasePool puts the database in WAL mode (persistent in the file).
                writer = try DatabasePool(path: path, configuration: config)
            } catch {
                throw HistoryError.cannotOpen(path: path, reason: String(describing: error))
            }
        }
        do {
            try Schema.migrator.migrate(writer)
        } catch {
            throw HistoryError.migrationFailed(path: path, reason: String(describing: error))
        }
        self.writer = writer
        self.configuration = configuration
        try prune()
    }

    // MARK: Writes

    /// Records the start of a consultation. Starting an id that is already recorded is ignored
    /// (the first start wins), so a retried call is harmless.
    public func consultationStarted(id: String, room: String, at: Date) throws {
        try write("consultationStarted") { db in
            try db.execute(
                sql: "INSERT INTO consultation (id, room, started_at) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING",
                arguments: [StoredText.short(id), StoredText.short(room), StoredTime.milliseconds(at)])
        }
    }

    /// Records the end of a consultation, and closes its participants still open with the same
    /// time and reason. An unknown or already ended id is a no-op (the first end wins).
    public func consultationEnded(id: String, at: Date, reason: String) throws {
        let id = StoredText.short(id)
        let at = StoredTime.milliseconds(at)
        let reason = StoredText.long(reason)
        try write("consultationEnded") { db in
            try db.execute(
                sql: "UPDATE consultation SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
                arguments: [at, reason, id])
            guard db.changesCount > 0 else { return }
            try db.execute(
                sql: "UPDATE participant SET left_at = ?, leave_reason = ? WHERE consultation = ? AND left_at IS NULL",
                arguments: [at, reason, id])
        }
    }

    /// Records a participant joining. Each call adds a row, so a rejoin after a drop is a second
    /// session of the same participant.
    public func participantJoined(
        consultation: String, participant: String, subject: String, name: String, role: String, at: Date
    ) throws {
        try write("participantJoined") { db in
            try db.execute(
                sql: """
                    INSERT INTO participant (consultation, participant, subject, name, role, joined_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    StoredText.short(consultation), StoredText.short(participant), StoredText.short(subject),
                    StoredText.short(name), StoredText.short(role), StoredTime.milliseconds(at),
                ])
        }
    }

    /// Closes the participant's latest open session in the consultation. No open session is a
    /// no-op.
    public func participantLeft(consultation: String, participant: String, reason: String, at: Date) throws {
        try write("participantLeft") { db in
            try db.execute(
                sql: """
                    UPDATE participant SET left_at = ?, leave_reason = ?
                    WHERE seq = (
                        SELECT seq FROM participant
                        WHERE consultation = ? AND participant = ? AND left_at IS NULL
                        ORDER BY joined_at DESC, seq DESC LIMIT 1)
                    """,
                arguments: [
                    StoredTime.milliseconds(at), StoredText.long(reason),
                    StoredText.short(consultation), StoredText.short(participant),
                ])
        }
    }

    /// Appends a camera command to the audit trail.
    public func cameraCommand(_ record: CameraCommandRecord) throws {
        try write("cameraCommand") { db in
            try db.execute(
                sql: """
                    INSERT INTO camera_command (at, room, consultation, participant, camera, command, result, detail)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    StoredTime.milliseconds(record.at), StoredText.short(record.room),
                    StoredText.short(record.consultation), StoredText.short(record.participant),
                    StoredText.short(record.camera), StoredText.short(record.command), StoredText.short(record.result),
                    StoredText.long(record.detail),
                ])
        }
    }

    /// Appends an error to the audit trail.
    public func error(_ record: ErrorRecord) throws {
        try write("error") { db in
            try db.execute(
                sql: """
                    INSERT INTO audit_error (at, room, consultation, participant, code, message)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    StoredTime.milliseconds(record.at), StoredText.short(record.room),
                    StoredText.short(record.consultation), StoredText.short(record.participant),
                    StoredText.short(record.code), StoredText.long(record.message),
                ])
        }
    }

    /// Ends every consultation still open, and closes every participant session still open, with
    /// `at` and `reason`. The relay calls it at startup (reason "server_restart"): whatever was
    /// open belonged to a process that is gone. Returns the number of consultations closed.
    @discardableResult
    public func closeDangling(at: Date, reason: String) throws -> Int {
        let at = StoredTime.milliseconds(at)
        let reason = StoredText.long(reason)
        return try write("closeDangling") { db in
            try db.execute(
                sql: "UPDATE consultation SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL",
                arguments: [at, reason])
            let consultations = db.changesCount
            try db.execute(
                sql: "UPDATE participant SET left_at = ?, leave_reason = ? WHERE left_at IS NULL",
                arguments: [at, reason])
            return consultations
        }
    }

    // MARK: Reads

    /// Consultations active at or after `since` (started since, ended since, or still open),
    /// newest start first, each with its participant sessions (oldest join first). `room` nil
    /// means every room. At most `limit` consultations (clamped to 0...100 000).
    public func consultations(since: Date, room: String? = nil, limit: Int = 200) throws -> [ConsultationRecord] {
        let since = StoredTime.milliseconds(since)
        let limit = StoredLimit.clamped(limit)
        guard limit > 0 else { return [] }
        var sql = """
            SELECT id, room, started_at, ended_at, end_reason FROM consultation
            WHERE (started_at >= ? OR ended_at IS NULL OR ended_at >= ?)
            """
        var arguments: StatementArguments = [since, since]
        if let room {
            sql += " AND room = ?"
            arguments += [StoredText.short(room)]
        }
        sql += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        arguments += [limit]
        return try read("consultations") { db in
            let rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
            return try Self.withParticipants(rows.map(Self.consultation(from:)), db)
        }
    }

    /// The consultation with this id, with its participant sessions, or nil.
    public func consultation(id: String) throws -> ConsultationRecord? {
        try read("consultation") { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT id, room, started_at, ended_at, end_reason FROM consultation WHERE id = ?",
                    arguments: [StoredText.short(id)])
            else { return nil }
            return try Self.withParticipants([Self.consultation(from: row)], db).first
        }
    }

    /// Camera commands at or after `since`, oldest first, at most `limit` (clamped to
    /// 0...100 000); to page on, ask again from the last one's time. `room` nil means every room.
    public func cameraCommands(room: String?, since: Date, limit: Int = 1000) throws -> [CameraCommandRecord] {
        let (sql, arguments) = Self.auditQuery(
            columns: "at, room, consultation, participant, camera, command, result, detail",
            table: "camera_command", room: room, since: since, limit: limit)
        guard let sql else { return [] }
        return try read("cameraCommands") { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                CameraCommandRecord(
                    at: StoredTime.date(row[0] as Int64), room: row[1], consultation: row[2], participant: row[3],
                    camera: row[4], command: row[5], result: row[6], detail: row[7])
            }
        }
    }

    /// Errors at or after `since`, oldest first, at most `limit` (clamped to 0...100 000).
    /// `room` nil means every room, including errors recorded without one.
    public func errors(room: String?, since: Date, limit: Int = 1000) throws -> [ErrorRecord] {
        let (sql, arguments) = Self.auditQuery(
            columns: "at, room, consultation, participant, code, message",
            table: "audit_error", room: room, since: since, limit: limit)
        guard let sql else { return [] }
        return try read("errors") { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                ErrorRecord(
                    at: StoredTime.date(row[0] as Int64), room: row[1], consultation: row[2], participant: row[3],
                    code: row[4], message: row[5])
            }
        }
    }

    // MARK: Retention

    /// Deletes rows older than `now - retention`: ended consultations whose end is older (with
    /// their participant sessions), participant sessions of unknown consultations, camera
    /// commands and errors. Open consultations are never pruned. Works in batches of short
    /// transactions. Returns the number of rows deleted.
    @discardableResult
    public func prune(now: Date = Date()) throws -> Int {
        let cutoff = StoredTime.milliseconds(now) - StoredTime.milliseconds(configuration.retention)
        var deleted = 0
        while true {
            let (count, more) = try write("prune") { db -> (Int, Bool) in
                let ids = try String.fetchAll(
                    db, sql: "SELECT id FROM consultation WHERE ended_at < ? LIMIT ?",
                    arguments: [cutoff, Self.pruneBatch])
                guard !ids.isEmpty else { return (0, false) }
                // Only placeholders are spliced into the SQL; the ids travel as parameters.
                let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
                try db.execute(
                    sql: "DELETE FROM participant WHERE consultation IN (\(marks))", arguments: StatementArguments(ids))
                var count = db.changesCount
                try db.execute(
                    sql: "DELETE FROM consultation WHERE id IN (\(marks))", arguments: StatementArguments(ids))
                count += db.changesCount
                return (count, ids.count == Self.pruneBatch)
            }
            deleted += count
            if !more { break }
        }
        deleted += try deleteInBatches(
            "participant",
            where: "joined_at < ? AND NOT EXISTS (SELECT 1 FROM consultation c WHERE c.id = participant.consultation)",
            cutoff: cutoff)
        deleted += try deleteInBatches("camera_command", where: "at < ?", cutoff: cutoff)
        deleted += try deleteInBatches("audit_error", where: "at < ?", cutoff: cutoff)
        return deleted
    }

    // MARK: Lifecycle

    /// Closes the database connections; later calls throw ``HistoryError/closed``. Closing twice
    /// is fine. Call it at shutdown, once the callers are done: a call racing with close may fail
    /// with ``HistoryError/database(operation:reason:)`` instead. Not calling it is safe too (the
    /// connections close when the store is released, and a killed process loses nothing).
    public func close() throws {
        try closed.withLock { isClosed in
            if isClosed { return }
            do {
                try writer.close()
            } catch {
                throw HistoryError.database(operation: "close", reason: String(describing: error))
            }
            isClosed = true
        }
    }

    // MARK: Internals

    /// Runs `body` in its own write transaction, mapping failures to ``HistoryError``.
    private func write<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
        if closed.withLock({ $0 }) { throw HistoryError.closed }
        do {
            return try writer.write(body)
        } catch let error as HistoryError {
            throw error
        } catch {
            throw HistoryError.database(operation: operation, reason: String(describing: error))
        }
    }

    /// Runs `body` in a read transaction (a consistent snapshot), mapping failures.
    private func read<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
        if closed.withLock({ $0 }) { throw HistoryError.closed }
        do {
            return try writer.read(body)
        } catch let error as HistoryError {
            throw error
        } catch {
            throw HistoryError.database(operation: operation, reason: String(describing: error))
        }
    }

    private func deleteInBatches(_ table: String, where condition: String, cutoff: Int64) throws -> Int {
        var deleted = 0
        while true {
            let count = try write("prune") { db -> Int in
                try db.execute(
                    sql: "DELETE FROM \(table) WHERE seq IN (SELECT seq FROM \(table) WHERE \(condition) LIMIT ?)",
                    arguments: [cutoff, Self.pruneBatch])
                return db.changesCount
            }
            deleted += count
            if count < Self.pruneBatch { return deleted }
        }
    }

    private static func auditQuery(
        columns: String, table: String, room: String?, since: Date, limit: Int
    ) -> (String?, StatementArguments) {
        let limit = StoredLimit.clamped(limit)
        guard limit > 0 else { return (nil, []) }
        var sql = "SELECT \(columns) FROM \(table) WHERE at >= ?"
        var arguments: StatementArguments = [StoredTime.milliseconds(since)]
        if let room {
            sql += " AND room = ?"
            arguments += [StoredText.short(room)]
        }
        sql += " ORDER BY at, seq LIMIT ?"
        arguments += [limit]
        return (sql, arguments)
    }

    private static func consultation(from row: Row) -> ConsultationRecord {
        ConsultationRecord(
            id: row[0], room: row[1], startedAt: StoredTime.date(row[2] as Int64),
            endedAt: StoredTime.date(row[3] as Int64?), endReason: row[4], participants: [])
    }

    /// Fills in the participant sessions of `consultations`, oldest join first.
    private static func withParticipants(_ consultations: [ConsultationRecord], _ db: Database) throws -> [ConsultationRecord] {
        guard !consultations.isEmpty else { return [] }
        var sessions: [String: [ParticipantRecord]] = [:]
        let ids = consultations.map(\.id)
        for start in stride(from: 0, to: ids.count, by: idBatch) {
            let chunk = Array(ids[start..<min(start + idBatch, ids.count)])
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT consultation, participant, subject, name, role, joined_at, left_at, leave_reason
                    FROM participant WHERE consultation IN (\(marks)) ORDER BY joined_at, seq
                    """,
                arguments: StatementArguments(chunk))
            for row in rows {
                sessions[row[0], default: []].append(
                    ParticipantRecord(
                        participant: row[1], subject: row[2], name: row[3], role: row[4],
                        joinedAt: StoredTime.date(row[5] as Int64), leftAt: StoredTime.date(row[6] as Int64?),
                        leaveReason: row[7]))
            }
        }
        return consultations.map { consultation in
            var consultation = consultation
            consultation.participants = sessions[consultation.id] ?? []
            return consultation
        }
    }

    /// A pragma's value as text, for tests and diagnostics (`journal_mode`, `synchronous`).
    func pragma(_ name: String) throws -> String? {
        try read("pragma") { db in try String.fetchOne(db, sql: "PRAGMA \(name)") }
    }
}
