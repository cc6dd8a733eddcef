import Foundation
import RelaisAdmin
import Testing
@testable import RelaisMonitor

@Suite struct SessionsTableTests {
    let text = Render.sessions(Fixtures.list, now: Fixtures.now)
    var lines: [Substring] { text.split(separator: "\n") }

    @Test func headerAndOneRowPerSession() {
        #expect(lines.count == 3)
        for title in ["ID", "ROOM", "AGE", "PART", "ROLES", "LOSS", "IN kbit/s", "OUT kbit/s", "CAMERA", "ATTENTION"] {
            #expect(lines[0].contains(title))
        }
    }

    @Test func theDisconnectedCartIsFlaggedAndListedFirst() throws {
        let row = lines[1]
        #expect(row.hasPrefix("!"))
        #expect(row.contains("stroke-1"))
        #expect(row.contains("c-stroke"))
        #expect(row.contains("3m12s"))
        #expect(row.contains("cart, 2 expert"))
        #expect(row.contains("5.1%"))
        #expect(row.contains("ER cart 3 disconnected"))
        #expect(row.contains("Dr. Weber"))  // camera controller, by name
        // in: 2480 + 32 + 31; out: 2400 + 32 + 2390
        #expect(row.contains("2543"))
        #expect(row.contains("4822"))
    }

    @Test func aHealthyRoomHasNoFlag() {
        let row = lines[2]
        #expect(row.hasPrefix(" "))
        #expect(row.contains("derm-7"))
        #expect(row.contains("1h02m"))
        #expect(row.contains("0.0%"))
        #expect(row.contains("1500"))
        #expect(row.hasSuffix("-"))  // no camera controller, nothing to report
    }

    @Test func columnsAreAligned() throws {
        let header = lines[0]
        let roomColumn = try #require(header.range(of: "ROOM")).lowerBound
        let offset = header.distance(from: header.startIndex, to: roomColumn)
        for row in lines.dropFirst() {
            let room = row.dropFirst(offset).prefix(while: { $0 != " " })
            #expect(["stroke-1", "derm-7"].contains(String(room)))
        }
    }

    @Test func noSessions() {
        #expect(Render.sessions(SessionList(generatedAt: Fixtures.now, sessions: []), now: Fixtures.now) == "no live consultations\n")
    }
}

@Suite struct HealthTests {
    @Test func lossAboveTwoPercentIsAnAlert() {
        var session = Fixtures.derm
        session.participants[1].subscribe?.tracks[0].fractionLost = 0.025
        let issues = Health.issues(of: session)
        #expect(Health.flag(issues) == "!")
        #expect(issues.map(\.text) == ["Dr. Kim out video loss 2.5%"])
    }

    @Test func aPeerConnectionNotConnectedIsAnAlert() {
        var session = Fixtures.derm
        session.participants[0].publish?.state = "connecting"
        #expect(Health.issues(of: session).map(\.text) == ["Derm cart publish connecting"])
    }

    @Test func aStalledVideoIsAnAlert() {
        var session = Fixtures.derm
        session.participants[0].publish?.tracks[0].bitrateKbps = 0
        #expect(Health.issues(of: session).map(\.text) == ["Derm cart video stalled"])
    }

    @Test func pastFreezesAreANoticeAndANewFreezeAnAlert() {
        var before = Fixtures.derm
        before.participants[0].publish?.tracks[0].freezes = 1
        #expect(Health.flag(Health.issues(of: before)) == "~")
        var after = before
        after.participants[0].publish?.tracks[0].freezes = 2
        let issues = Health.issues(of: after, previous: before)
        #expect(Health.flag(issues) == "!")
        #expect(issues.map(\.text) == ["Derm cart in video froze"])
        // Unchanged since the last refresh: nothing new to say.
        #expect(Health.issues(of: after, previous: after).isEmpty)
    }

    @Test func watchFlagsTheRoomWhoseVideoJustFroze() {
        var frozen = Fixtures.list
        frozen.sessions[0].participants[0].publish?.tracks[0].freezes = 1
        let text = Render.sessions(frozen, now: Fixtures.now, previous: Fixtures.list)
        let row = text.split(separator: "\n").first { $0.contains("derm-7") }
        #expect(row?.hasPrefix("!") == true)
        #expect(row?.contains("Derm cart in video froze") == true)
    }
}

