import Foundation
import Testing
@testable import RelaisSignaling

@Suite struct MessageCodingTests {
    private func code(_ text: String) -> ErrorCode? {
        do {
            _ = try ClientMessage.decode(text)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func clientMessagesDecode() throws {
        #expect(try ClientMessage.decode(#"{"type":"join","room":"stroke-1","token":"t","requestId":"r1"}"#)
            == .join(Join(requestId: "r1", room: "stroke-1", token: "t")))
        #expect(try ClientMessage.decode(#"{"type":"ping","future":42}"#) == .ping(RequestBody()))
        #expect(try ClientMessage.decode(#"{"type":"answer","target":"subscribe","revision":3,"sdp":"v=0"}"#)
            == .answer(SessionDescriptionBody(target: .subscribe, revision: 3, sdp: "v=0")))
        #expect(try ClientMessage.decode(#"{"type":"candidate","target":"publish","candidate":null}"#)
            == .candidate(CandidateBody(target: .publish, candidate: nil)))
        let c = try ClientMessage.decode(#"{"type":"candidate","target":"subscribe","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}"#)
        #expect(c == .candidate(CandidateBody(target: .subscribe, candidate: CandidateInit(candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdpMid: "0", sdpMLineIndex: 0))))
    }

    @Test func hostileFramesGetTypedRefusals() {
        #expect(code("{not json") == .invalidJSON)
        #expect(code("[1,2]") == .invalidJSON)
        #expect(code("42") == .invalidJSON)
        #expect(code("") == .invalidJSON)
        #expect(code(#"{"room":"r"}"#) == .unknownType)
        #expect(code(#"{"type":7}"#) == .unknownType)
        #expect(code(#"{"type":"dance"}"#) == .unknownType)
        #expect(code(#"{"type":"joined"}"#) == .unknownType)  // a server message is not a client message
        #expect(code(#"{"type":"join","room":"r1"}"#) == .schemaViolation)
        #expect(code(#"{"type":"join","room":"r1","token":5}"#) == .schemaViolation)
        #expect(code(#"{"type":"join","room":"../etc","token":"t"}"#) == .schemaViolation)
        #expect(code(#"{"type":"join","room":"","token":"t"}"#) == .schemaViolation)
        #expect(code(#"{"type":"offer","target":"subscribe","sdp":"v=0"}"#) == .schemaViolation)
        #expect(code(#"{"type":"offer","target":"publish","sdp":""}"#) == .schemaViolation)
        #expect(code(#"{"type":"answer","target":"subscribe","sdp":"v=0"}"#) == .schemaViolation)
        #expect(code(#"{"type":"answer","target":"subscribe","revision":0,"sdp":"v=0"}"#) == .schemaViolation)
        #expect(code(#"{"type":"candidate","target":"publish"}"#) == .schemaViolation)
        #expect(code(#"{"type":"candidate","target":"sideways","candidate":null}"#) == .schemaViolation)
        #expect(code(#"{"type":"ping","requestId":""}"#) == .schemaViolation)
        #expect(code(#"{"type":"ping","requestId":"\#(String(repeating: "x", count: 65))"}"#) == .schemaViolation)
    }

    @Test func mutatedFramesNeverTrap() {
        let seed = #"{"type":"join","room":"r1","token":"abc","requestId":"q"}"#
        var bytes = Array(seed.utf8)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let i = Int(state >> 33) % bytes.count
            bytes[i] = UInt8(truncatingIfNeeded: state >> 17)
            _ = try? ClientMessage.decode(Data(bytes))
            if state & 7 == 0 { bytes = Array(seed.utf8) }
        }
    }

    @Test func serverMessagesCarryTheirTypeAndRoundTrip() throws {
        let messages: [ServerMessage] = [
            .pong(RequestBody(requestId: "p1")),
            .error(ErrorBody(requestId: "x", error: SignalingError(.roomFull, "room stroke-1 is full"))),
            .candidate(CandidateBody(target: .publish, candidate: nil)),
            .participantLeft(ParticipantLeft(participantId: "p-1", reason: .disconnected)),
            .trackPublished(TrackPublished(track: Track(trackId: "t", participantId: "p", kind: .video, codec: "VP8"))),
            .offer(SessionDescriptionBody(target: .subscribe, revision: 2, sdp: "v=0\r\n")),
        ]
        for message in messages {
            let text = message.encoded()
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(object["type"] as? String == message.type)
            #expect(try ServerMessage.decode(text) == message)
        }
        let error = try #require(try JSONSerialization.jsonObject(with: Data(messages[1].encoded().utf8)) as? [String: Any])
        #expect(error["fatal"] as? Bool == true)
        #expect(error["code"] as? String == "room_full")
        // End-of-candidates is an explicit null, not a missing member.
        #expect(messages[2].encoded().contains(#""candidate":null"#))
    }

    @Test func rateLimiterAllowsBurstThenOneRefusalPerSecond() {
        var limiter = MessageRateLimiter(rate: 20, burst: 40)
        var verdicts: [MessageRateLimiter.Verdict] = []
        for _ in 0..<45 { verdicts.append(limiter.admit(now: 100)) }
        #expect(verdicts.prefix(40).allSatisfy { $0 == .allow })
        #expect(verdicts[40] == .refuse)
        #expect(verdicts[41...].allSatisfy { $0 == .refuseQuietly })
        let refilled = (0..<6).map { _ in limiter.admit(now: 100.25) }  // 0.25 s refills 5 tokens
        #expect(refilled == [.allow, .allow, .allow, .allow, .allow, .refuseQuietly])
        #expect(limiter.admit(now: 101.25) == .allow)
    }
}
