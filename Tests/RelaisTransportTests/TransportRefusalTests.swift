@testable import RelaisTransport
import RelaisWire
import Testing

/// A client peer built from the same cores a WebRTC client has (controlling ICE, DTLS client,
/// SRTP), talking to a relay-side `WebRTCTransport` through direct calls: a deterministic,
/// socket-free network with a fake clock.
final class SimulatedPeer {
    let address: TransportAddress
    var ice: ICEControllingAgent
    let dtls: DTLSEndpoint
    var srtp: SRTPContext?
    let credentials = ICECredentials.random()
    let certificate: DTLSCertificate

    init(address: TransportAddress, relayCredentials: ICECredentials, relayFingerprint: DTLSFingerprint, relayAddress: TransportAddress, certificate: DTLSCertificate, profiles: [SRTPProfile] = [.aeadAES128GCM, .aes128CMSHA1_80]) throws {
        self.address = address
        self.certificate = certificate
        let candidate = ICECandidate(foundation: "1", priority: iceCandidatePriority(type: .host), address: address, type: .host)
        ice = ICEControllingAgent(local: credentials, remote: relayCredentials, localCandidates: [candidate])
        ice.addRemoteCandidate(ICECandidate(foundation: "r", priority: iceCandidatePriority(type: .host), address: relayAddress, type: .host), now: .zero)
        dtls = try DTLSEndpoint(role: .client, certificate: certificate, remoteFingerprint: relayFingerprint, profiles: profiles, mtu: 1200)
    }
}

/// Owns one relay transport and one peer and moves datagrams between them until a condition holds.
final class Link {
    let relay: WebRTCTransport
    let peer: SimulatedPeer
    var now = Instant.zero
    var relayEvents: [TransportEvent] = []
    var received: [[UInt8]] = []  // decrypted RTP the relay got
    var dtlsStarted = false

    init(relay: WebRTCTransport, peer: SimulatedPeer) {
        self.relay = relay
        self.peer = peer
    }

    static let relayAddress = TransportAddress(ip: .loopbackV4, port: 40_000)

    static func make(
        peerAddress: TransportAddress = TransportAddress(ip: .loopbackV4, port: 50_000),
        relayProfiles: [SRTPProfile] = [.aeadAES128GCM, .aes128CMSHA1_80],
        peerProfiles: [SRTPProfile] = [.aeadAES128GCM, .aes128CMSHA1_80],
        lieAboutPeerFingerprint: Bool = false,
        consentTimeout: Duration = .seconds(30)
    ) throws -> Link {
        let relayCertificate = try DTLSCertificate.generateSelfSigned(commonName: "relay")
        let peerCertificate = try DTLSCertificate.generateSelfSigned(commonName: "peer")
        let advertised = lieAboutPeerFingerprint
            ? try DTLSCertificate.generateSelfSigned(commonName: "impostor").fingerprintSHA256
            : peerCertificate.fingerprintSHA256
        var configuration = TransportConfiguration()
        configuration.srtpProfiles = relayProfiles
        configuration.consentTimeout = consentTimeout
        let relayCredentials = ICECredentials.random()
        let peerCredentials = ICECredentials.random()
        let relay = try WebRTCTransport(
            localCredentials: relayCredentials, remoteUfrag: nil, certificate: relayCertificate,
            remoteFingerprint: advertised, configuration: configuration, now: .zero)
        let peer = try SimulatedPeer(
            address: peerAddress, relayCredentials: relayCredentials, relayFingerprint: relayCertificate.fingerprintSHA256,
            relayAddress: relayAddress, certificate: peerCertificate, profiles: peerProfiles)
        _ = peerCredentials
        return Link(relay: relay, peer: peer)
    }

    /// Delivers a datagram to the relay as if from `source`; returns what the relay made of it.
    @discardableResult
    func toRelay(_ bytes: [UInt8], from source: TransportAddress? = nil) -> TransportReceive {
        var buffer = bytes + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
        let result = buffer.withUnsafeMutableBytes { relay.handleDatagram($0, length: bytes.count, from: source ?? peer.address, now: now) }
        if case .rtp(let n) = result { received.append(Array(buffer.prefix(n))) }
        return result
    }

