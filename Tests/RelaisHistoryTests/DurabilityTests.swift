import Foundation
import Testing

@testable import RelaisHistory

/// A process killed with SIGKILL leaves the database file, its `-wal` log and its `-shm` index
/// behind, with no chance to checkpoint or close. These tests reproduce that state in-process;
/// the real `kill -9` of the relay is covered end to end.
@Suite("Durability (WAL)")
struct DurabilityTests {
    static let keepEverything = Duration.seconds(100 * 365 * 86_400)

    static func configuration(_ path: String) -> HistoryConfiguration {
        HistoryConfiguration(path: path, retention: keepEverything)
    }

    /// Writes one row of each kind; every call has returned (committed) when this returns.
    static func writeRows(_ store: HistoryStore, count: Int) throws {
        for i in 0..<count {
            try store.consultationStarted(id: "c\(i)", room: "r", at: t(Double(i)))
            try store.participantJoined(consultation: "c\(i)", participant: "p", subject: "s", name: "n", role: "r", at: t(Double(i)))
            try store.cameraCommand(command(at: t(Double(i)), consultation: "c\(i)"))
            try store.error(ErrorRecord(at: t(Double(i)), room: "r", consultation: "c\(i)", participant: nil, code: "e", message: "m\(i)"))
        }
        try store.consultationEnded(id: "c0", at: t(1000), reason: "done")
    }

    static func expectRows(_ store: HistoryStore, count: Int) throws {
        let consultations = try store.consultations(since: t(-1), limit: 10_000)
        #expect(consultations.count == count)
        #expect(consultations.allSatisfy { $0.participants.count == 1 })
        #expect(try store.consultation(id: "c0")?.endReason == "done")
        #expect(try store.cameraCommands(room: nil, since: t(-1), limit: 10_000).count == count)
        #expect(try store.errors(room: nil, since: t(-1), limit: 10_000).map(\.message) == (0..<count).map { "m\($0)" })
    }

    @Test func fileStoreIsInWALModeWithNormalSync() throws {
        let directory = try TemporaryDirectory()
        let store = try HistoryStore(configuration: Self.configuration(directory.path("h.sqlite")))
        #expect(try store.pragma("journal_mode") == "wal")
        #expect(try store.pragma("synchronous") == "1")
        try store.close()
    }

    @Test func aSecondStoreSeesEveryReturnedWriteWhileTheFirstIsStillOpen() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("h.sqlite")
        let writer = try HistoryStore(configuration: Self.configuration(path))
        try Self.writeRows(writer, count: 50)
        // The first store is neither closed nor checkpointed: rows are in the log.
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        let reader = try HistoryStore(configuration: Self.configuration(path))
        try Self.expectRows(reader, count: 50)
        // And both can keep writing (the second waits for the first's write lock if needed).
        try reader.cameraCommand(command(at: t(5000)))
        try writer.cameraCommand(command(at: t(5001)))
        #expect(try writer.cameraCommands(room: nil, since: t(4999)).count == 2)
        try reader.close()
        try writer.close()
    }

    @Test func aStoreNeverClosedLeavesADatabaseThatReopensWithEveryRow() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("h.sqlite")
        let leaked = try HistoryStore(configuration: Self.configuration(path))
        // Never released, never closed: like a process that died, its connections stay as they were.
        _ = Unmanaged.passRetained(leaked)
        try Self.writeRows(leaked, count: 30)
        let walSize = try #require(try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int)
        #expect(walSize > 0)

        let reopened = try HistoryStore(configuration: Self.configuration(path))
        try Self.expectRows(reopened, count: 30)
        #expect(try reopened.closeDangling(at: t(2000), reason: "server_restart") == 29)
        try reopened.close()
    }

    @Test func theFilesAKilledProcessLeavesBehindRecover() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("live/h.sqlite")
        let store = try HistoryStore(configuration: Self.configuration(path))
        _ = Unmanaged.passRetained(store)
        try Self.writeRows(store, count: 40)

        // What is on disk after SIGKILL: the main file (possibly without any of the rows) and the
        // log; the shared-memory index is rebuilt by the next opener, so leave it out.
        let crashed = directory.path("crashed/h.sqlite")
        try FileManager.default.createDirectory(atPath: directory.path("crashed"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: path, toPath: crashed)
        try FileManager.default.copyItem(atPath: path + "-wal", toPath: crashed + "-wal")

        let recovered = try HistoryStore(configuration: Self.configuration(crashed))
        try Self.expectRows(recovered, count: 40)
        try recovered.close()
    }

    @Test func aTornLogTailIsIgnored() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("live/h.sqlite")
        let store = try HistoryStore(configuration: Self.configuration(path))
        _ = Unmanaged.passRetained(store)
        try Self.writeRows(store, count: 10)

        // A kill in the middle of a commit leaves a partial frame at the end of the log: SQLite
        // checks each frame's checksum and stops at the first bad one, so the committed rows stay.
        let crashed = directory.path("crashed/h.sqlite")
        try FileManager.default.createDirectory(atPath: directory.path("crashed"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: path, toPath: crashed)
        var log = try Data(contentsOf: URL(fileURLWithPath: path + "-wal"))
        log.append(Data(repeating: 0xA5, count: 3000))
        try log.write(to: URL(fileURLWithPath: crashed + "-wal"))

        let recovered = try HistoryStore(configuration: Self.configuration(crashed))
        try Self.expectRows(recovered, count: 10)
        try recovered.cameraCommand(command(at: t(9999)))
        #expect(try recovered.cameraCommands(room: nil, since: t(9998)).count == 1)
        try recovered.close()
    }
}
