import Logging
import NIOPosix
@testable import RelaisServer
import RelaisTransport
import RelaisWire
import Testing

/// The relay makes one DTLS context (one `SSL_CTX`) for all its transports on all its loops,
/// instead of one per transport.
@Suite struct SharedDTLSContextTests {
    @Test func everyLoopAndTransportUsesTheServersContext() async throws {
        var configuration = MediaConfiguration()
        configuration.port = 0
        configuration.loops = 2
        let certificate = try DTLSCertificate.generateSelfSigned()
        let media = try await MediaServer.start(
            configuration: configuration, certificate: certificate, group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "test"))
        let peer = try DTLSCertificate.generateSelfSigned(commonName: "peer").fingerprintSHA256
        var contexts: [ObjectIdentifier] = []
        for loop in 0..<2 {
            // Two transports per loop, then the loop's context, which each transport was made from.
            let identity = try await media.onLoop(loop) { loop -> ObjectIdentifier? in
                for _ in 0..<2 {
                    _ = try loop.addTransport(remoteUfrag: nil, remoteFingerprint: peer, purpose: .echo(
                        EchoSession(videoSSRC: 1, audioSSRC: 2, videoPayloadTypes: [96], audioPayloadTypes: [111])))
                }
                return loop.dtlsContext.map(ObjectIdentifier.init)
            }
            contexts.append(try #require(identity))
        }
        #expect(contexts[0] == contexts[1])
        #expect(try await media.counters().reduce(0) { $0 + $1.transportsOpened } == 4)
        await media.shutdown()
    }
}
