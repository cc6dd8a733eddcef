import Foundation
import Testing

@testable import RelaisHistory

@Suite("Retention and dangling consultations")
struct RetentionTests {
    static let day: Double = 86_400

    @Test func pruneDeletesRowsOlderThanRetentionAndKeepsNewerAndOpen() throws {
        let store = try memoryStore(retention: .seconds(30 * 86_400))
        let now = t(100 * Self.day)
        // Ended 40 days ago: pruned with its participants.
        try store.consultationStarted(id: "old", room: "r", at: t(59 * Self.day))
        try store.participantJoined(consultation: "old", participant: "p1", subject: "s", name: "n", role: "r", at: t(59 * Self.day))
        try store.participantJoined(consultation: "old", participant: "p2", subject: "s", name: "n", role: "r", at: t(59 * Self.day))
        try store.consultationEnded(id: "old", at: t(60 * Self.day), reason: "done")
        // Started long ago, ended 10 days ago: kept.
        try store.consultationStarted(id: "recentEnd", room: "r", at: t(1 * Self.day))
        try store.consultationEnded(id: "recentEnd", at: t(90 * Self.day), reason: "done")
        // Started 99 days ago and never ended: never pruned, nor its participants.
        try store.consultationStarted(id: "open", room: "r", at: t(1 * Self.day))
        try store.participantJoined(consultation: "open", participant: "p3", subject: "s", name: "n", role: "r", at: t(1 * Self.day))
        // A participant of a consultation never recorded, joined long ago: pruned.
        try store.participantJoined(consultation: "lost", participant: "p4", subject: "s", name: "n", role: "r", at: t(2 * Self.day))
        // Audit rows either side of the cutoff (70 days).
        try store.cameraCommand(command(at: t(69 * Self.day)))
        try store.cameraCommand(command(at: t(71 * Self.day)))
        try store.error(ErrorRecord(at: t(69 * Self.day), room: nil, consultation: nil, participant: nil, code: "x", message: "old"))
        try store.error(ErrorRecord(at: t(71 * Self.day), room: nil, consultation: nil, participant: nil, code: "x", message: "new"))

        // old + its 2 participants + the lost participant + 1 command + 1 error.
        #expect(try store.prune(now: now) == 6)
        #expect(try store.consultations(since: t(0)).map(\.id).sorted() == ["open", "recentEnd"])
        #expect(try store.consultation(id: "open")?.participants.map(\.participant) == ["p3"])
        #expect(try store.cameraCommands(room: nil, since: t(0)).map(\.at) == [t(71 * Self.day)])
        #expect(try store.errors(room: nil, since: t(0)).map(\.message) == ["new"])
        #expect(try store.prune(now: now) == 0)
    }

    @Test func pruneWorksAcrossBatches() throws {
        let store = try memoryStore(retention: .seconds(60))
        let batch = HistoryStore.pruneBatch
        for i in 0..<(batch * 2 + 7) {
            try store.cameraCommand(command(at: t(Double(i) / 1000)))
        }
        for i in 0..<(batch + 3) {
            try store.consultationStarted(id: "c\(i)", room: "r", at: t(0))
            try store.consultationEnded(id: "c\(i)", at: t(1), reason: "done")
        }
        #expect(try store.prune(now: t(3600)) == batch * 3 + 10)
        #expect(try store.cameraCommands(room: nil, since: t(-1)).isEmpty)
        #expect(try store.consultations(since: t(-1)).isEmpty)
    }

    @Test func openPrunesOnce() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path("history.sqlite")
        let now = Date()
        do {
            let store = try HistoryStore(configuration: HistoryConfiguration(path: path))
            try store.cameraCommand(command(at: now.addingTimeInterval(-100 * Self.day)))
            try store.cameraCommand(command(at: now.addingTimeInterval(-1 * Self.day)))
            try store.close()
        }
        let reopened = try HistoryStore(configuration: HistoryConfiguration(path: path, retention: .seconds(30 * 86_400)))
        let left = try reopened.cameraCommands(room: nil, since: .distantPast)
        #expect(left.count == 1)
        #expect(abs(try #require(left.first).at.timeIntervalSince(now.addingTimeInterval(-Self.day))) < 0.001)
    }

    @Test func closeDanglingEndsOpenConsultationsAndSessions() throws {
        let store = try memoryStore()
        try store.consultationStarted(id: "open1", room: "r", at: t(0))
        try store.participantJoined(consultation: "open1", participant: "p1", subject: "s", name: "n", role: "r", at: t(1))
        try store.participantJoined(consultation: "open1", participant: "p2", subject: "s", name: "n", role: "r", at: t(2))
        try store.participantLeft(consultation: "open1", participant: "p2", reason: "hangup", at: t(3))
        try store.consultationStarted(id: "open2", room: "r", at: t(5))
        try store.consultationStarted(id: "ended", room: "r", at: t(0))
        try store.consultationEnded(id: "ended", at: t(4), reason: "done")

        #expect(try store.closeDangling(at: t(100), reason: "server_restart") == 2)

        let open1 = try #require(try store.consultation(id: "open1"))
        #expect(open1.endedAt == t(100))
        #expect(open1.endReason == "server_restart")
        #expect(open1.participants.map(\.leftAt) == [t(100), t(3)])
        #expect(open1.participants.map(\.leaveReason) == ["server_restart", "hangup"])
        #expect(try store.consultation(id: "open2")?.endReason == "server_restart")
        #expect(try store.consultation(id: "ended")?.endedAt == t(4))
        #expect(try store.consultation(id: "ended")?.endReason == "done")
        #expect(try store.closeDangling(at: t(200), reason: "server_restart") == 0)
    }
}
