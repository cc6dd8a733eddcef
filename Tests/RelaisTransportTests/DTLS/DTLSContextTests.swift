@testable import RelaisTransport
import RelaisWire
import Testing

/// One `SSL_CTX` serves every association of a relay: endpoints made from a shared context each
/// complete their own handshake, authenticate their own peer, and export their own keys.
@Suite struct DTLSContextTests {
    /// Moves datagrams between a client and a server until both are quiet; returns their events.
    static func handshake(client: DTLSEndpoint, server: DTLSEndpoint) -> (client: [DTLSEvent], server: [DTLSEvent]) {
        var clientEvents: [DTLSEvent] = [], serverEvents: [DTLSEvent] = []
        client.start(now: .zero)
        for _ in 0..<50 {
            var moved = false
            while let d = client.pollDatagram() {
                d.withUnsafeBytes { server.handleDatagram($0, now: .zero) }
                moved = true
            }
            while let d = server.pollDatagram() {
                d.withUnsafeBytes { client.handleDatagram($0, now: .zero) }
                moved = true
            }
            while let e = client.pollEvent() { clientEvents.append(e) }
            while let e = server.pollEvent() { serverEvents.append(e) }
            if !moved { break }
        }
        return (clientEvents, serverEvents)
    }

    @Test func endpointsSharingOneContextHandshakeIndependently() throws {
        let relay = try DTLSCertificate.generateSelfSigned(commonName: "relay")
        let shared = try DTLSContext(certificate: relay, profiles: [.aeadAES128GCM, .aes128CMSHA1_80])
        let alice = try DTLSCertificate.generateSelfSigned(commonName: "alice")
        let bob = try DTLSCertificate.generateSelfSigned(commonName: "bob")
        let aliceServer = try DTLSEndpoint(role: .server, context: shared, remoteFingerprint: alice.fingerprintSHA256)
        let bobServer = try DTLSEndpoint(role: .server, context: shared, remoteFingerprint: bob.fingerprintSHA256)
        // Bob offers only AES-CM: the profile is chosen per association, not fixed by the context.
        let aliceClient = try DTLSEndpoint(role: .client, certificate: alice, remoteFingerprint: relay.fingerprintSHA256)
        let bobClient = try DTLSEndpoint(role: .client, certificate: bob, remoteFingerprint: relay.fingerprintSHA256, profiles: [.aes128CMSHA1_80])

        let a = Self.handshake(client: aliceClient, server: aliceServer)
        let b = Self.handshake(client: bobClient, server: bobServer)
        guard case .connected(let aKeys)? = a.server.first, case .connected(let bKeys)? = b.server.first else {
            Issue.record("not connected: alice \(a), bob \(b)")
            return
        }
        #expect(aKeys.profile == .aeadAES128GCM)
        #expect(bKeys.profile == .aes128CMSHA1_80)
        #expect(aKeys.localKey != bKeys.localKey)
        // Each client authenticated the relay's certificate, which both associations present.
        #expect(a.client.first.map { if case .connected = $0 { true } else { false } } == true)
        #expect(b.client.first.map { if case .connected = $0 { true } else { false } } == true)
    }

    /// The shared context outlives any one endpoint: an association made after others were freed
    /// (their SSL objects released) still handshakes.
    @Test func contextOutlivesItsEndpoints() throws {
        let relay = try DTLSCertificate.generateSelfSigned(commonName: "relay")
        let shared = try DTLSContext(certificate: relay)
        let peer = try DTLSCertificate.generateSelfSigned(commonName: "peer")
        for _ in 0..<3 {
            let server = try DTLSEndpoint(role: .server, context: shared, remoteFingerprint: peer.fingerprintSHA256)
            let client = try DTLSEndpoint(role: .client, certificate: peer, remoteFingerprint: relay.fingerprintSHA256)
            let events = Self.handshake(client: client, server: server)
            #expect(events.server.count == 1)
            #expect(server.state == .connected)
        }
    }

    /// A peer whose certificate is not the one its SDP announced is refused on a shared context too.
    @Test func sharedContextStillChecksEachPeersFingerprint() throws {
        let relay = try DTLSCertificate.generateSelfSigned(commonName: "relay")
        let shared = try DTLSContext(certificate: relay)
        let announced = try DTLSCertificate.generateSelfSigned(commonName: "announced")
        let actual = try DTLSCertificate.generateSelfSigned(commonName: "actual")
        let server = try DTLSEndpoint(role: .server, context: shared, remoteFingerprint: announced.fingerprintSHA256)
        let client = try DTLSEndpoint(role: .client, certificate: actual, remoteFingerprint: relay.fingerprintSHA256)
        let events = Self.handshake(client: client, server: server)
        guard case .failed(.fingerprintMismatch)? = events.server.first else {
            Issue.record("server events: \(events.server)")
            return
        }
    }
}
