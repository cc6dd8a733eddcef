import Foundation
import Testing

@testable import RelaisHistory

@Suite("History round trips, ordering and filters")
struct RoundTripTests {
    @Test func consultationWithParticipantsRoundTrips() throws {
        let store = try memoryStore()
        try store.consultationStarted(id: "c1", room: "room-a", at: t(0.123))
        try store.participantJoined(consultation: "c1", participant: "p1", subject: "dr-house", name: "Dr House", role: "expert", at: t(1))
        try store.participantJoined(consultation: "c1", participant: "p2", subject: "cart-7", name: "Cart 7", role: "cart", at: t(2))
        try store.participantLeft(consultation: "c1", participant: "p1", reason: "hangup", at: t(30))
        try store.consultationEnded(id: "c1", at: t(60.5), reason: "empty")

        let expected = ConsultationRecord(
            id: "c1", room: "room-a", startedAt: t(0.123), endedAt: t(60.5), endReason: "empty",
            participants: [
                ParticipantRecord(
                    participant: "p1", subject: "dr-house", name: "Dr House", role: "expert", joinedAt: t(1),
                    leftAt: t(30), leaveReason: "hangup"),
                // Still open when the consultation ended: closed with the consultation's end.
                ParticipantRecord(
                    participant: "p2", subject: "cart-7", name: "Cart 7", role: "cart", joinedAt: t(2),
                    leftAt: t(60.5), leaveReason: "empty"),
            ])
        #expect(try store.consultation(id: "c1") == expected)
        #expect(try store.consultations(since: t(0)) == [expected])
        #expect(try store.consultation(id: "nope") == nil)
    }

    @Test func datesKeepMillisecondPrecision() throws {
        let store = try memoryStore()
        let start = Date(timeIntervalSince1970: 1_750_000_000.123_456)
        try store.consultationStarted(id: "c1", room: "r", at: start)
        let stored = try #require(try store.consultation(id: "c1")).startedAt
        #expect(stored == Date(timeIntervalSince1970: 1_750_000_000.123))
        #expect(abs(stored.timeIntervalSince(start)) < 0.001)
    }

    @Test func rejoinAddsASessionAndLeaveClosesTheLatest() throws {
        let store = try memoryStore()
        try store.consultationStarted(id: "c1", room: "r", at: t(0))
        try store.participantJoined(consultation: "c1", participant: "p1", subject: "s", name: "n", role: "cart", at: t(1))
        try store.participantLeft(consultation: "c1", participant: "p1", reason: "network", at: t(5))
        try store.participantJoined(consultation: "c1", participant: "p1", subject: "s", name: "n", role: "cart", at: t(8))
        try store.participantLeft(consultation: "c1", participant: "p1", reason: "hangup", at: t(20))
        // A second leave with no open session changes nothing.
        try store.participantLeft(consultation: "c1", participant: "p1", reason: "again", at: t(25))

        let sessions = try #require(try store.consultation(id: "c1")).participants
        #expect(sessions.map(\.joinedAt) == [t(1), t(8)])
        #expect(sessions.map(\.leftAt) == [t(5), t(20)])
        #expect(sessions.map(\.leaveReason) == ["network", "hangup"])
    }

