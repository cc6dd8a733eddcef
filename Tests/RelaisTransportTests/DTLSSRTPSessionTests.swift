import RelaisTransport
import RelaisWire
import Testing

/// The DTLS-SRTP core on its own, two sessions wired back to back with no ICE (every source
/// counts as validated): handshake, keys that agree, and each way a session ends.
@Suite struct DTLSSRTPSessionTests {
    struct Ends {
        let client: DTLSSRTPSession
        let server: DTLSSRTPSession
        var clientEvents: [DTLSSRTPEvent] = []
        var serverEvents: [DTLSSRTPEvent] = []
    }

    func makeEnds(serverFingerprintSeenByClient: DTLSFingerprint? = nil) throws -> Ends {
        let clientCertificate = try DTLSCertificate.generateSelfSigned(commonName: "client")
        let serverCertificate = try DTLSCertificate.generateSelfSigned(commonName: "server")
        let client = DTLSSRTPSession(dtls: try DTLSEndpoint(
            role: .client, certificate: clientCertificate,
            remoteFingerprint: serverFingerprintSeenByClient ?? serverCertificate.fingerprintSHA256))
        let server = DTLSSRTPSession(
            dtls: try DTLSEndpoint(role: .server, certificate: serverCertificate, remoteFingerprint: clientCertificate.fingerprintSHA256),
            maxInboundSSRCs: 2)
        return Ends(client: client, server: server)
    }

    /// Moves DTLS datagrams both ways until neither side has any, collecting events.
    func exchange(_ ends: inout Ends) {
        var moved = true
        while moved {
            moved = false
            for (from, to) in [(ends.client, ends.server), (ends.server, ends.client)] {
                while var datagram = from.pollDatagram() {
                    let result = datagram.withUnsafeMutableBytes {
                        to.handleDatagram($0, length: $0.count, kind: .dtls, validated: true, now: .zero)
                    }
                    #expect(result == .handled || result == .dropped(.closed))
                    moved = true
                }
            }
        }
        while let event = ends.client.pollEvent() { ends.clientEvents.append(event) }
        while let event = ends.server.pollEvent() { ends.serverEvents.append(event) }
    }

    @Test func handshakeKeysSRTPBothWaysAndCloseNotifyClosesThePeer() throws {
        var ends = try makeEnds()
        ends.client.start(now: .zero)
        exchange(&ends)
        #expect(ends.clientEvents == [.connected(.aeadAES128GCM)])
        #expect(ends.serverEvents == [.connected(.aeadAES128GCM)])

        let packet = RTPPacket(payloadType: PayloadType(96), sequenceNumber: SequenceNumber(1), timestamp: 0, ssrc: SSRC(7), payload: [1, 2, 3])
        var bytes = packet.serialized() + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
        let received = bytes.withUnsafeMutableBytes { buffer -> TransportReceive in
            guard let n = ends.client.protectRTP(buffer, length: packet.serializedLength) else { return .dropped(.notConnected) }
            return ends.server.handleDatagram(buffer, length: n, kind: .rtp, validated: true, now: .zero)
        }
        #expect(received == .rtp(length: packet.serializedLength))
        #expect(Array(bytes.prefix(packet.serializedLength)) == packet.serialized())
        #expect(ends.server.stats.rtpIn == 1 && ends.client.stats.rtpOut == 1)
        #expect(ends.server.inboundSSRCCount == 1)

        ends.client.close(reason: "done")
        exchange(&ends)
        #expect(ends.client.isClosed && ends.server.isClosed)
        #expect(ends.clientEvents.last == .closed("done"))
        #expect(ends.serverEvents.last == .closed("DTLS close_notify"))
        #expect(ends.client.nextTimeout == nil && ends.server.nextTimeout == nil)
    }

    @Test func aFingerprintMismatchFailsAndClosesWithOneReport() throws {
        let other = try DTLSCertificate.generateSelfSigned(commonName: "other").fingerprintSHA256
        var ends = try makeEnds(serverFingerprintSeenByClient: other)
        ends.client.start(now: .zero)
        exchange(&ends)
        #expect(ends.client.isClosed)
        #expect(ends.clientEvents.count == 1)
        guard case .failed(let why) = ends.clientEvents.first else {
            Issue.record("expected one .failed, got \(ends.clientEvents)")
            return
        }
        #expect(why.hasPrefix("DTLS: peer certificate fingerprint mismatch"))
        #expect(ends.client.srtp == nil)
        // Further input is dropped as closed and counted.
        var junk: [UInt8] = [0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]
        let result = junk.withUnsafeMutableBytes { ends.client.handleDatagram($0, length: $0.count, kind: .rtp, validated: true, now: .zero) }
        #expect(result == .dropped(.closed))
        #expect(ends.client.drops[.closed] == 1)
    }

    @Test func aLostPathStopsWithoutCloseNotify() throws {
        var ends = try makeEnds()
        ends.client.start(now: .zero)
        exchange(&ends)
        ends.server.pathLost(.closed("ICE consent expired"))
        #expect(ends.server.pollDatagram() == nil)
        #expect(ends.server.pollEvent() == .closed("ICE consent expired"))
        ends.server.close(reason: "removed")  // already closed: nothing more
        #expect(ends.server.pollEvent() == nil)
        #expect(ends.server.pollDatagram() == nil)
    }

    @Test func unvalidatedSourcesAndUnknownPacketsAreDroppedAndCounted() throws {
        let ends = try makeEnds()
        var bytes: [UInt8] = [0x16, 0xFE, 0xFD, 0, 0]
        let dtls = bytes.withUnsafeMutableBytes { ends.server.handleDatagram($0, length: $0.count, kind: .dtls, validated: false, now: .zero) }
        let rtp = bytes.withUnsafeMutableBytes { ends.server.handleDatagram($0, length: $0.count, kind: .rtp, validated: true, now: .zero) }
        let zrtp = bytes.withUnsafeMutableBytes { ends.server.handleDatagram($0, length: $0.count, kind: .zrtp, validated: true, now: .zero) }
        #expect(dtls == .dropped(.unvalidatedSource))
        #expect(rtp == .dropped(.notConnected))
        #expect(zrtp == .dropped(.unknownPacket))
        #expect(ends.server.drops == [.unvalidatedSource: 1, .notConnected: 1, .unknownPacket: 1])
        #expect(ends.server.dtls.state == .new)
    }
}