@Suite struct ShowTests {
    let text = Render.session(Fixtures.stroke, now: Fixtures.now)

    @Test func headerSaysWhichConsultation() {
        #expect(text.hasPrefix("consultation c-stroke  room stroke-1  started 2026-11-25 14:24:15 UTC (3m12s ago)  loop 0  recording -\n"))
        #expect(text.contains("! attention: ER cart 3 disconnected; ER cart 3 in video loss 5.1%"))
    }

    @Test func participantsWithRoleNameState() {
        #expect(text.contains("! p-cart  cart  \"ER cart 3\"  disconnected"))
        #expect(text.contains("  p-weber  expert  \"Dr. Weber\"  connected"))
    }

    @Test func peerConnectionsWithPairDtlsAndSrtp() {
        #expect(text.contains("publish: connected  pair 127.0.0.1:40000 <-> 127.0.0.1:51234  dtls connected  srtp AEAD_AES_128_GCM"))
        #expect(text.contains("drops srtpAuth=2"))
        #expect(!text.contains("replay=0"))
        // The relay's congestion feedback to the cart: TWCC packets and the REMB ceiling.
        #expect(text.contains("twcc 393 fb / 5000 pkts  remb 2500"))
    }

    @Test func simulcastLayersAndTheLayerEachExpertReceives() {
        #expect(text.contains("layers of v1: q 320x180 30.0 fps 160 kbit/s -> 0, h 640x360 30.0 fps 510 kbit/s -> 0, f 1280x720 29.5 fps 1810 kbit/s -> 2"))
        #expect(text.contains("v1 receives layer f (3 switches)"))
    }

    @Test func trackLines() throws {
        for title in ["DIR", "KIND", "kbit/s", "PACKETS", "LOST", "LOSS", "JITTER ms", "RTT ms", "NACK", "PLI", "KEYFR", "FREEZES"] {
            #expect(text.contains(title))
        }
        let lossy = try #require(text.split(separator: "\n").first { $0.contains(" v1 ") && $0.contains(" in ") })
        #expect(lossy.contains("!"))
        #expect(lossy.contains("2480"))
        #expect(lossy.contains("51"))     // packets lost
        #expect(lossy.contains("5.1%"))
        #expect(lossy.contains("4.3"))    // jitter 4.25 ms, rounded half away from zero
        let forwarded = try #require(text.split(separator: "\n").first { $0.contains(" out ") && $0.contains("2400") })
        #expect(forwarded.contains("ER cart 3"))  // from
        #expect(forwarded.contains("31.5"))       // RTT
    }

    @Test func camerasWithController() {
        #expect(text.contains("cam-1"))
        #expect(text.contains("Dr. Weber (p-weber)"))
        #expect(text.contains("yes"))
    }
}

@Suite struct HistoryAuditTests {
    @Test func history() {
        let start = Fixtures.now.addingTimeInterval(-7200)
        let list = HistoryList(since: Fixtures.now.addingTimeInterval(-86_400), consultations: [
            PastConsultation(id: "c-live", room: "stroke-1", startedAt: Fixtures.now.addingTimeInterval(-60), endedAt: nil, endReason: nil, participants: []),
            PastConsultation(id: "c-old", room: "derm-7", startedAt: start, endedAt: start.addingTimeInterval(1845), endReason: "empty", participants: [
                PastParticipant(participant: "p-1", subject: "cart-9", name: "Derm cart", role: "cart", joinedAt: start, leftAt: nil, leaveReason: nil),
                PastParticipant(participant: "p-2", subject: "kim", name: "Dr. Kim", role: "expert", joinedAt: start, leftAt: nil, leaveReason: nil),
            ]),
        ])
        let text = Render.history(list, now: Fixtures.now)
        #expect(text.hasPrefix("consultations since 2026-11-24 14:27:27 UTC: 2\n"))
        let lines = text.split(separator: "\n")
        #expect(lines[2].contains("live") && lines[2].contains("1m00s"))
        #expect(lines[3].hasPrefix("2026-11-25 12:27:27  12:58:12    30m45s  derm-7    c-old   Derm cart (cart), Dr. Kim (expert)  empty"))
    }