    @Test func unknownIdsAndRepeatsAreNoOps() throws {
        let store = try memoryStore()
        try store.consultationEnded(id: "ghost", at: t(1), reason: "x")
        try store.participantLeft(consultation: "ghost", participant: "p", reason: "x", at: t(1))
        try store.consultationStarted(id: "c1", room: "first", at: t(0))
        try store.consultationStarted(id: "c1", room: "second", at: t(3))
        try store.consultationEnded(id: "c1", at: t(10), reason: "done")
        try store.consultationEnded(id: "c1", at: t(20), reason: "later")

        #expect(try store.consultations(since: t(-100)) == [
            ConsultationRecord(id: "c1", room: "first", startedAt: t(0), endedAt: t(10), endReason: "done")
        ])
    }

    @Test func cameraCommandsRoundTripOldestFirstWithFilters() throws {
        let store = try memoryStore()
        let records = [
            command(at: t(3), room: "room-a", detail: "pan +10"),
            command(at: t(1), room: "room-b", consultation: nil, command: "zoom", result: "rejected", detail: nil),
            command(at: t(2), room: "room-a", participant: "p2", camera: "cam-2", command: "tilt", result: "coalesced"),
            command(at: t(2), room: "room-a", command: "stop"),
        ]
        for record in records { try store.cameraCommand(record) }

        // Same time: insertion order.
        #expect(try store.cameraCommands(room: nil, since: t(0)) == [records[1], records[2], records[3], records[0]])
        #expect(try store.cameraCommands(room: "room-a", since: t(0)) == [records[2], records[3], records[0]])
        #expect(try store.cameraCommands(room: "room-a", since: t(2.5)) == [records[0]])
        #expect(try store.cameraCommands(room: nil, since: t(0), limit: 2) == [records[1], records[2]])
        #expect(try store.cameraCommands(room: "room-c", since: t(0)).isEmpty)
        #expect(try store.cameraCommands(room: nil, since: t(0), limit: 0).isEmpty)
        #expect(try store.cameraCommands(room: nil, since: t(0), limit: -5).isEmpty)
    }

    @Test func errorsRoundTripOldestFirstWithFilters() throws {
        let store = try memoryStore()
        let records = [
            ErrorRecord(at: t(5), room: "room-a", consultation: "c1", participant: "p1", code: "ice_failed", message: "no pair"),
            ErrorRecord(at: t(1), room: nil, consultation: nil, participant: nil, code: "bad_token", message: "expired"),
            ErrorRecord(at: t(3), room: "room-b", consultation: nil, participant: "p9", code: "dtls", message: ""),
        ]
        for record in records { try store.error(record) }

        #expect(try store.errors(room: nil, since: t(0)) == [records[1], records[2], records[0]])
        #expect(try store.errors(room: "room-a", since: t(0)) == [records[0]])
        #expect(try store.errors(room: nil, since: t(2)) == [records[2], records[0]])
        #expect(try store.errors(room: nil, since: t(0), limit: 1) == [records[1]])
    }

    @Test func consultationsNewestFirstFilteredBySinceAndRoom() throws {
        let store = try memoryStore()
        // old: started and ended before `since`; long: started before, still open;
        // lateEnd: started before, ended after; a1/b1: started after.
        try store.consultationStarted(id: "old", room: "a", at: t(0))
        try store.consultationEnded(id: "old", at: t(10), reason: "done")
        try store.consultationStarted(id: "long", room: "a", at: t(5))
        try store.consultationStarted(id: "lateEnd", room: "b", at: t(6))
        try store.consultationEnded(id: "lateEnd", at: t(150), reason: "done")
        try store.consultationStarted(id: "a1", room: "a", at: t(200))
        try store.consultationStarted(id: "b1", room: "b", at: t(300))
        try store.participantJoined(consultation: "b1", participant: "p", subject: "s", name: "n", role: "r", at: t(301))

        let since = t(100)
        #expect(try store.consultations(since: since).map(\.id) == ["b1", "a1", "lateEnd", "long"])
        #expect(try store.consultations(since: since, room: "a").map(\.id) == ["a1", "long"])
        #expect(try store.consultations(since: since, limit: 1).map(\.id) == ["b1"])
        #expect(try store.consultations(since: since, limit: 1).first?.participants.count == 1)
        #expect(try store.consultations(since: t(-1)).map(\.id) == ["b1", "a1", "lateEnd", "long", "old"])
        #expect(try store.consultations(since: since, room: "nowhere").isEmpty)
        #expect(try store.consultations(since: since, limit: 0).isEmpty)
    }

    @Test func manyConsultationsKeepTheirOwnParticipants() throws {
        let store = try memoryStore()
        // More than one IN-list batch (500 ids) of participants.
        for i in 0..<1_200 {
            try store.consultationStarted(id: "c\(i)", room: "r", at: t(Double(i)))
            try store.participantJoined(consultation: "c\(i)", participant: "p\(i)", subject: "s", name: "n", role: "r", at: t(Double(i)))
        }
        let all = try store.consultations(since: t(0), limit: 5_000)
        #expect(all.count == 1_200)
        #expect(all.allSatisfy { $0.participants.map(\.participant) == ["p" + $0.id.dropFirst()] })
    }

    @Test func storeIsUsableFromConcurrentTasks() async throws {
        let store = try memoryStore()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for i in 0..<25 {
                        try store.cameraCommand(command(at: t(Double(i)), participant: "w\(worker)"))
                        _ = try store.cameraCommands(room: "room-a", since: t(0), limit: 10)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try store.cameraCommands(room: nil, since: t(0), limit: 10_000).count == 200)
    }

    @Test func recordsAreCodable() throws {
        let record = ConsultationRecord(
            id: "c", room: "r", startedAt: t(1), endedAt: nil, endReason: nil,
            participants: [ParticipantRecord(participant: "p", subject: "s", name: "n", role: "r", joinedAt: t(2))])
        let data = try JSONEncoder().encode(record)
        #expect(try JSONDecoder().decode(ConsultationRecord.self, from: data) == record)
    }
}
