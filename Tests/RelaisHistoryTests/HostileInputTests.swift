import Foundation
import Testing

@testable import RelaisHistory

@Suite("Hostile input")
struct HostileInputTests {
    @Test func longStringsAreCutToTheirLimits() throws {
        let store = try memoryStore()
        let huge = String(repeating: "x", count: 1_000_000)
        try store.error(ErrorRecord(at: t(0), room: huge, consultation: huge, participant: huge, code: huge, message: huge))
        try store.cameraCommand(command(at: t(0), room: huge, participant: huge, camera: huge, command: huge, result: huge, detail: huge))

        let error = try #require(try store.errors(room: nil, since: t(-1)).first)
        #expect(error.message.utf8.count == HistoryLimits.longText)
        #expect(error.code.utf8.count == HistoryLimits.shortText)
        #expect(error.room?.utf8.count == HistoryLimits.shortText)
        // A filter with the same over-long room finds the row: lookups are bounded the same way.
        #expect(try store.errors(room: huge, since: t(-1)).count == 1)
        let stored = try #require(try store.cameraCommands(room: huge, since: t(-1)).first)
        #expect(stored.detail?.utf8.count == HistoryLimits.longText)
        #expect(stored.camera.utf8.count == HistoryLimits.shortText)

        try store.consultationStarted(id: huge, room: "r", at: t(0))
        try store.participantJoined(consultation: huge, participant: huge, subject: huge, name: huge, role: huge, at: t(1))
        try store.participantLeft(consultation: huge, participant: huge, reason: huge, at: t(2))
        try store.consultationEnded(id: huge, at: t(3), reason: huge)
        let consultation = try #require(try store.consultation(id: huge))
        #expect(consultation.id.utf8.count == HistoryLimits.shortText)
        #expect(consultation.endReason?.utf8.count == HistoryLimits.longText)
        #expect(consultation.participants.first?.leaveReason?.utf8.count == HistoryLimits.longText)
    }

    @Test func cutsNeverSplitAScalar() throws {
        // 3-byte scalars: the limit is not a multiple of 3, so the cut must stop short of it.
        let euros = String(repeating: "€", count: 2_000)
        let cut = StoredText.bounded(euros, maxBytes: HistoryLimits.longText)
        #expect(cut.utf8.count == HistoryLimits.longText / 3 * 3)
        #expect(cut.unicodeScalars.allSatisfy { $0 == "€" })
        let emoji = String(repeating: "👩‍⚕️", count: 100)
        let emojiCut = StoredText.bounded(emoji, maxBytes: 10)
        #expect(emojiCut.utf8.count <= 10)
        #expect(String(validating: Array(emojiCut.utf8), as: UTF8.self) != nil)
        #expect(StoredText.bounded("short", maxBytes: 10) == "short")
    }

    @Test func emptyStringsAreFine() throws {
        let store = try memoryStore()
        try store.consultationStarted(id: "", room: "", at: t(0))
        try store.participantJoined(consultation: "", participant: "", subject: "", name: "", role: "", at: t(1))
        try store.participantLeft(consultation: "", participant: "", reason: "", at: t(2))
        try store.consultationEnded(id: "", at: t(3), reason: "")
        let record = try #require(try store.consultation(id: ""))
        #expect(record.room == "")
        #expect(record.endReason == "")
        #expect(record.participants.first?.leaveReason == "")
        let empty = command(at: t(4), room: "", consultation: "", participant: "", camera: "", command: "", result: "", detail: "")
        try store.cameraCommand(empty)
        #expect(try store.cameraCommands(room: "", since: t(0)) == [empty])
    }

    @Test func sqlMetacharactersAreStoredVerbatim() throws {
        let store = try memoryStore()
        let nasty = [
            "'; DROP TABLE consultation; --",
            "\" OR 1=1 --",
            "Robert'); DELETE FROM audit_error WHERE ('1'='1",
            "%_\\*?[]",
            "line1\nline2\r\n\ttab",
            "Ünïcødé 医生 🎥",
        ]
        for (i, text) in nasty.enumerated() {
            try store.consultationStarted(id: text, room: text, at: t(Double(i)))
            try store.error(ErrorRecord(at: t(Double(i)), room: text, consultation: text, participant: text, code: text, message: text))
        }
        for text in nasty {
            #expect(try store.consultation(id: text)?.room == text)
            #expect(try store.errors(room: text, since: t(-1)).map(\.message) == [text])
        }
        #expect(try store.consultations(since: t(-1)).count == nasty.count)
        // LIKE-style wildcards are not wildcards: an exact match only.
        #expect(try store.errors(room: "%", since: t(-1)).isEmpty)
    }

    @Test func nulIsReplacedNotTruncating() throws {
        let store = try memoryStore()
        try store.error(ErrorRecord(at: t(0), room: "r", consultation: nil, participant: nil, code: "c", message: "before\0after"))
        #expect(try store.errors(room: "r", since: t(-1)).map(\.message) == ["before\u{FFFD}after"])
    }

    @Test func nonFiniteDatesDoNotTrap() throws {
        let store = try memoryStore()
        try store.cameraCommand(command(at: Date(timeIntervalSince1970: .infinity)))
        try store.cameraCommand(command(at: Date(timeIntervalSince1970: -.infinity)))
        try store.cameraCommand(command(at: Date(timeIntervalSince1970: .nan)))
        #expect(try store.cameraCommands(room: nil, since: .distantPast).count == 2)
        #expect(try store.cameraCommands(room: nil, since: Date(timeIntervalSince1970: -.infinity)).count == 3)
        #expect(try store.cameraCommands(room: nil, since: .distantPast, limit: .max).count == 2)
    }
}
