import Foundation
import RelaisAdmin
import Testing
@testable import RelaisMonitor

@Suite struct ServerSentEventTests {
    @Test func oneEventPerBlankLine() {
        var parser = ServerSentEventParser()
        let events = parser.feed(Array("event: participantLeft\ndata: {\"a\":1}\n\nevent: error\ndata: x\n\n".utf8))
        #expect(events == [ServerSentEvent(event: "participantLeft", data: "{\"a\":1}"), ServerSentEvent(event: "error", data: "x")])
    }

    @Test func chunksSplitAnywhereGiveTheSameEvents() {
        let stream = Array(": keep-alive\r\nid: 7\r\nevent: cameraFloor\r\ndata: first\r\ndata:second\r\n\r\ndata: plain\r\r".utf8)
        var whole = ServerSentEventParser()
        let expected = whole.feed(stream)
        #expect(expected == [
            ServerSentEvent(event: "cameraFloor", data: "first\nsecond", id: "7"),
            ServerSentEvent(event: "message", data: "plain", id: "7"),
        ])
        for split in 1..<stream.count {
            var parser = ServerSentEventParser()
            let events = parser.feed(stream[..<split]) + parser.feed(stream[split...])
            #expect(events == expected, "split at \(split)")
        }
    }

    @Test func commentsUnknownFieldsAndEventsWithoutDataDispatchNothing() {
        var parser = ServerSentEventParser()
        #expect(parser.feed(Array(": ping\n\nevent: lonely\n\nfoo: bar\nretry: 1500\n\n".utf8)).isEmpty)
        #expect(parser.retryMilliseconds == 1500)
        // The type of an event without data does not leak into the next one.
        #expect(parser.feed(Array("data\n\n".utf8)) == [ServerSentEvent(event: "message", data: "")])
    }

    @Test func onlyOneLeadingSpaceIsRemoved() {
        var parser = ServerSentEventParser()
        _ = parser.feed(line: "data:  two spaces")
        #expect(parser.feed(line: "") == ServerSentEvent(data: " two spaces"))
    }

    @Test func anIncompleteEventAtTheEndIsNotDispatched() {
        var parser = ServerSentEventParser()
        #expect(parser.feed(Array("data: half".utf8)).isEmpty)
        #expect(parser.feed(Array("\n".utf8)).isEmpty)
        #expect(parser.feed(Array("\n".utf8)) == [ServerSentEvent(data: "half")])
    }

    @Test func aSessionEventDecodesFromItsDataLine() throws {
        var parser = ServerSentEventParser()
        let line = #"{"at":"2026-11-25T14:27:27.123Z","consultation":"c-1","participant":"p-2","room":"stroke-1","type":"participantLeft","detail":"removed"}"#
        let event = try #require(parser.feed(Array("event: participantLeft\ndata: \(line)\n\n".utf8)).first)
        let decoded = try JSONDecoder.admin.decode(SessionEvent.self, from: Data(event.data.utf8))
        #expect(decoded.type == .participantLeft)
        #expect(decoded.participant == "p-2")
        #expect(Render.event(decoded) == "14:27:27  participantLeft  stroke-1  c-1  p-2  removed\n")
    }
}

@Suite struct TimeSpecTests {
    let now = Fixtures.now

    @Test(arguments: [("90s", 90), ("30m", 1800), ("24h", 86_400), ("7d", 604_800), ("2w", 1_209_600), ("1d12h", 129_600), (" 5m ", 300)])
    func spans(text: String, seconds: Int) throws {
        let spec = try #require(TimeSpec(text))
        #expect(spec == .ago(seconds: seconds))
        #expect(spec.resolve(now: now) == now.addingTimeInterval(-Double(seconds)))
    }

    @Test func isoTimesAndDates() throws {
        #expect(TimeSpec("2026-11-25T08:00:00Z")?.resolve(now: now) == Date(timeIntervalSince1970: 1_795_593_600))
        #expect(TimeSpec("2026-11-25T08:00:00.250Z")?.resolve(now: now) == Date(timeIntervalSince1970: 1_795_593_600.25))
        #expect(TimeSpec("2026-11-25")?.resolve(now: now) == Date(timeIntervalSince1970: 1_795_564_800))
    }

    @Test(arguments: ["", "24", "h", "24x", "-5m", "5mm", "yesterday", "2026-13-01", "2026-11-25T25:00:00Z", "99999999999d"])
    func refused(text: String) {
        #expect(TimeSpec(text) == nil)
    }
}
