/// Why a datagram is not a usable STUN message (RFC 8489 §6, §14).
public enum STUNError: Error, Equatable, Sendable {
    case truncated(needed: Int, have: Int)
    /// The two most significant bits of the type are not zero.
    case notSTUN
    case badMagicCookie(UInt32)
    /// The header length is not a multiple of 4 or disagrees with the datagram size.
    case badLength(declared: Int, datagram: Int)
    /// An attribute's length runs past the end of the message.
    case attributeOverrun(type: UInt16, offset: Int)
    /// A known attribute has a length its definition does not allow.
    case badAttributeLength(type: UInt16, length: Int)
    /// FINGERPRINT was not the last attribute, or MESSAGE-INTEGRITY was followed by anything but it.
    case attributeAfterIntegrity(type: UInt16)
    /// More than `STUNMessageView.maxAttributes` attributes.
    case tooManyAttributes
}

/// STUN message classes, encoded in bits C1 and C0 of the message type (RFC 8489 §5).
public enum STUNClass: UInt16, Sendable {
    case request = 0b00
    case indication = 0b01
    case successResponse = 0b10
    case errorResponse = 0b11
}

/// A message type: method and class interleaved as RFC 8489 §5 Figure 3 shows.
public struct STUNMessageType: Hashable, Sendable {
    public var method: UInt16
    public var messageClass: STUNClass

    public static let bindingMethod: UInt16 = 0x001
    public static let bindingRequest = STUNMessageType(method: bindingMethod, messageClass: .request)
    public static let bindingSuccess = STUNMessageType(method: bindingMethod, messageClass: .successResponse)
    public static let bindingError = STUNMessageType(method: bindingMethod, messageClass: .errorResponse)
    public static let bindingIndication = STUNMessageType(method: bindingMethod, messageClass: .indication)

    public init(method: UInt16, messageClass: STUNClass) {
        self.method = method & 0x0FFF
        self.messageClass = messageClass
    }

    public init(rawValue: UInt16) {
        let m = (rawValue & 0x000F) | ((rawValue & 0x00E0) >> 1) | ((rawValue & 0x3E00) >> 2)
        let c = ((rawValue & 0x0010) >> 4) | ((rawValue & 0x0100) >> 7)
        self.method = m
        self.messageClass = STUNClass(rawValue: c)!  // two bits always map to one of four cases
    }

    public var rawValue: UInt16 {
        let m = method
        let c = messageClass.rawValue
        return (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 0x1) << 4) | ((c & 0x2) << 7)
    }
}

/// Attribute types Relais reads or writes (RFC 8489 §18.3, RFC 8445 §16.1).
public enum STUNAttributeType {
    public static let mappedAddress: UInt16 = 0x0001
    public static let username: UInt16 = 0x0006
    public static let messageIntegrity: UInt16 = 0x0008
    public static let errorCode: UInt16 = 0x0009
    public static let unknownAttributes: UInt16 = 0x000A
    public static let realm: UInt16 = 0x0014
    public static let nonce: UInt16 = 0x0015
    public static let messageIntegritySHA256: UInt16 = 0x001C
    public static let xorMappedAddress: UInt16 = 0x0020
    public static let priority: UInt16 = 0x0024
    public static let useCandidate: UInt16 = 0x0025
    public static let software: UInt16 = 0x8022
    public static let fingerprint: UInt16 = 0x8028
    public static let iceControlled: UInt16 = 0x8029
    public static let iceControlling: UInt16 = 0x802A
    /// RFC 8489 §14: types 0x0000-0x7FFF are comprehension-required.
    @inlinable public static func isComprehensionRequired(_ type: UInt16) -> Bool { type < 0x8000 }
}

/// 96-bit transaction id (RFC 8489 §6).
public struct STUNTransactionID: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt32
    public var middle: UInt32
    public var low: UInt32

    public init(high: UInt32, middle: UInt32, low: UInt32) {
        self.high = high
        self.middle = middle
        self.low = low
    }

    /// A cryptographically random id, as RFC 8489 §6 requires for requests.
    public static func random() -> STUNTransactionID {
        var g = SystemRandomNumberGenerator()
        return STUNTransactionID(high: g.next(), middle: g.next(), low: g.next())
    }

    public var bytes: [UInt8] {
        [high, middle, low].flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32($0))) } }
    }

    public var description: String {
        bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
    }
}

/// A validated view of one STUN message over bytes the caller owns (valid only while they are).
///
/// Parsing walks the attributes once, checks every length, and records where the attributes that
/// ICE needs are, so the checks that follow (integrity, fingerprint, role conflict) read fixed
/// offsets. It allocates nothing.
public struct STUNMessageView {
    public let bytes: UnsafeRawBufferPointer
    public let type: STUNMessageType
    public let transactionID: STUNTransactionID

