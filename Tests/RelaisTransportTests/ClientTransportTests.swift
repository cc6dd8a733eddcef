import RelaisTransport
import RelaisWire
import Testing

/// The headless client's transport against the relay's, both sans-IO, wired through memory with
/// a fake clock: ICE (controlling vs lite), DTLS (client vs server), then SRTP both ways.
@Suite struct ClientTransportTests {
    let clientAddress = TransportAddress(ip: IPAddress("127.0.0.1")!, port: 51000)
    let relayAddress = TransportAddress(ip: IPAddress("127.0.0.1")!, port: 40000)

    struct Pair {
        let client: ClientTransport
        let relay: WebRTCTransport
    }

    func makePair(
        profiles: [SRTPProfile] = [.aeadAES128GCM, .aes128CMSHA1_80], relayProfiles: [SRTPProfile]? = nil,
        relayFingerprint: DTLSFingerprint? = nil
    ) throws -> (Pair, DTLSCertificate) {
        let relayCertificate = try DTLSCertificate.generateSelfSigned(commonName: "relay")
        let clientCertificate = try DTLSCertificate.generateSelfSigned(commonName: "client")
        let relayCredentials = ICECredentials.random(), clientCredentials = ICECredentials.random()
        var configuration = TransportConfiguration()
        configuration.srtpProfiles = relayProfiles ?? profiles
        let relay = try WebRTCTransport(
            localCredentials: relayCredentials, remoteUfrag: clientCredentials.ufrag, certificate: relayCertificate,
            remoteFingerprint: clientCertificate.fingerprintSHA256, configuration: configuration, now: .zero)
        configuration.srtpProfiles = profiles
        let client = try ClientTransport(
            local: clientCredentials, remote: relayCredentials,
            localCandidates: [ICECandidate(foundation: "1", priority: iceCandidatePriority(type: .host), address: clientAddress, type: .host)],
            certificate: clientCertificate, remoteFingerprint: relayFingerprint ?? relayCertificate.fingerprintSHA256,
            configuration: configuration)
        client.addRemoteCandidate(ICECandidate(foundation: "1", priority: iceCandidatePriority(type: .host), address: relayAddress, type: .host), now: .zero)
        return (Pair(client: client, relay: relay), relayCertificate)
    }

    /// Runs the exchange on a fake clock until `done` or 10 s of fake time; returns client events.
    func run(_ pair: Pair, until done: () -> Bool) -> [ClientTransportEvent] {
        var relayEvents: [TransportEvent] = []
        return run(pair, relayEvents: &relayEvents, until: done)
    }

    /// The same, keeping the relay's events, and delivering to the relay only what the client
    /// sends that `deliver` lets through (the rest is lost).
    func run(
        _ pair: Pair, relayEvents: inout [TransportEvent], deliver: ([UInt8]) -> Bool = { _ in true }, until done: () -> Bool
    ) -> [ClientTransportEvent] {
        var events: [ClientTransportEvent] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
        defer { buffer.deallocate() }
        var now = Instant.zero
        for _ in 0..<1000 where !done() {
            now = now + .milliseconds(10)
            pair.client.handleTimeout(now: now)
            pair.relay.handleTimeout(now: now)
            var moved = true
            while moved {
                moved = false
                while let (bytes, index, destination) = pair.client.pollTransmit() {
                    #expect(index == 0 && destination == relayAddress)
                    guard deliver(bytes) else { continue }
                    buffer.copyBytes(from: bytes)
                    _ = pair.relay.handleDatagram(buffer, length: bytes.count, from: clientAddress, now: now)
                    moved = true
                }
                while let (bytes, destination) = pair.relay.pollTransmit() {
                    #expect(destination == clientAddress)
                    buffer.copyBytes(from: bytes)
                    _ = pair.client.handleDatagram(buffer, length: bytes.count, localIndex: 0, from: relayAddress, now: now)
                    moved = true
                }
            }
            while let event = pair.client.pollEvent() { events.append(event) }
            while let event = pair.relay.pollEvent() { relayEvents.append(event) }
        }
        return events
    }

