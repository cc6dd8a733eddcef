import RelaisTransport
import RelaisWire
import Testing

/// The one reader and writer of an SDP's transport attributes (relay rooms, echo, client).
@Suite struct SDPTransportAttributesTests {
    static let local = SDPTransportAttributes.Local(
        credentials: ICECredentials(ufrag: "relayUF1", password: "relayPasswordRelayPassw0"),
        fingerprint: DTLSFingerprint(algorithm: "sha-256", bytes: Array(repeating: 0x5A, count: 32)),
        address: TransportAddress(ip: .v4(0x0A00_0001), port: 40000), iceOptions: "ice2")

    static func sdp(_ local: SDPTransportAttributes.Local, setup: SDPSetupRole, sections: Int = 2, candidates: Bool = true) -> SessionDescription {
        var sdp = local.sessionHeader(username: "relais", sessionID: 7, version: 1, name: "test")
        for mid in 0..<sections {
            var m = MediaDescription(kind: "video", port: 9, proto: "UDP/TLS/RTP/SAVPF", formats: ["96"])
            local.write(into: &m, setup: setup)
            m.addAttribute("mid", String(mid))
            if candidates { local.writeCandidates(into: &m) }
            sdp.media.append(m)
        }
        return sdp
    }

    @Test func whatOneSideWritesTheOtherReads() throws {
        let text = Self.sdp(Self.local, setup: .passive).serialize()
        let read = try SDPTransportAttributes(reading: SessionDescription(parsing: text))
        #expect(read.credentials == Self.local.credentials)
        #expect(read.fingerprint == Self.local.fingerprint)
        #expect(read.setup == .passive)
        #expect(read.candidates == [Self.local.candidate], "one candidate, deduplicated across bundled sections")
        #expect(text.contains("a=ice-options:ice2\r\n"))
        #expect(text.contains("o=relais 7 1 IN IP4 10.0.0.1\r\n"))
        #expect(text.contains("c=IN IP4 10.0.0.1\r\n"))
        #expect(text.contains("m=video 40000 UDP/TLS/RTP/SAVPF 96\r\n"))
        #expect(text.contains("a=end-of-candidates\r\n"))
        var client = Self.local
        client.iceOptions = nil
        #expect(!Self.sdp(client, setup: .active).serialize().contains("ice-options"))
    }

    @Test func theTransportComesFromTheFirstSectionWithAPort() throws {
        var sdp = Self.sdp(Self.local, setup: .actpass)
        // A bundle-only first section (port 0) carrying other credentials is not the transport.
        var bundleOnly = MediaDescription(kind: "audio", port: 0, proto: "UDP/TLS/RTP/SAVPF", formats: ["111"])
        bundleOnly.addAttribute("ice-ufrag", "otherUfrag")
        bundleOnly.addAttribute("ice-pwd", "otherPasswordOtherPassw0")
        sdp.media.insert(bundleOnly, at: 0)
        #expect(try SDPTransportAttributes(reading: sdp).credentials.ufrag == "relayUF1")
    }

    @Test func credentialsOutsideRFC8839AreRefused() throws {
        for (ufrag, password) in [("abc", "relayPasswordRelayPassw0"), ("relay:UF", "relayPasswordRelayPassw0"), ("relayUF1", "short")] {
            var local = Self.local
            local.credentials = ICECredentials(ufrag: ufrag, password: password)
            #expect(throws: SDPTransportError.invalidICECredentials) {
                try SDPTransportAttributes(reading: SessionDescription(parsing: Self.sdp(local, setup: .active).serialize()))
            }
        }
    }

    @Test func missingPiecesAreTypedErrors() throws {
        #expect(throws: SDPTransportError.noMediaSection) {
            try SDPTransportAttributes(reading: Self.local.sessionHeader(username: "x", sessionID: 1, version: 1, name: "x"))
        }
        var noFingerprint = Self.sdp(Self.local, setup: .active)
        for i in noFingerprint.media.indices { noFingerprint.media[i].removeAttributes("fingerprint") }
        #expect(throws: SDPTransportError.missingFingerprint) { try SDPTransportAttributes(reading: noFingerprint) }
        var noCredentials = Self.sdp(Self.local, setup: .active)
        for i in noCredentials.media.indices { noCredentials.media[i].removeAttributes("ice-pwd") }
        #expect(throws: SDPTransportError.missingICECredentials) { try SDPTransportAttributes(reading: noCredentials) }
        var badSetup = Self.sdp(Self.local, setup: .active)
        badSetup.media[0].removeAttributes("setup")
        badSetup.media[0].addAttribute("setup", "sideways")
        #expect(throws: SDPTransportError.self) { try SDPTransportAttributes(reading: badSetup) }
    }

    @Test func candidatesReadAreBounded() throws {
        var sdp = Self.sdp(Self.local, setup: .active, candidates: false)
        for port in 0..<40 {  // under the parser's own cap of a=candidate lines (64)
            sdp.media[0].addAttribute("candidate", "\(port) 1 udp 2130706431 10.0.0.2 \(20000 + port) typ host")
        }
        sdp.media[0].addAttribute("candidate", "tcp 1 tcp 2130706431 10.0.0.3 9 typ host")
        let read = try SDPTransportAttributes(reading: SessionDescription(parsing: sdp.serialize()))
        #expect(read.candidates.count == SDPTransportAttributes.maxCandidates)
        #expect(read.candidates.allSatisfy { $0.address.port >= 20000 })
    }
}