    /// Offsets of attribute *values* (after the 4-byte TLV header), or -1 when absent.
    public private(set) var usernameOffset = -1
    public private(set) var usernameLength = 0
    public private(set) var messageIntegrityOffset = -1
    public private(set) var fingerprintOffset = -1
    public private(set) var priority: UInt32?
    public private(set) var useCandidate = false
    public private(set) var iceControlling: UInt64?
    public private(set) var iceControlled: UInt64?
    public private(set) var xorMappedAddressOffset = -1
    public private(set) var xorMappedAddressLength = 0
    public private(set) var errorCodeOffset = -1
    public private(set) var errorCodeLength = 0
    /// The first comprehension-required attribute this view does not know, if any (RFC 8489 §7.3.1
    /// says a request carrying one gets a 420 error).
    public private(set) var unknownRequiredAttribute: UInt16?

    public static let headerLength = 20
    public static let magicCookie: UInt32 = 0x2112_A442
    /// Bound on the attribute walk; ICE checks carry fewer than ten.
    public static let maxAttributes = 64

    /// Quick test for the RFC 8489 §6 fixed-header shape, before a full parse.
    @inlinable
    public static func looksLikeSTUN(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= headerLength && bytes.u8(at: 0) & 0xC0 == 0 && bytes.u32(at: 4) == magicCookie
            && bytes.u16(at: 2) & 0x3 == 0
    }

    public init(parsing bytes: UnsafeRawBufferPointer) throws(STUNError) {
        guard bytes.count >= Self.headerLength else { throw .truncated(needed: Self.headerLength, have: bytes.count) }
        let rawType = bytes.u16(at: 0)
        guard rawType & 0xC000 == 0 else { throw .notSTUN }
        let cookie = bytes.u32(at: 4)
        guard cookie == Self.magicCookie else { throw .badMagicCookie(cookie) }
        let declared = Int(bytes.u16(at: 2))
        guard declared % 4 == 0, declared + Self.headerLength == bytes.count else {
            throw .badLength(declared: declared, datagram: bytes.count)
        }
        self.bytes = bytes
        self.type = STUNMessageType(rawValue: rawType)
        self.transactionID = STUNTransactionID(high: bytes.u32(at: 8), middle: bytes.u32(at: 12), low: bytes.u32(at: 16))

        var offset = Self.headerLength
        var seen = 0
        while offset < bytes.count {
            seen += 1
            guard seen <= Self.maxAttributes else { throw .tooManyAttributes }
            guard offset + 4 <= bytes.count else { throw .truncated(needed: offset + 4, have: bytes.count) }
            let attrType = bytes.u16(at: offset)
            let length = Int(bytes.u16(at: offset + 2))
            let value = offset + 4
            guard value + length <= bytes.count else { throw .attributeOverrun(type: attrType, offset: offset) }
            let padded = (length + 3) & ~3
            // RFC 8489 §14: every attribute is padded to 32 bits, the last one included.
            guard value + padded <= bytes.count else { throw .attributeOverrun(type: attrType, offset: offset) }

            if fingerprintOffset >= 0 {
                throw .attributeAfterIntegrity(type: attrType)
            }
            if messageIntegrityOffset >= 0 && attrType != STUNAttributeType.fingerprint {
                // RFC 8489 §14.5: attributes after MESSAGE-INTEGRITY (other than FINGERPRINT) are
                // ignored; ICE peers never send them, so refusing is the safer reading.
                throw .attributeAfterIntegrity(type: attrType)
            }

            switch attrType {
            case STUNAttributeType.username:
                guard length <= 513 else { throw .badAttributeLength(type: attrType, length: length) }
                usernameOffset = value
                usernameLength = length
            case STUNAttributeType.messageIntegrity:
                guard length == 20 else { throw .badAttributeLength(type: attrType, length: length) }
                messageIntegrityOffset = value
            case STUNAttributeType.fingerprint:
                guard length == 4 else { throw .badAttributeLength(type: attrType, length: length) }
                fingerprintOffset = value
            case STUNAttributeType.priority:
                guard length == 4 else { throw .badAttributeLength(type: attrType, length: length) }
                priority = bytes.u32(at: value)
            case STUNAttributeType.useCandidate:
                guard length == 0 else { throw .badAttributeLength(type: attrType, length: length) }
                useCandidate = true
            case STUNAttributeType.iceControlling:
                guard length == 8 else { throw .badAttributeLength(type: attrType, length: length) }
                iceControlling = bytes.u64(at: value)
            case STUNAttributeType.iceControlled:
                guard length == 8 else { throw .badAttributeLength(type: attrType, length: length) }
                iceControlled = bytes.u64(at: value)
            case STUNAttributeType.xorMappedAddress:
                guard length == 8 || length == 20 else { throw .badAttributeLength(type: attrType, length: length) }
                xorMappedAddressOffset = value
                xorMappedAddressLength = length
            case STUNAttributeType.errorCode:
                guard length >= 4, length <= 763 else { throw .badAttributeLength(type: attrType, length: length) }
                errorCodeOffset = value
                errorCodeLength = length
            case STUNAttributeType.software, STUNAttributeType.realm, STUNAttributeType.nonce,
                STUNAttributeType.mappedAddress, STUNAttributeType.unknownAttributes,
                STUNAttributeType.messageIntegritySHA256:
                break
            default:
                if STUNAttributeType.isComprehensionRequired(attrType), unknownRequiredAttribute == nil {
                    unknownRequiredAttribute = attrType
                }
            }
            offset = value + padded
        }
    }