    /// Relay → peer: STUN responses to the ICE agent, DTLS to the DTLS endpoint.
    func drainRelay() {
        while let (bytes, destination) = relay.pollTransmit() {
            guard destination == peer.address else { continue }
            bytes.withUnsafeBytes { raw in
                switch PacketClass.classify(raw) {
                case .stun: peer.ice.handleSTUN(raw, localIndex: 0, from: Link.relayAddress, now: now)
                case .dtls: peer.dtls.handleDatagram(raw, now: now)
                default: break
                }
            }
        }
        while let event = relay.pollEvent() { relayEvents.append(event) }
    }

    /// One step of simulated time: every pending datagram both ways, then timers.
    func step() {
        while let output = peer.ice.poll(now: now) {
            switch output {
            case .transmit(let bytes, _, _):
                toRelay(bytes)
            case .connected:
                if !dtlsStarted {
                    dtlsStarted = true
                    peer.dtls.start(now: now)
                }
            case .failed, .consentLost:
                break
            }
            drainRelay()
        }
        while let datagram = peer.dtls.pollDatagram() {
            toRelay(datagram)
            drainRelay()
        }
        while let event = peer.dtls.pollEvent() {
            if case .connected(let keys) = event { peer.srtp = try? SRTPContext(keys: keys) }
        }
        if let deadline = relay.nextDeadline, deadline <= now {
            relay.handleTimeout(now: now)
            drainRelay()
        }
        now = now + .milliseconds(10)
    }

    func run(until condition: () -> Bool, maxSteps: Int = 2_000) {
        var steps = 0
        while !condition(), steps < maxSteps {
            step()
            steps += 1
        }
    }

    func connect() {
        run(until: { relay.isConnected && peer.srtp != nil })
    }

    /// An SRTCP receiver report from the peer.
    func protectedRTCP() -> [UInt8] {
        let report: [UInt8] = [0x80, 201, 0, 1, 0, 0, 0xCA, 0xFE]
        var bytes = report + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
        let n = bytes.withUnsafeMutableBytes { try! peer.srtp!.outbound.protectRTCP($0, length: report.count) }
        return Array(bytes.prefix(n))
    }

    /// Advances the clock by `duration` in 100 ms steps, running only the relay's timers; true if
    /// the relay closed the transport for lapsed consent meanwhile.
    func idle(_ duration: Duration, every period: Duration? = nil, send: (() -> Void)? = nil) -> Bool {
        let end = now + duration
        var nextSend = now
        while now < end {
            now = now + .milliseconds(100)
            if let period, let send, now >= nextSend {
                send()
                nextSend = now + period
            }
            if let deadline = relay.nextDeadline, deadline <= now { relay.handleTimeout(now: now) }
            while let event = relay.pollEvent() {
                if case .closed(let why) = event, why.contains("consent") { return true }
            }
        }
        return false
    }

    /// An SRTP packet from the peer with sequence number `seq`.
    func protectedRTP(seq: UInt16, payload: [UInt8] = [UInt8](repeating: 0x42, count: 200)) -> [UInt8] {
        let packet = RTPPacket(payloadType: PayloadType(96), sequenceNumber: SequenceNumber(seq), timestamp: UInt32(seq) * 3000, ssrc: SSRC(0xCAFE), payload: payload)
        var bytes = packet.serialized() + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
        let n = bytes.withUnsafeMutableBytes { try! peer.srtp!.outbound.protectRTP($0, length: packet.serializedLength) }
        return Array(bytes.prefix(n))
    }
}

/// The ways a DTLS handshake fails, each of which must close a transport.
enum DTLSFailureKind: CaseIterable, Sendable {
    /// The peer's certificate does not hash to its SDP fingerprint (RFC 5763 §5).
    case fingerprintMismatch
    /// The handshake completes without a `use_srtp` profile both sides support (RFC 5764 §4.1.1).
    case noCommonSRTPProfile
    /// The peer sends a fatal alert mid-handshake (RFC 5246 §7.2).
    case fatalAlert

    /// A plaintext DTLS 1.2 alert record: epoch 0, sequence 9, fatal (2) handshake_failure (40).
    static let fatalAlertRecord: [UInt8] = [0x15, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 9, 0, 2, 2, 40]
}

