/// A certificate fingerprint as carried in SDP `a=fingerprint` (RFC 8122 §5), which is how WebRTC
/// peers authenticate each other's self-signed DTLS certificates.
public struct DTLSFingerprint: Hashable, Sendable, CustomStringConvertible {
    /// Hash function name as SDP writes it, lowercase ("sha-256").
    public var algorithm: String
    public var bytes: [UInt8]

    public init(algorithm: String, bytes: [UInt8]) {
        self.algorithm = algorithm.lowercased()
        self.bytes = bytes
    }

    /// Parses the two parts of `sha-256 AB:CD:...`; hex is case-insensitive.
    public init?(algorithm: String, hex: String) {
        var bytes: [UInt8] = []
        for part in hex.split(separator: ":", omittingEmptySubsequences: false) {
            guard bytes.count < 64, part.utf8.count == 2, let b = UInt8(part, radix: 16) else { return nil }
            bytes.append(b)
        }
        guard !bytes.isEmpty, bytes.count <= 64 else { return nil }
        self.init(algorithm: algorithm, bytes: bytes)
    }

    /// Uppercase hex pairs joined by colons, as SDP writes them.
    public var hexString: String {
        bytes.map { b in
            let s = String(b, radix: 16, uppercase: true)
            return b < 16 ? "0" + s : s
        }.joined(separator: ":")
    }

    /// The SDP attribute value: `sha-256 AB:CD:...`.
    public var description: String { "\(algorithm) \(hexString)" }
}
