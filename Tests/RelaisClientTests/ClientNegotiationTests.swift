import RelaisClient
import RelaisTransport
import RelaisWire
import Testing

@Suite struct ClientNegotiationTests {
    let local = ClientNegotiation.Local(
        credentials: ICECredentials(ufrag: "clientUF", password: "clientPasswordClientPassword"),
        fingerprint: DTLSFingerprint(algorithm: "sha-256", bytes: Array(repeating: 0xCD, count: 32)),
        address: TransportAddress(ip: IPAddress("127.0.0.1")!, port: 50000))

    @Test func publishOfferIsAValidBundledSendOnlyOffer() throws {
        let text = ClientNegotiation.publishOffer(local: local, videoSSRC: 1234, audioSSRC: 5678, stream: "s")
        let sdp = try SessionDescription(parsing: text)
        #expect(sdp.bundleMids == ["0", "1"])
        #expect(sdp.media.map(\.kind) == ["video", "audio"])
        #expect(sdp.media.allSatisfy { $0.direction == .sendonly && $0.hasAttribute("rtcp-mux") })
        #expect(try sdp.media[0].codecs().map(\.name) == ["VP8"])
        #expect(try sdp.media[1].codecs().map(\.name) == ["opus"])
        #expect(try sdp.media[0].announcedSSRCs() == [1234])
        #expect(try sdp.media.allSatisfy { try $0.setup() == .actpass })
        #expect(try sdp.media[0].candidates().first?.port == 50000)
        // No abs-send-time: retransmissions must stay byte-identical under SRTP.
        #expect(try !sdp.media[0].extensionMaps().contains { $0.uri == RTPExtensionURI.absSendTime })
        // The transport-wide sequence number and transport-cc feedback on both, for the relay's TWCC.
        for m in sdp.media {
            #expect(try m.extensionMaps().contains(ExtensionMap(id: ClientNegotiation.transportWideCCExtensionID, uri: RTPExtensionURI.transportWideCC)))
            #expect(try m.rtcpFeedback().contains { $0.type == "transport-cc" })
        }
    }

