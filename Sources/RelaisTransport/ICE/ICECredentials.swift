public import RelaisWire

/// ICE username fragment and password (RFC 8445 §5.3, RFC 8839 §5.4).
public struct ICECredentials: Hashable, Sendable {
    public var ufrag: String
    public var password: String

    public init(ufrag: String, password: String) {
        self.ufrag = ufrag
        self.password = password
    }

    /// Characters RFC 8839 §5.4 allows in ice-ufrag and ice-pwd.
    static let iceChars = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

    /// Fresh random credentials: 8-character ufrag (≥ 24 bits of randomness asked by RFC 8445 §5.3 is
    /// exceeded) and a 24-character password (≥ 128 bits).
    public static func random() -> ICECredentials {
        var g = SystemRandomNumberGenerator()
        func draw(_ n: Int) -> String {
            String((0..<n).map { _ in iceChars[Int(g.next() % UInt64(iceChars.count))] })
        }
        return ICECredentials(ufrag: draw(8), password: draw(24))
    }
}

/// Candidate types and RFC 8445 §5.1.2 priorities.
public enum ICECandidateType: String, Sendable {
    case host
    case serverReflexive = "srflx"
    case peerReflexive = "prflx"
    case relay

    /// Type preference from RFC 8445 §5.1.2.2's recommended values.
    public var typePreference: UInt32 {
        switch self {
        case .host: 126
        case .peerReflexive: 110
        case .serverReflexive: 100
        case .relay: 0
        }
    }
}

/// RFC 8445 §5.1.2.1: priority = 2^24 * type preference + 2^8 * local preference + (256 - component).
public func iceCandidatePriority(type: ICECandidateType, localPreference: UInt32 = 65535, component: UInt32 = 1) -> UInt32 {
    (type.typePreference << 24) | ((localPreference & 0xFFFF) << 8) | (256 - component)
}

/// A UDP candidate as exchanged in SDP or trickle messages.
public struct ICECandidate: Hashable, Sendable {
    public var foundation: String
    public var component: Int
    public var priority: UInt32
    public var address: TransportAddress
    public var type: ICECandidateType

    public init(foundation: String, component: Int = 1, priority: UInt32, address: TransportAddress, type: ICECandidateType) {
        self.foundation = foundation
        self.component = component
        self.priority = priority
        self.address = address
        self.type = type
    }

    /// The `candidate:` attribute value (RFC 8839 §5.1), without the `a=` prefix.
    public var sdpValue: String {
        "candidate:\(foundation) \(component) udp \(priority) \(address.ip) \(address.port) typ \(type.rawValue)"
    }
}
