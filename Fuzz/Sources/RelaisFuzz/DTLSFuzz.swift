import RelaisTransport
import RelaisWire

/// The DTLS record path of a relay transport (RFC 6347 over OpenSSL memory BIOs): datagrams from
/// the network go to a server endpoint, before the handshake or after it.
///
/// The input is a list of datagrams, each preceded by a 2-byte big-endian length (a short last
/// one takes what is left). The first byte picks the endpoint: even, a fresh server endpoint per
/// input (ClientHello parsing, cookie exchange, handshake messages); odd, a server that completed
/// a real handshake with a client endpoint (application data, alerts, renegotiation attempts,
/// close_notify). A handshake costs milliseconds, so one established server serves up to
/// `inputsPerEstablished` inputs, or until an input has failed or closed it.
enum DTLSFuzz {
    static let inputsPerEstablished = 256

    nonisolated(unsafe) static var setup: (server: DTLSContext, client: DTLSContext, clientFingerprint: DTLSFingerprint, serverFingerprint: DTLSFingerprint)? = {
        guard let serverCertificate = try? DTLSCertificate.generateSelfSigned(commonName: "fuzz-relay"),
            let clientCertificate = try? DTLSCertificate.generateSelfSigned(commonName: "fuzz-peer"),
            let server = try? DTLSContext(certificate: serverCertificate),
            let client = try? DTLSContext(certificate: clientCertificate)
        else { return nil }
        return (server, client, clientCertificate.fingerprintSHA256, serverCertificate.fingerprintSHA256)
    }()
    nonisolated(unsafe) static var established: DTLSEndpoint?
    nonisolated(unsafe) static var establishedUses = 0
    static let now = Instant(nanoseconds: 1_000_000_000)

    static func run(_ input: UnsafeRawBufferPointer) {
        guard let setup else { preconditionFailure("DTLS fuzz setup failed: no certificate or context") }
        var reader = FuzzInput(input)
        let mode = reader.byte()
        let endpoint: DTLSEndpoint
        if mode & 1 == 0 {
            guard let fresh = try? DTLSEndpoint(role: .server, context: setup.server, remoteFingerprint: setup.clientFingerprint) else { return }
            fresh.start(now: now)
            endpoint = fresh
        } else {
            guard let connected = connectedServer(setup) else { return }
            endpoint = connected
            establishedUses += 1
        }
        var rest = reader.rest
        while !rest.isEmpty {
            var length = rest.count
            if rest.count >= 2 {
                length = min(Int(rest[0]) << 8 | Int(rest[1]), rest.count - 2)
                rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(2))
            }
            endpoint.handleDatagram(UnsafeRawBufferPointer(rebasing: rest.prefix(length)), now: now)
            rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(length))
            while endpoint.pollDatagram() != nil {}
            while endpoint.pollEvent() != nil {}
        }
        endpoint.handleTimeout(now: now + .seconds(2))
        _ = endpoint.nextTimeout
        if mode & 1 == 1, endpoint.state != .connected || establishedUses >= inputsPerEstablished {
            established = nil
        }
    }

    /// A server endpoint after a complete handshake with a client endpoint, exchanged in memory.
    static func connectedServer(_ setup: (server: DTLSContext, client: DTLSContext, clientFingerprint: DTLSFingerprint, serverFingerprint: DTLSFingerprint)) -> DTLSEndpoint? {
        if let established { return established }
        guard let server = try? DTLSEndpoint(role: .server, context: setup.server, remoteFingerprint: setup.clientFingerprint),
            let client = try? DTLSEndpoint(role: .client, context: setup.client, remoteFingerprint: setup.serverFingerprint)
        else { return nil }
        server.start(now: now)
        client.start(now: now)
        for _ in 0..<20 where server.state != .connected || client.state != .connected {
            while let datagram = client.pollDatagram() { datagram.withUnsafeBytes { server.handleDatagram($0, now: now) } }
            while let datagram = server.pollDatagram() { datagram.withUnsafeBytes { client.handleDatagram($0, now: now) } }
        }
        while server.pollEvent() != nil {}
        guard server.state == .connected else { preconditionFailure("the in-memory DTLS handshake did not complete") }
        established = server
        establishedUses = 0
        return server
    }
}
