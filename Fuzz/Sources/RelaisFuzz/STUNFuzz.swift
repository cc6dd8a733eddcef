import RelaisTransport
import RelaisWire

/// STUN (RFC 8489) as the relay's ICE-lite agent reads it: the view and every accessor,
/// FINGERPRINT and MESSAGE-INTEGRITY verification, then the agent's decision and response.
///
/// The first byte picks the mode. Odd: the rest is used as it is. Even: the rest is treated as a
/// message body (header and attributes) that this target seals with a correct MESSAGE-INTEGRITY
/// (keyed with the agent's password) and FINGERPRINT, so the fuzzer reaches the code behind the
/// authentication checks, which random bytes never pass.
enum STUNFuzz {
    static let credentials = ICECredentials(ufrag: "fuzz", password: "fuzzpasswordfuzzpassword")
    static let source = TransportAddress(ip: .v4(0x0A00_0001), port: 5000)

    static func run(_ input: UnsafeRawBufferPointer) {
        var reader = FuzzInput(input)
        let mode = reader.byte()
        if mode & 1 == 1 {
            check(reader.rest)
        } else {
            let sealed = seal(reader.rest)
            sealed.withUnsafeBytes { check($0) }
        }
    }

    static func check(_ datagram: UnsafeRawBufferPointer) {
        _ = STUNMessageView.looksLikeSTUN(datagram)
        if let message = try? STUNMessageView(parsing: datagram) {
            var sink = message.username?.count ?? 0
            sink &+= message.usernameString?.utf8.count ?? 0
            sink &+= message.xorMappedAddress.map { Int($0.port) } ?? 0
            sink &+= message.errorCode?.code ?? 0
            sink &+= message.hasValidFingerprint ? 1 : 0
            sink &+= message.hasValidIntegrity(password: credentials.password) ? 1 : 0
            consume(sink)
        }
        var agent = ICELiteAgent(local: credentials, remoteUfrag: "peer")
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
        defer { scratch.deallocate() }
        _ = agent.handleSTUN(datagram, from: source, now: Instant(nanoseconds: 1_000_000_000), scratch: scratch)
        while agent.pollEvent() != nil {}
    }

    /// `body` as a STUN message: a 20-byte header (type, cookie and transaction from the input,
    /// length patched), the input's attributes cut to whole words, then MESSAGE-INTEGRITY and
    /// FINGERPRINT computed over them.
    static func seal(_ body: UnsafeRawBufferPointer) -> [UInt8] {
        var message = [UInt8](repeating: 0, count: 20)
        for (i, b) in body.prefix(20).enumerated() { message[i] = b }
        message[0] &= 0x3F
        message[4] = 0x21; message[5] = 0x12; message[6] = 0xA4; message[7] = 0x42
        let attributes = body.dropFirst(20)
        message += attributes.prefix(min(attributes.count & ~3, 1200))
        // MESSAGE-INTEGRITY (0x0008): HMAC-SHA1 over the message with the length covering it.
        let integrityStart = message.count
        let lengthWithIntegrity = UInt16(integrityStart + 24 - 20)
        var digest = STUNIntegrity.Digest()
        var password = credentials.password
        password.withUTF8 { key in
            message.withUnsafeBytes { bytes in
                STUNIntegrity.hmacSHA1(key: UnsafeRawBufferPointer(key), message: bytes,
                                       lengthOverride: lengthWithIntegrity, into: &digest)
            }
        }
        message += [0x00, 0x08, 0x00, 20]
        digest.withBytes { message += $0 }
        // FINGERPRINT (0x8028): CRC-32 of everything before it, XOR 0x5354554E (RFC 8489 §14.7).
        let total = UInt16(message.count + 8 - 20)
        message[2] = UInt8(total >> 8); message[3] = UInt8(total & 0xFF)
        let crc = CRC32.checksum(message) ^ 0x5354_554E
        message += [0x80, 0x28, 0x00, 0x04, UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]
        return message
    }
}
