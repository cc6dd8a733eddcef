/// DTLS-SRTP protection profiles Relais negotiates (RFC 5764 §4.1.2, RFC 7714 §14.2).
///
/// AEAD_AES_128_GCM is preferred: one pass of AES-GCM costs less than AES-CM plus HMAC-SHA1, and
/// it encrypts and authenticates with a 16-byte tag. AES_CM_128_HMAC_SHA1_80 is what every WebRTC
/// stack offers (embedded ones often only it); _32 trades 6 bytes of RTP tag for a weaker one
/// (2^-32 forgery per try) and is negotiated only when configured.
public enum SRTPProfile: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case aeadAES128GCM = "SRTP_AEAD_AES_128_GCM"
    case aes128CMSHA1_80 = "SRTP_AES128_CM_SHA1_80"
    case aes128CMSHA1_32 = "SRTP_AES128_CM_SHA1_32"

    /// The OpenSSL / IANA profile name used in `use_srtp`.
    public var openSSLName: String { rawValue }

    /// IANA DTLS-SRTP protection profile id.
    public var id: UInt16 {
        switch self {
        case .aeadAES128GCM: 0x0007
        case .aes128CMSHA1_80: 0x0001
        case .aes128CMSHA1_32: 0x0002
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
        case .aes128CMSHA1_80, .aes128CMSHA1_32: 14
        }
    }

    /// Bytes of authentication tag after an SRTP packet (SRTCP always carries 16 for GCM and 10
    /// for both AES-CM profiles, RFC 5764 §4.1.2).
    public var rtpTagLength: Int {
        switch self {
        case .aeadAES128GCM: 16
        case .aes128CMSHA1_80: 10
        case .aes128CMSHA1_32: 4
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
