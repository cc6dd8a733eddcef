/// URIs of the RTP header extensions Relais understands (RFC 8285 `a=extmap`).
public enum RTPExtensionURI {
    public static let absSendTime = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    public static let transportWideCC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
    public static let mid = "urn:ietf:params:rtp-hdrext:sdes:mid"
    public static let rid = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
    public static let repairedRid = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
    public static let audioLevel = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
}

/// abs-send-time: 24-bit 6.18 fixed-point seconds, wrapping every 64 s.
public struct AbsSendTime: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue & 0x00FF_FFFF }

    /// From a time in nanoseconds on any monotonic clock.
    public init(nanoseconds: UInt64) {
        // 2^18 units per second; keep the low 24 bits (6 bits of whole seconds).
        let units = (nanoseconds << 18) / 1_000_000_000
        self.rawValue = UInt32(truncatingIfNeeded: units) & 0x00FF_FFFF
    }

    /// Parses the 3-byte element value.
    public init?(_ value: UnsafeRawBufferPointer) {
        guard value.count == 3 else { return nil }
        self.rawValue = value.u24(at: 0)
    }

    /// The time in nanoseconds within the 64-second cycle.
    public var nanoseconds: UInt64 {
        (UInt64(rawValue) * 1_000_000_000) >> 18
    }
}

/// Client-to-mixer audio level (RFC 6464): voice activity flag and level in -dBov (0 loudest, 127 silence).
public struct AudioLevel: Hashable, Sendable {
    public var voiceActivity: Bool
    public var level: UInt8

    public init(voiceActivity: Bool, level: UInt8) {
        self.voiceActivity = voiceActivity
        self.level = level & 0x7F
    }

    /// Parses the element value; RFC 6464 allows the one-byte value to be followed by padding.
    public init?(_ value: UnsafeRawBufferPointer) {
        guard value.count >= 1 else { return nil }
        let b = value.u8(at: 0)
        self.voiceActivity = b & 0x80 != 0
        self.level = b & 0x7F
    }

    public var byte: UInt8 { (voiceActivity ? 0x80 : 0) | level }
}

extension UnsafeRawBufferPointer {
    /// Compares the bytes with an ASCII string without allocating (mid and rid values).
    @inlinable
    public func equalsASCII(_ string: StaticString) -> Bool {
        guard string.utf8CodeUnitCount == count else { return false }
        return string.withUTF8Buffer { utf8 in
            for i in 0..<count where utf8[i] != self[i] { return false }
            return true
        }
    }

    /// Compares the bytes with UTF-8 bytes held elsewhere (a negotiated mid or rid).
    @inlinable
    public func equalsBytes(_ other: [UInt8]) -> Bool {
        guard other.count == count else { return false }
        for i in 0..<count where other[i] != self[i] { return false }
        return true
    }
}