    @Test func audit() {
        let list = AuditList(since: Fixtures.now.addingTimeInterval(-3600), room: "stroke-1", entries: [
            AuditEntry(kind: .cameraCommand, at: Fixtures.now, room: "stroke-1", consultation: "c-stroke", participant: "p-weber",
                       action: "move", result: "refused:not_controller", camera: "cam-1", detail: nil),
            AuditEntry(kind: .error, at: Fixtures.now, room: "stroke-1", consultation: nil, participant: nil,
                       action: "invalid_message", result: "", camera: nil, detail: "bad JSON"),
        ])
        let text = Render.audit(list)
        #expect(text.hasPrefix("audit since 2026-11-25 13:27:27 UTC in room stroke-1: 2 entries\n"))
        #expect(text.contains("camera  stroke-1  p-weber      cam-1   move             refused:not_controller"))
        #expect(text.contains("error   stroke-1  -            -       invalid_message  -                       bad JSON"))
    }

    @Test func actions() {
        let result = ActionResult(ok: true, consultation: "c-stroke", room: "stroke-1", removed: ["p-cart", "p-weber"])
        #expect(Render.ended(result) == "ended consultation c-stroke (room stroke-1): removed p-cart, p-weber\n")
        #expect(Render.kicked("p-cart", ActionResult(ok: true, consultation: "c-stroke", room: "stroke-1", removed: ["p-cart"]))
                == "removed participant p-cart from consultation c-stroke (room stroke-1): removed p-cart\n")
    }

    @Test func watchHeader() {
        #expect(Render.watchHeader(server: "http://127.0.0.1:8088", now: Fixtures.now, sessionCount: 2, interval: 1)
                == "relais-monitor  http://127.0.0.1:8088  2026-11-25 14:27:27 UTC  2 sessions  every 1s  (Ctrl-C to quit)\n")
    }
}

@Suite struct FormatTests {
    @Test(arguments: [(2.345, 1, "2.3"), (2.35, 1, "2.4"), (-0.04, 1, "0.0"), (-1.25, 1, "-1.3"), (1500.4, 0, "1500"), (0.05, 2, "0.05"), (7, 3, "7.000")])
    func fixed(value: Double, digits: Int, expected: String) {
        #expect(Format.fixed(value, digits) == expected)
    }

    @Test func durations() {
        #expect(Format.duration(-3) == "0s")
        #expect(Format.duration(59.9) == "59s")
        #expect(Format.duration(185) == "3m05s")
        #expect(Format.duration(3725) == "1h02m")
        #expect(Format.duration(2 * 86_400 + 3 * 3600 + 5) == "2d03h")
    }

    @Test func dates() {
        #expect(Format.dateTime(Fixtures.now) == "2026-11-25 14:27:27")
        #expect(Format.dateTime(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29 00:00:00")
        #expect(Format.dateTime(Date(timeIntervalSince1970: -1)) == "1969-12-31 23:59:59")
        for days in [-800_000, -1, 0, 59, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = CivilTime.civil(days: days)
            #expect(CivilTime.days(year: y, month: m, day: d) == days)
        }
    }

    @Test func tableAlignsNumbersRight() {
        var table = TextTable([.init("NAME"), .init("N", .right), .init("NOTE")])
        table.append(["a", "1", ""])
        table.append(["long name", "1234", "x"])
        #expect(table.render() == "NAME          N  NOTE\na             1\nlong name  1234  x\n")
    }

    @Test func terminalFrameRedrawsInPlace() {
        let frame = Terminal.frame("abcdef\nxy\n", columns: 4, rows: 10)
        #expect(frame == "\u{1B}[Habcd\u{1B}[K\nxy\u{1B}[K\u{1B}[J")
        #expect(Terminal.frame("1\n2\n3\n", columns: nil, rows: 2) == "\u{1B}[H1\u{1B}[K\n2\u{1B}[K\u{1B}[J")
    }
}