    @Test(arguments: [SRTPProfile.aeadAES128GCM, .aes128CMSHA1_80])
    func connectsToTheRelayAndCarriesSRTPBothWays(profile: SRTPProfile) throws {
        let (pair, _) = try makePair(profiles: [profile])
        let events = run(pair) { pair.client.isConnected && pair.relay.isConnected }
        #expect(events.contains(.selected(localIndex: 0, remote: relayAddress)))
        #expect(events.contains(.connected(profile)))
        #expect(pair.relay.srtp?.profile == profile)

        let packet = RTPPacket(payloadType: PayloadType(96), sequenceNumber: SequenceNumber(7), timestamp: 9000, ssrc: SSRC(0xCAFE), payload: Array(repeating: 0x42, count: 900))
        let plain = packet.serialized()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
        defer { buffer.deallocate() }
        // Client to relay.
        buffer.copyBytes(from: plain)
        let protected = try #require(pair.client.protectRTP(buffer, length: plain.count))
        #expect(protected > plain.count)
        #expect(Array(UnsafeRawBufferPointer(rebasing: buffer[12..<plain.count])) != Array(plain[12...]), "payload must be encrypted")
        #expect(pair.relay.handleDatagram(buffer, length: protected, from: clientAddress, now: .zero) == .rtp(length: plain.count))
        #expect(Array(UnsafeRawBufferPointer(rebasing: buffer[0..<plain.count])) == plain)
        // Relay to client.
        buffer.copyBytes(from: plain)
        let back = try #require(pair.relay.protectRTP(buffer, length: plain.count))
        #expect(pair.client.handleDatagram(buffer, length: back, localIndex: 0, from: relayAddress, now: .zero) == .rtp(length: plain.count))
        // Media from any other address is refused, even correctly protected.
        buffer.copyBytes(from: plain)
        let again = try #require(pair.relay.protectRTP(buffer, length: plain.count))
        let stranger = TransportAddress(ip: IPAddress("127.0.0.1")!, port: 40001)
        #expect(pair.client.handleDatagram(buffer, length: again, localIndex: 0, from: stranger, now: .zero) == .dropped(.unvalidatedSource))
    }

    @Test func aRelayWithAnotherCertificateIsRefused() throws {
        let wrong = try DTLSCertificate.generateSelfSigned(commonName: "impostor").fingerprintSHA256
        let (pair, _) = try makePair(relayFingerprint: wrong)
        let events = run(pair) { pair.client.isClosed || pair.client.isConnected }
        #expect(!pair.client.isConnected)
        #expect(events.contains { if case .failed(let why) = $0 { why.contains("DTLS") } else { false } })
    }

    /// A DTLS failure of any kind closes the client's transport and is reported once as
    /// `.failed("DTLS: …")`, exactly as on the relay (`WebRTCTransportTests`).
    @Test(arguments: DTLSFailureKind.allCases)
    func aDTLSFailureClosesTheClientsTransport(kind: DTLSFailureKind) throws {
        let impostor = try DTLSCertificate.generateSelfSigned(commonName: "impostor").fingerprintSHA256
        let (pair, _) = try makePair(
            profiles: [.aeadAES128GCM], relayProfiles: kind == .noCommonSRTPProfile ? [.aes128CMSHA1_80] : nil,
            relayFingerprint: kind == .fingerprintMismatch ? impostor : nil)
        var events: [ClientTransportEvent]
        switch kind {
        case .fatalAlert:
            // ICE nominates and the client sends its ClientHello (lost on the way: only STUN reaches
            // the relay); a fatal alert comes back from the relay's address.
            var relayEvents: [TransportEvent] = []
            events = run(pair, relayEvents: &relayEvents, deliver: { PacketClass.classify($0) == .stun }) { pair.client.selected != nil }
            #expect(pair.client.dtls.state == .handshaking)
            var alert = DTLSFailureKind.fatalAlertRecord
            let result = alert.withUnsafeMutableBytes {
                pair.client.handleDatagram($0, length: $0.count, localIndex: 0, from: relayAddress, now: .zero + .seconds(1))
            }
            #expect(result == .handled)
            while let event = pair.client.pollEvent() { events.append(event) }
        case .fingerprintMismatch, .noCommonSRTPProfile:
            events = run(pair) { pair.client.isClosed }
        }
        #expect(pair.client.isClosed)
        #expect(!pair.client.isConnected)
        #expect(pair.client.nextDeadline == nil)
        let failures = events.compactMap { if case .failed(let why) = $0 { why } else { nil } }
        #expect(failures.count == 1)
        #expect(failures.first?.hasPrefix("DTLS: ") == true)
        #expect(!events.contains { if case .connected = $0 { true } else { false } })
        var media: [UInt8] = [0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4]
        let late = media.withUnsafeMutableBytes {
            pair.client.handleDatagram($0, length: $0.count, localIndex: 0, from: relayAddress, now: .zero + .seconds(2))
        }
        #expect(late == .dropped(.closed))
        pair.client.close(reason: "leaving")
        #expect(pair.client.pollEvent() == nil)
    }

    /// Without a common SRTP profile both ends fail the same handshake: both transports close, and
    /// both report the same reason.
    @Test func bothTransportsReportAFailedHandshakeTheSameWay() throws {
        let (pair, _) = try makePair(profiles: [.aeadAES128GCM], relayProfiles: [.aes128CMSHA1_80])
        var relayEvents: [TransportEvent] = []
        let clientEvents = run(pair, relayEvents: &relayEvents) { pair.client.isClosed && pair.relay.isClosed }
        #expect(pair.client.isClosed && pair.relay.isClosed)
        let clientFailures = clientEvents.compactMap { if case .failed(let why) = $0 { why } else { nil } }
        let relayFailures = relayEvents.compactMap { if case .failed(let why) = $0 { why } else { nil } }
        #expect(clientFailures == ["DTLS: no SRTP protection profile negotiated"])
        #expect(relayFailures == clientFailures)
    }
}