    /// The client stamps transport-wide numbers only when the answer kept the extension, under its id.
    @Test func transportWideSequenceOnlyWhenTheAnswerKeepsIt() throws {
        let offer = ClientNegotiation.publishOffer(local: local, videoSSRC: 1234, audioSSRC: 5678, stream: "s")
        // The offer itself keeps it everywhere (an answer that echoes it agrees).
        #expect(ClientNegotiation.answersTransportWideCC(try SessionDescription(parsing: offer)))
        let dropped = offer.split(separator: "\r\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("transport-wide-cc") }.joined(separator: "\r\n")
        #expect(!ClientNegotiation.answersTransportWideCC(try SessionDescription(parsing: dropped)))
        let otherID = offer.replacingOccurrences(of: "a=extmap:\(ClientNegotiation.transportWideCCExtensionID) ", with: "a=extmap:9 ")
        #expect(!ClientNegotiation.answersTransportWideCC(try SessionDescription(parsing: otherID)))
    }

    /// Simulcast as a browser offers it: RTX, the RID and repaired-RID extensions, `a=rid … send`
    /// for q, h, f and `a=simulcast:send q;h;f`, no SSRC lines; a single stream with RTX announces
    /// its FID group. The answer's accepted layers and RTX are read back.
    @Test func simulcastOfferWithRepairAndItsAnswer() throws {
        let text = ClientNegotiation.publishOffer(
            local: local, video: .init(ssrc: 1, repairSSRC: 2, rids: ["q", "h", "f"]), audioSSRC: 5678, stream: "s")
        let sdp = try SessionDescription(parsing: text)
        let video = sdp.media[0]
        #expect(try video.codecs().map(\.name) == ["VP8", "rtx"])
        #expect(video.attributeValues("rid") == ["q send", "h send", "f send"])
        #expect(video.attribute("simulcast") == "send q;h;f")
        #expect(try video.announcedSSRCs().isEmpty)
        let uris = try video.extensionMaps().map(\.uri)
        #expect(uris.contains(RTPExtensionURI.rid) && uris.contains(RTPExtensionURI.repairedRid) && uris.contains(RTPExtensionURI.mid))

        let single = try SessionDescription(parsing: ClientNegotiation.publishOffer(
            local: local, video: .init(ssrc: 1, repairSSRC: 2), audioSSRC: nil, stream: "s"))
        #expect(single.media[0].attribute("ssrc-group") == "FID 1 2")
        #expect(try single.media[0].announcedSSRCs().sorted() == [1, 2])

        // An answer accepting two of the layers, and RTX.
        let answer = text.replacingOccurrences(of: "a=simulcast:send q;h;f", with: "a=simulcast:recv q;f")
        #expect(ClientNegotiation.answeredSimulcastLayers(try SessionDescription(parsing: answer)) == ["q", "f"])
        #expect(ClientNegotiation.answersRepair(try SessionDescription(parsing: answer)))
        #expect(ClientNegotiation.answeredSimulcastLayers(sdp).isEmpty)  // "send" is no answer
        let withoutRTX = answer.split(separator: "\r\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("rtx") && !$0.contains("apt=") }.joined(separator: "\r\n")
            .replacingOccurrences(of: " 96 97\r\n", with: " 96\r\n")
        #expect(!ClientNegotiation.answersRepair(try SessionDescription(parsing: withoutRTX)))
    }

    @Test func subscribeAnswerAcceptsVP8AndOpusAndKeepsTheRestInactive() throws {
        let offer = """
            v=0\r
            o=relais 1 1 IN IP4 127.0.0.1\r
            s=relais subscribe\r
            t=0 0\r
            a=ice-lite\r
            a=group:BUNDLE 0 1 2\r
            m=video 40000 UDP/TLS/RTP/SAVPF 96\r
            c=IN IP4 127.0.0.1\r
            a=ice-ufrag:relayUF1\r
            a=ice-pwd:relayPasswordRelayPassword\r
            a=fingerprint:sha-256 \(Array(repeating: "AB", count: 32).joined(separator: ":"))\r
            a=setup:actpass\r
            a=mid:0\r
            a=rtcp-mux\r
            a=rtpmap:96 VP8/90000\r
            a=rtcp-fb:96 nack\r
            a=sendonly\r
            a=msid:p-1 p-1-0\r
            a=ssrc:111 cname:p-1\r
            a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r
            m=audio 40000 UDP/TLS/RTP/SAVPF 111\r
            c=IN IP4 127.0.0.1\r
            a=mid:1\r
            a=rtcp-mux\r
            a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r
            a=rtpmap:111 opus/48000/2\r
            a=sendonly\r
            a=ssrc:222 cname:p-1\r
            m=video 40000 UDP/TLS/RTP/SAVPF 96\r
            c=IN IP4 127.0.0.1\r
            a=mid:2\r
            a=rtcp-mux\r
            a=rtpmap:96 VP8/90000\r
            a=inactive\r

            """
        let (description, remote) = try ClientNegotiation.remoteTransport(offer)
        #expect(remote.credentials.ufrag == "relayUF1")
        #expect(remote.candidates.map(\.address.port) == [40000])
        let (text, sections) = ClientNegotiation.subscribeAnswer(offer: description, local: local)
        #expect(sections.map(\.ssrc) == [111, 222])
        #expect(sections.first?.trackId == "p-1-0")
        let answer = try SessionDescription(parsing: text)
        #expect(answer.media.map(\.direction) == [.recvonly, .recvonly, .inactive])
        #expect(try answer.media.allSatisfy { try $0.setup() == .active })
        #expect(try answer.media[1].extensionMaps().map(\.uri) == [RTPExtensionURI.audioLevel])
    }

    @Test func ntpTimestampsConvertToUnixTimeWithSubSecondPrecision() {
        // 2026-01-01T00:00:00.25Z: NTP seconds = Unix + 2 208 988 800, fraction 0.25 = 2^30.
        let unix: Int64 = 1_767_225_600
        let ntp = UInt64(unix + 2_208_988_800) << 32 | (1 << 30)
        #expect(NTPTime.unixMicroseconds(ntp) == unix * 1_000_000 + 250_000)
        let now = NTPTime.now()
        let wall = Int64(WallClock.microseconds())
        #expect(abs(NTPTime.unixMicroseconds(now) - wall) < 1_000_000)
    }
}
