@testable import RelaisTransport
import RelaisWire
import Testing

/// Two endpoints in memory: datagrams are moved by hand, so every step is deterministic.
struct DTLSPair {
    let client: DTLSEndpoint
    let server: DTLSEndpoint
    var clientEvents: [DTLSEvent] = []
    var serverEvents: [DTLSEvent] = []
    var largestDatagram = 0

    init(clientProfiles: [SRTPProfile] = [.aeadAES128GCM, .aes128CMSHA1_80],
         serverProfiles: [SRTPProfile] = [.aeadAES128GCM, .aes128CMSHA1_80],
         clientSeesFingerprint: DTLSFingerprint? = nil, serverSeesFingerprint: DTLSFingerprint? = nil) throws {
        let clientCertificate = try DTLSCertificate.generateSelfSigned(commonName: "client")
        let serverCertificate = try DTLSCertificate.generateSelfSigned(commonName: "server")
        client = try DTLSEndpoint(role: .client, certificate: clientCertificate,
                                  remoteFingerprint: clientSeesFingerprint ?? serverCertificate.fingerprintSHA256, profiles: clientProfiles)
        server = try DTLSEndpoint(role: .server, certificate: serverCertificate,
                                  remoteFingerprint: serverSeesFingerprint ?? clientCertificate.fingerprintSHA256, profiles: serverProfiles)
    }

    /// Shuttles datagrams until both sides are quiet. `dropFirstFrom` loses the first flight of a side.
    mutating func run(dropFirstServerFlight: Bool = false) {
        client.start(now: .zero)
        var droppedServerFlight = !dropFirstServerFlight
        for _ in 0..<50 {
            var moved = false
            while let d = client.pollDatagram() {
                largestDatagram = max(largestDatagram, d.count)
                d.withUnsafeBytes { server.handleDatagram($0, now: .zero) }
                moved = true
            }
            var serverFlight: [[UInt8]] = []
            while let d = server.pollDatagram() { serverFlight.append(d) }
            if !serverFlight.isEmpty, !droppedServerFlight {
                droppedServerFlight = true
                serverFlight = []
            }
            for d in serverFlight {
                largestDatagram = max(largestDatagram, d.count)
                d.withUnsafeBytes { client.handleDatagram($0, now: .zero) }
                moved = true
            }
            while let e = client.pollEvent() { clientEvents.append(e) }
            while let e = server.pollEvent() { serverEvents.append(e) }
            if !moved { break }
        }
    }
}

@Suite struct DTLSTests {
    @Test(arguments: [
        ([SRTPProfile.aeadAES128GCM, .aes128CMSHA1_80], [SRTPProfile.aeadAES128GCM, .aes128CMSHA1_80], SRTPProfile.aeadAES128GCM),
        ([.aes128CMSHA1_80, .aeadAES128GCM], [.aeadAES128GCM, .aes128CMSHA1_80], .aeadAES128GCM),  // server preference wins
        ([.aeadAES128GCM], [.aeadAES128GCM], .aeadAES128GCM),
        ([.aes128CMSHA1_80], [.aes128CMSHA1_80], .aes128CMSHA1_80),
        ([.aeadAES128GCM, .aes128CMSHA1_80], [.aes128CMSHA1_80], .aes128CMSHA1_80),
    ])
    func handshakeExportsMirroredKeys(clientProfiles: [SRTPProfile], serverProfiles: [SRTPProfile], expected: SRTPProfile) throws {
        var pair = try DTLSPair(clientProfiles: clientProfiles, serverProfiles: serverProfiles)
        pair.run()
        guard case .connected(let c)? = pair.clientEvents.first, case .connected(let s)? = pair.serverEvents.first else {
            Issue.record("not connected: client \(pair.clientEvents), server \(pair.serverEvents)")
            return
        }
        #expect(c.profile == expected)
        #expect(s.profile == expected)
        #expect(c.localKey == s.remoteKey)
        #expect(c.localSalt == s.remoteSalt)
        #expect(c.remoteKey == s.localKey)
        #expect(c.localKey != c.remoteKey)
        #expect(c.localKey.count == 16)
        #expect(c.localSalt.count == expected.saltLength)
        #expect(pair.largestDatagram <= 1200)
        #expect(pair.client.state == .connected)
        #expect(pair.server.selectedProfile == expected)
    }