@Suite struct WebRTCTransportTests {
    @Test(arguments: [
        ([SRTPProfile.aeadAES128GCM, .aes128CMSHA1_80], SRTPProfile.aeadAES128GCM),
        ([.aes128CMSHA1_80], .aes128CMSHA1_80),
    ])
    func connectsAndDecryptsMedia(peerProfiles: [SRTPProfile], expected: SRTPProfile) throws {
        let link = try Link.make(peerProfiles: peerProfiles)
        link.connect()
        #expect(link.relay.isConnected)
        #expect(link.relayEvents.contains(.selected(link.peer.address)))
        #expect(link.relayEvents.contains(.connected(expected)))
        for seq in UInt16(1)...20 { link.toRelay(link.protectedRTP(seq: seq)) }
        #expect(link.received.count == 20)
        #expect(link.received.first.map { try? RTPPacket(parsing: $0).sequenceNumber } == SequenceNumber(1))
    }

    @Test func dtlsFromAnAddressThatNeverPassedICEIsDropped() throws {
        let link = try Link.make()
        let stranger = TransportAddress(ip: .loopbackV4, port: 6666)
        link.peer.dtls.start(now: .zero)
        let hello = try #require(link.peer.dtls.pollDatagram())
        #expect(link.toRelay(hello, from: stranger) == .dropped(.unvalidatedSource))
        #expect(link.relay.pollTransmit() == nil)  // no answer at all
        #expect(link.relay.drops[.unvalidatedSource] == 1)
    }

    @Test func peerCertificateNotMatchingItsSDPFingerprintFailsTheHandshake() throws {
        let link = try Link.make(lieAboutPeerFingerprint: true)
        link.run(until: { link.relayEvents.contains { if case .failed = $0 { true } else { false } } })
        #expect(!link.relay.isConnected)
        let failure = link.relayEvents.compactMap { if case .failed(let why) = $0 { why } else { nil } }.first
        #expect(failure?.lowercased().contains("fingerprint") == true)
        // Media encrypted by the peer is not accepted: no keys were ever installed, and the
        // failure closed the transport.
        #expect(link.toRelay([0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4]) == .dropped(.closed))
    }

    /// A DTLS failure of any kind closes the relay's transport at once and is reported once as
    /// `.failed("DTLS: …")`, as on the client (`ClientTransportTests`). Before the shared
    /// `DTLSSRTPSession`, the relay's transport reported the failure but stayed open.
    @Test(arguments: DTLSFailureKind.allCases)
    func aDTLSFailureClosesTheRelaysTransport(kind: DTLSFailureKind) throws {
        let link = try Link.make(
            relayProfiles: [.aeadAES128GCM],
            peerProfiles: kind == .noCommonSRTPProfile ? [.aes128CMSHA1_80] : [.aeadAES128GCM],
            lieAboutPeerFingerprint: kind == .fingerprintMismatch)
        switch kind {
        case .fatalAlert:
            // ICE alone (DTLS not started), the ClientHello, then a fatal alert from the validated peer.
            while !link.relay.ice.isValidated(link.peer.address), link.now < .zero + .seconds(5) {
                while let output = link.peer.ice.poll(now: link.now) {
                    guard case .transmit(let bytes, _, _) = output else { continue }
                    link.toRelay(bytes)
                    link.drainRelay()
                }
                link.now = link.now + .milliseconds(10)
            }
            link.peer.dtls.start(now: link.now)
            #expect(link.toRelay(try #require(link.peer.dtls.pollDatagram())) == .handled)
            #expect(link.relay.dtls.state == .handshaking)
            #expect(link.toRelay(DTLSFailureKind.fatalAlertRecord) == .handled)
            link.drainRelay()
        case .fingerprintMismatch, .noCommonSRTPProfile:
            link.run(until: { link.relay.isClosed })
        }
        #expect(link.relay.isClosed)
        #expect(!link.relay.isConnected)
        #expect(link.relay.nextDeadline == nil)
        let failures = link.relayEvents.compactMap { if case .failed(let why) = $0 { why } else { nil } }
        #expect(failures.count == 1)
        #expect(failures.first?.hasPrefix("DTLS: ") == true)
        #expect(!link.relayEvents.contains { if case .connected = $0 { true } else { false } })
        // Nothing more is taken: not DTLS, not media.
        #expect(link.toRelay(DTLSFailureKind.fatalAlertRecord) == .dropped(.closed))
        #expect(link.toRelay([0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4]) == .dropped(.closed))
        // Closing it again (the media loop removes a failed transport) reports nothing new.
        link.relay.close(reason: "removed")
        #expect(link.relay.pollEvent() == nil)
    }

