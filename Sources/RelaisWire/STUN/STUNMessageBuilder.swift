/// Writes one STUN message into caller memory (RFC 8489 §5, §14).
///
/// The header's length field is kept current after every attribute, so MESSAGE-INTEGRITY and
/// FINGERPRINT, which cover the header, can be computed as they are appended.
public struct STUNMessageBuilder {
    public private(set) var writer: ByteWriter
    private let start: Int
    /// Value of padding bytes: zero by default; RFC 5769's vectors use 0x20.
    public var paddingByte: UInt8 = 0

    public init(
        type: STUNMessageType, transactionID: STUNTransactionID, writer: ByteWriter
    ) throws(BufferTooSmall) {
        self.writer = writer
        self.start = writer.position
        try self.writer.write(type.rawValue)
        try self.writer.write(UInt16(0))
        try self.writer.write(STUNMessageView.magicCookie)
        try self.writer.write(transactionID.high)
        try self.writer.write(transactionID.middle)
        try self.writer.write(transactionID.low)
    }

    /// Bytes written so far for this message.
    public var length: Int { writer.position - start }

    private mutating func updateLength() {
        writer.patch(UInt16(length - STUNMessageView.headerLength), at: start + 2)
    }

    private mutating func beginAttribute(_ type: UInt16, length: Int) throws(BufferTooSmall) {
        try writer.write(type)
        try writer.write(UInt16(length))
    }

    private mutating func pad(_ length: Int) throws(BufferTooSmall) {
        let padding = (4 - length % 4) % 4
        for _ in 0..<padding { try writer.write(paddingByte) }
        updateLength()
    }

    public mutating func addAttribute(_ type: UInt16, value: UnsafeRawBufferPointer) throws(BufferTooSmall) {
        try beginAttribute(type, length: value.count)
        try writer.write(bytes: value)
        try pad(value.count)
    }

    public mutating func addAttribute(_ type: UInt16, value: [UInt8]) throws(BufferTooSmall) {
        try beginAttribute(type, length: value.count)
        try writer.write(bytes: value)
        try pad(value.count)
    }

    public mutating func addString(_ type: UInt16, _ value: String) throws(BufferTooSmall) {
        try addAttribute(type, value: Array(value.utf8))
    }

    public mutating func addUsername(_ username: String) throws(BufferTooSmall) {
        try addString(STUNAttributeType.username, username)
    }

    public mutating func addPriority(_ priority: UInt32) throws(BufferTooSmall) {
        try beginAttribute(STUNAttributeType.priority, length: 4)
        try writer.write(priority)
        updateLength()
    }

    public mutating func addUseCandidate() throws(BufferTooSmall) {
        try beginAttribute(STUNAttributeType.useCandidate, length: 0)
        updateLength()
    }

    public mutating func addICEControlling(_ tieBreaker: UInt64) throws(BufferTooSmall) {
        try beginAttribute(STUNAttributeType.iceControlling, length: 8)
        try writer.write(tieBreaker)
        updateLength()
    }

    public mutating func addICEControlled(_ tieBreaker: UInt64) throws(BufferTooSmall) {
        try beginAttribute(STUNAttributeType.iceControlled, length: 8)
        try writer.write(tieBreaker)
        updateLength()
    }

    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2): port XOR the cookie's high half, IPv4 XOR the cookie,
    /// IPv6 XOR cookie||transaction id.
    public mutating func addXorMappedAddress(_ address: TransportAddress) throws(BufferTooSmall) {
        let cookie = STUNMessageView.magicCookie
        let transactionStart = start + 8
        switch address.ip {
        case .v4(let ip):
            try beginAttribute(STUNAttributeType.xorMappedAddress, length: 8)
            try writer.write(UInt8(0))
            try writer.write(UInt8(0x01))
            try writer.write(address.port ^ UInt16(cookie >> 16))
            try writer.write(ip ^ cookie)
        case .v6(let high, let low):
            let readback = UnsafeRawBufferPointer(writer.buffer)
            let maskHigh = UInt64(cookie) << 32 | UInt64(readback.u32(at: transactionStart))
            let maskLow = readback.u64(at: transactionStart + 4)
            try beginAttribute(STUNAttributeType.xorMappedAddress, length: 20)
            try writer.write(UInt8(0))
            try writer.write(UInt8(0x02))
            try writer.write(address.port ^ UInt16(cookie >> 16))
            try writer.write(high ^ maskHigh)
            try writer.write(low ^ maskLow)
        }
        updateLength()
    }

    /// ERROR-CODE (RFC 8489 §14.8): class and number split, then a UTF-8 reason phrase.
    public mutating func addErrorCode(_ code: Int, reason: String) throws(BufferTooSmall) {
        let phrase = Array(reason.utf8.prefix(763 - 4))
        try beginAttribute(STUNAttributeType.errorCode, length: 4 + phrase.count)
        try writer.write(UInt16(0))
        try writer.write(UInt8((code / 100) & 0x07))
        try writer.write(UInt8(code % 100))
        try writer.write(bytes: phrase)
        try pad(phrase.count)
    }

    /// Appends MESSAGE-INTEGRITY keyed with `key` (ICE: the password bytes).
    public mutating func addMessageIntegrity(key: UnsafeRawBufferPointer) throws(BufferTooSmall) {
        let coveredEnd = writer.position
        try beginAttribute(STUNAttributeType.messageIntegrity, length: 20)
        let valueAt = writer.position
        try writer.writeZeros(20)
        updateLength()
        let message = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(writer.buffer)[start..<coveredEnd])
        var digest = STUNIntegrity.Digest()
        // The header already carries the final length (through MESSAGE-INTEGRITY), as §14.5 asks.
        STUNIntegrity.hmacSHA1(key: key, message: message, lengthOverride: UInt16(length - STUNMessageView.headerLength), into: &digest)
        digest.withBytes { d in
            UnsafeMutableRawBufferPointer(rebasing: writer.buffer[valueAt..<valueAt + 20]).copyMemory(from: d)
        }
    }

    public mutating func addMessageIntegrity(password: String) throws(BufferTooSmall) {
        try addMessageIntegrity(key: Array(password.utf8))
    }

    public mutating func addMessageIntegrity(key: [UInt8]) throws(BufferTooSmall) {
        var failure: BufferTooSmall?
        key.withUnsafeBytes { k in
            do throws(BufferTooSmall) { try addMessageIntegrity(key: k) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Appends FINGERPRINT; must come last (RFC 8489 §14.7).
    public mutating func addFingerprint() throws(BufferTooSmall) {
        let coveredEnd = writer.position
        try beginAttribute(STUNAttributeType.fingerprint, length: 4)
        let valueAt = writer.position
        try writer.write(UInt32(0))
        updateLength()
        let covered = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(writer.buffer)[start..<coveredEnd])
        writer.patch(CRC32.checksum(covered) ^ 0x5354_554E, at: valueAt)
    }
}

extension STUNMessageBuilder {
    /// Builds a whole message into a new array (tests, the client's checks).
    public static func build(
        type: STUNMessageType, transactionID: STUNTransactionID, capacity: Int = 512,
        _ body: (inout STUNMessageBuilder) throws(BufferTooSmall) -> Void
    ) throws(BufferTooSmall) -> [UInt8] {
        try ByteWriter.bytes(capacity: capacity) { (w: inout ByteWriter) throws(BufferTooSmall) in
            var builder = try STUNMessageBuilder(type: type, transactionID: transactionID, writer: w)
            try body(&builder)
            w = builder.writer
        }
    }
}
