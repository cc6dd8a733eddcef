/// DTLS-SRTP protection profiles Relais negotiates (RFC 5764 §4.1.2, RFC 7714 §14.2).
///
/// AEAD_AES_128_GCM is preferred: on these machines Debian's libsrtp2 protects a 1200-byte packet
/// with it several times faster than with AES-CM + HMAC-SHA1, and it authenticates the header too.
public enum SRTPProfile: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case aeadAES128GCM = "SRTP_AEAD_AES_128_GCM"
    case aes128CMSHA1_80 = "SRTP_AES128_CM_SHA1_80"

    /// The OpenSSL / IANA profile name used in `use_srtp`.
    public var openSSLName: String { rawValue }

    /// IANA DTLS-SRTP protection profile id.
    public var id: UInt16 {
        switch self {
        case .aeadAES128GCM: 0x0007
        case .aes128CMSHA1_80: 0x0001
        }
    }

    public init?(id: UInt16) {
        guard let profile = Self.allCases.first(where: { $0.id == id }) else { return nil }
        self = profile
    }

    /// Master key length in bytes.
    public var keyLength: Int { 16 }

    /// Master salt length in bytes (RFC 7714 §12: 96 bits for GCM; RFC 3711: 112 bits for CM).
    public var saltLength: Int {
        switch self {
        case .aeadAES128GCM: 12
        case .aes128CMSHA1_80: 14
        }
    }

    public var description: String { rawValue }
}

/// SRTP master keys for both directions, from the DTLS exporter (RFC 5764 §4.2).
///
/// "Local" is what this side protects outbound with; "remote" is what it unprotects inbound with.
public struct SRTPKeyingMaterial: Sendable, Equatable {
    public var profile: SRTPProfile
    public var localKey: [UInt8]
    public var localSalt: [UInt8]
    public var remoteKey: [UInt8]
    public var remoteSalt: [UInt8]

    public init(profile: SRTPProfile, localKey: [UInt8], localSalt: [UInt8], remoteKey: [UInt8], remoteSalt: [UInt8]) {
        self.profile = profile
        self.localKey = localKey
        self.localSalt = localSalt
        self.remoteKey = remoteKey
        self.remoteSalt = remoteSalt
    }

    /// Splits exporter output `client_key | server_key | client_salt | server_salt` for one role.
    public init(profile: SRTPProfile, exported: [UInt8], isClient: Bool) {
        let k = profile.keyLength, s = profile.saltLength
        precondition(exported.count == 2 * (k + s), "exporter output has the profile's length")  // caller sizes it
        let clientKey = Array(exported[0..<k])
        let serverKey = Array(exported[k..<2 * k])
        let clientSalt = Array(exported[2 * k..<2 * k + s])
        let serverSalt = Array(exported[2 * k + s..<2 * (k + s)])
        self.init(
            profile: profile,
            localKey: isClient ? clientKey : serverKey, localSalt: isClient ? clientSalt : serverSalt,
            remoteKey: isClient ? serverKey : clientKey, remoteSalt: isClient ? serverSalt : clientSalt)
    }
}
