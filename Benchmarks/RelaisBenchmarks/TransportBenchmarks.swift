import Benchmark
import RelaisTransport
import RelaisWire

/// SRTP cost per 1200-byte packet: protect at the sender, unprotect at the receiver, for every
/// profile, through the same `SRTPSession` the relay uses, or (`libsrtp`) through Debian's
/// libsrtp2 for comparison.
func srtpRoundTrip(_ profile: SRTPProfile, libsrtp: Bool = false) -> (Benchmark) -> Void {
    { benchmark in
        var g = SystemRandomNumberGenerator()
        let key = (0..<profile.keyLength).map { _ in UInt8.random(in: 0...255, using: &g) }
        let salt = (0..<profile.saltLength).map { _ in UInt8.random(in: 0...255, using: &g) }
        let make: (SRTPProfile, [UInt8], [UInt8], SRTPSession.Direction) throws -> SRTPSession = libsrtp
            ? { try SRTPSession.libsrtpReference(profile: $0, key: $1, salt: $2, direction: $3) }
            : { try SRTPSession(profile: $0, key: $1, salt: $2, direction: $3) }
        guard let sender = try? make(profile, key, salt, .outbound), let receiver = try? make(profile, key, salt, .inbound)
        else { fatalError("SRTP session setup failed") }
        var packet = makeVP8Packet() + [UInt8](repeating: 0, count: SRTPSession.maxTrailer)
        let length = packet.count - SRTPSession.maxTrailer
        var seq: UInt16 = 0
        benchmark.startMeasurement()
        packet.withUnsafeMutableBytes { raw in
            for _ in benchmark.scaledIterations {
                seq &+= 1
                RTPRewrite.setSequenceNumber(SequenceNumber(seq), in: raw)
                guard let protected = try? sender.protectRTP(raw, length: length),
                      let plain = try? receiver.unprotectRTP(raw, length: protected)
                else { fatalError("SRTP round trip failed") }
                blackHole(plain)
            }
        }
    }
}

func transportBenchmarks() {
    let srtpConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal], timeUnits: .nanoseconds, scalingFactor: .kilo,
        maxDuration: .seconds(3), maxIterations: 500)
    Benchmark("SRTP protect+unprotect 1200B AEAD_AES_128_GCM", configuration: srtpConfiguration, closure: srtpRoundTrip(.aeadAES128GCM))
    Benchmark("SRTP protect+unprotect 1200B AES_CM_128_HMAC_SHA1_80", configuration: srtpConfiguration, closure: srtpRoundTrip(.aes128CMSHA1_80))
    Benchmark("SRTP protect+unprotect 1200B AES_CM_128_HMAC_SHA1_32", configuration: srtpConfiguration, closure: srtpRoundTrip(.aes128CMSHA1_32))
    // The same through libsrtp (Debian's build, NSS backend): the reference, not thresholded.
    Benchmark("SRTP protect+unprotect 1200B AEAD_AES_128_GCM libsrtp", configuration: srtpConfiguration,
              closure: srtpRoundTrip(.aeadAES128GCM, libsrtp: true))
    Benchmark("SRTP protect+unprotect 1200B AES_CM_128_HMAC_SHA1_80 libsrtp", configuration: srtpConfiguration,
              closure: srtpRoundTrip(.aes128CMSHA1_80, libsrtp: true))

    // A full DTLS 1.2 handshake between two endpoints in memory (ECDHE-ECDSA P-256), certificates
    // generated beforehand, datagrams moved by hand: the CPU a relay spends per joining peer.
    Benchmark(
        "DTLS handshake (both sides)",
        configuration: .init(metrics: [.wallClock], timeUnits: .microseconds, maxDuration: .seconds(3), maxIterations: 300)
    ) { benchmark in
        guard let a = try? DTLSCertificate.generateSelfSigned(commonName: "a"),
              let b = try? DTLSCertificate.generateSelfSigned(commonName: "b")
        else { fatalError("certificate generation failed") }
        for _ in benchmark.scaledIterations {
            guard let client = try? DTLSEndpoint(role: .client, certificate: a, remoteFingerprint: b.fingerprintSHA256),
                  let server = try? DTLSEndpoint(role: .server, certificate: b, remoteFingerprint: a.fingerprintSHA256)
            else { fatalError("DTLS setup failed") }
            client.start(now: .zero)
            var connected = 0
            while connected < 2 {
                var moved = false
                while let d = client.pollDatagram() { d.withUnsafeBytes { server.handleDatagram($0, now: .zero) }; moved = true }
                while let d = server.pollDatagram() { d.withUnsafeBytes { client.handleDatagram($0, now: .zero) }; moved = true }
                while let e = client.pollEvent() { if case .connected = e { connected += 1 } else { fatalError("\(e)") } }
                while let e = server.pollEvent() { if case .connected = e { connected += 1 } else { fatalError("\(e)") } }
                if !moved, connected < 2 { fatalError("handshake stalled") }
            }
        }
    }
}