    @Test func tamperedAndReplayedSRTPAreDroppedAndCounted() throws {
        let link = try Link.make()
        link.connect()
        let good = link.protectedRTP(seq: 100)
        #expect(link.toRelay(good) == .rtp(length: good.count - 16))
        #expect(link.toRelay(good) == .dropped(.srtp(.replayed)))
        var tampered = link.protectedRTP(seq: 101)
        tampered[tampered.count - 1] ^= 0x01
        #expect(link.toRelay(tampered) == .dropped(.srtp(.authenticationFailed)))
        #expect(link.relay.srtpCounters.replays == 1)
        #expect(link.relay.srtpCounters.authenticationFailures == 1)
        // The stream continues after the bad packets.
        let next = link.protectedRTP(seq: 102)
        #expect(link.toRelay(next) == .rtp(length: next.count - 16))
    }

    @Test func garbageDoesNotDisturbAnotherTransport() throws {
        let victim = try Link.make(peerAddress: TransportAddress(ip: .loopbackV4, port: 50_001))
        let bystander = try Link.make(peerAddress: TransportAddress(ip: .loopbackV4, port: 50_002))
        victim.connect()
        bystander.connect()
        var rng = SystemRandomNumberGenerator()
        for i in 0..<5_000 {
            var junk = (0..<Int.random(in: 1...1300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Cover each demux class: STUN, DTLS, RTP, RTCP first bytes.
            junk[0] = [0x00, 0x16, 0x80, 0x81, 0xFF][i % 5]
            if junk.count > 1, i % 5 == 3 { junk[1] = 0xC8 }
            _ = victim.toRelay(junk)
        }
        #expect(victim.relay.isConnected)  // garbage never closes a transport
        // STUN, RTP, RTCP and unknown junk is dropped and counted (1000 each); DTLS junk from the
        // validated peer goes to OpenSSL, which discards records that do not authenticate.
        #expect(victim.relay.drops.values.reduce(0, +) == 4_000)
        let packet = bystander.protectedRTP(seq: 7)
        #expect(bystander.toRelay(packet) == .rtp(length: packet.count - 16))
        let victimPacket = victim.protectedRTP(seq: 8)
        #expect(victim.toRelay(victimPacket) == .rtp(length: victimPacket.count - 16))
    }

    /// A peer that keeps its pair alive with Binding Indications only (libnice under GStreamer
    /// 1.22's webrtcbin) sends no check after nominating, but sends RTCP: authenticated SRTCP from
    /// its validated address keeps its consent; the same report from elsewhere, an indication, or
    /// SRTCP that does not authenticate does not, and once the reports stop the transport closes
    /// within the timeout.
    @Test func authenticatedRTCPKeepsConsentOfAPeerThatSendsNoChecks() throws {
        let link = try Link.make(consentTimeout: .seconds(5))
        link.connect()
        let report = link.protectedRTCP()
        #expect(link.toRelay(report) == .rtcp(length: 8))
        // 20 s, four consent timeouts, with a fresh report every second and no ICE check.
        #expect(!link.idle(.seconds(20), every: .seconds(1)) { _ = link.toRelay(link.protectedRTCP()) })
        #expect(!link.relay.isClosed)
        // Forged reports (a flipped tag) and an indication refresh nothing.
        var forged = link.protectedRTCP()
        forged[forged.count - 1] ^= 1
        // A Binding Indication (RFC 5389 §6: class 01, method 1), header only.
        let indication: [UInt8] = [0x00, 0x11, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42] + [UInt8](repeating: 7, count: 12)
        let stopped = link.idle(.seconds(8), every: .seconds(1)) {
            _ = link.toRelay(forged)
            _ = link.toRelay(indication)
        }
        #expect(stopped, "only authenticated RTCP from the validated address counts")
    }

    @Test func consentExpiryClosesTheTransportWithinTimeoutPlusOneSecond() throws {
        let link = try Link.make(consentTimeout: .seconds(5))
        link.connect()
        let lastCheck = link.now
        // The peer goes silent: no more ICE polling, only the relay's timers run.
        var closedAt: Instant?
        while closedAt == nil, link.now < lastCheck + .seconds(30) {
            link.now = link.now + .milliseconds(100)
            if let deadline = link.relay.nextDeadline, deadline <= link.now { link.relay.handleTimeout(now: link.now) }
            while let event = link.relay.pollEvent() {
                if case .closed(let why) = event, why.contains("consent") { closedAt = link.now }
            }
        }
        let elapsed = try #require(closedAt).since(lastCheck)
        #expect(elapsed <= .seconds(6))
        #expect(link.relay.isClosed)
    }
}