    @Test func serverRejectsClientCertificateNotMatchingSDP() throws {
        let stranger = try DTLSCertificate.generateSelfSigned(commonName: "stranger").fingerprintSHA256
        var pair = try DTLSPair(serverSeesFingerprint: stranger)
        pair.run()
        guard case .failed(.fingerprintMismatch(let expected, let actual))? = pair.serverEvents.first else {
            Issue.record("server events: \(pair.serverEvents)")
            return
        }
        #expect(expected == stranger)
        #expect(actual != nil && actual != stranger)
        #expect(!pair.serverEvents.contains { if case .connected = $0 { true } else { false } })
        #expect(pair.server.state == .failed)
    }

    @Test func clientRejectsServerCertificateNotMatchingSDP() throws {
        let stranger = try DTLSCertificate.generateSelfSigned(commonName: "stranger").fingerprintSHA256
        var pair = try DTLSPair(clientSeesFingerprint: stranger)
        pair.run()
        #expect(pair.clientEvents.contains { if case .failed(.fingerprintMismatch) = $0 { true } else { false } })
        #expect(!pair.clientEvents.contains { if case .connected = $0 { true } else { false } })
    }

    @Test func noCommonSRTPProfileFails() throws {
        var pair = try DTLSPair(clientProfiles: [.aeadAES128GCM], serverProfiles: [.aes128CMSHA1_80])
        pair.run()
        #expect(!pair.serverEvents.contains { if case .connected = $0 { true } else { false } })
        #expect(!pair.clientEvents.contains { if case .connected = $0 { true } else { false } })
    }

    @Test func garbageBeforeTheHandshakeDoesNotCrash() throws {
        let pair = try DTLSPair()
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            var junk = (0..<Int.random(in: 1...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            junk[0] = UInt8.random(in: 20...63, using: &rng)
            junk.withUnsafeBytes { pair.client.handleDatagram($0, now: .zero) }
        }
        // The client either ignored the junk or failed cleanly; it never traps.
        #expect(pair.client.state == .handshaking || pair.client.state == .failed)
    }

    @Test func closeNotifyIsReported() throws {
        var pair = try DTLSPair()
        pair.run()
        pair.client.close()
        while let d = pair.client.pollDatagram() { d.withUnsafeBytes { pair.server.handleDatagram($0, now: .zero) } }
        #expect(pair.server.pollEvent() == .closed)
        #expect(pair.server.state == .closed)
    }

    @Test func certificateFingerprintAndPEMRoundTrip() throws {
        let certificate = try DTLSCertificate.generateSelfSigned()
        #expect(certificate.fingerprintSHA256.bytes.count == 32)
        #expect(certificate.fingerprintSHA256.hexString.count == 95)
        let (pem, key) = certificate.pem()
        #expect(pem.hasPrefix("-----BEGIN CERTIFICATE-----"))
        let loaded = try DTLSCertificate(pemCertificate: pem, pemPrivateKey: key)
        #expect(loaded.fingerprintSHA256 == certificate.fingerprintSHA256)
        let parsed = DTLSFingerprint(algorithm: "SHA-256", hex: certificate.fingerprintSHA256.hexString.lowercased())
        #expect(parsed == certificate.fingerprintSHA256)
        #expect(DTLSFingerprint(algorithm: "sha-256", hex: "AB:C") == nil)
        #expect(throws: DTLSError.self) { try DTLSCertificate(pemCertificate: "junk", pemPrivateKey: key) }
    }
}