    /// The USERNAME value, or nil.
    public var username: UnsafeRawBufferPointer? {
        guard usernameOffset >= 0 else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[usernameOffset..<usernameOffset + usernameLength])
    }

    /// The USERNAME as a String (control-plane convenience; allocates).
    public var usernameString: String? {
        username.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Decodes XOR-MAPPED-ADDRESS (RFC 8489 §14.2), or nil when absent or of an unknown family.
    public var xorMappedAddress: TransportAddress? {
        guard xorMappedAddressOffset >= 0 else { return nil }
        let v = xorMappedAddressOffset
        let family = bytes.u8(at: v + 1)
        let port = bytes.u16(at: v + 2) ^ UInt16(Self.magicCookie >> 16)
        switch (family, xorMappedAddressLength) {
        case (0x01, 8):
            return TransportAddress(ip: .v4(bytes.u32(at: v + 4) ^ Self.magicCookie), port: port)
        case (0x02, 20):
            let maskHigh = UInt64(Self.magicCookie) << 32 | UInt64(transactionID.high)
            let maskLow = UInt64(transactionID.middle) << 32 | UInt64(transactionID.low)
            return TransportAddress(ip: .v6(bytes.u64(at: v + 4) ^ maskHigh, bytes.u64(at: v + 12) ^ maskLow), port: port)
        default:
            return nil
        }
    }

    /// ERROR-CODE as (code, reason), RFC 8489 §14.8.
    public var errorCode: (code: Int, reason: String)? {
        guard errorCodeOffset >= 0 else { return nil }
        let v = errorCodeOffset
        let code = Int(bytes.u8(at: v + 2) & 0x07) * 100 + Int(bytes.u8(at: v + 3))
        let reason = String(decoding: bytes[(v + 4)..<(v + errorCodeLength)], as: UTF8.self)
        return (code, reason)
    }

    /// True when FINGERPRINT is present and matches CRC-32 of the preceding bytes XOR 0x5354554E
    /// (RFC 8489 §14.7).
    public var hasValidFingerprint: Bool {
        guard fingerprintOffset >= 0 else { return false }
        let covered = fingerprintOffset - 4
        let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<covered]))
        return crc ^ 0x5354_554E == bytes.u32(at: fingerprintOffset)
    }

    /// True when MESSAGE-INTEGRITY is present and is the HMAC-SHA1, keyed with `key`, of the message
    /// up to it, with the header length set as if it ended right after MESSAGE-INTEGRITY (§14.5).
    public func hasValidIntegrity(key: UnsafeRawBufferPointer) -> Bool {
        guard messageIntegrityOffset >= 0 else { return false }
        let attributeStart = messageIntegrityOffset - 4
        let adjustedLength = UInt16(messageIntegrityOffset + 20 - Self.headerLength)
        var mac = STUNIntegrity.Digest()
        STUNIntegrity.hmacSHA1(
            key: key, message: UnsafeRawBufferPointer(rebasing: bytes[0..<attributeStart]),
            lengthOverride: adjustedLength, into: &mac)
        return mac.constantTimeEquals(UnsafeRawBufferPointer(rebasing: bytes[messageIntegrityOffset..<messageIntegrityOffset + 20]))
    }

    /// Convenience over `hasValidIntegrity(key:)` for a password string (ICE short-term
    /// credentials use the password bytes as key, RFC 8489 §9.1.1).
    public func hasValidIntegrity(password: String) -> Bool {
        var password = password
        return password.withUTF8 { hasValidIntegrity(key: UnsafeRawBufferPointer($0)) }
    }
}
