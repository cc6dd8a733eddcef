/// Why a datagram is not a usable RTP packet. Every case is something a peer (or an attacker) can
/// send; none of them traps.
public enum RTPError: Error, Equatable, Sendable {
    /// The datagram ended before a field that its own header promised.
    case truncated(needed: Int, have: Int)
    /// Version field other than 2 (RFC 3550 §5.1).
    case badVersion(UInt8)
    /// Padding bit set but the last byte is zero or larger than the space after the header.
    case badPadding(length: Int, available: Int)
    /// The header extension's length field runs past the end of the packet.
    case extensionOverrun(declaredBytes: Int, available: Int)
    /// An RFC 8285 element's length runs past the end of the extension block.
    case extensionElementOverrun(offset: Int)
}

/// Header extension encodings of RFC 8285 §4.
public enum RTPExtensionForm: Sendable, Equatable {
    /// Profile 0xBEDE: 4-bit id, 4-bit length-1; ids 1...14.
    case oneByte
    /// Profile 0x100X: 8-bit id, 8-bit length; ids 1...255, elements of 0...255 bytes.
    case twoByte
    /// Any other profile: the block is carried but its contents are opaque.
    case other(profile: UInt16)

    @inlinable
    init(profile: UInt16) {
        if profile == 0xBEDE {
            self = .oneByte
        } else if profile & 0xFFF0 == 0x1000 {
            self = .twoByte
        } else {
            self = .other(profile: profile)
        }
    }
}

/// A parsed view of an RTP packet (RFC 3550 §5.1) over bytes the caller owns.
///
/// Parsing checks every length once and records offsets; it allocates nothing, so the relay can
/// parse each datagram straight from its receive buffer. The view keeps the raw pointer it was
/// given: it is valid only while that memory is, and must not outlive the receive callback.
public struct RTPPacketView {
    public let bytes: UnsafeRawBufferPointer

    public let marker: Bool
    public let payloadType: PayloadType
    public let sequenceNumber: SequenceNumber
    public let timestamp: UInt32
    public let ssrc: SSRC
    public let csrcCount: Int
    /// Header extension form, or nil when the X bit is clear.
    public let extensionForm: RTPExtensionForm?
    /// Offset of the first extension element (after the 4-byte extension header).
    public let extensionOffset: Int
    /// Length in bytes of the extension elements (a multiple of 4).
    public let extensionLength: Int
    /// Offset of the payload, i.e. the full header length.
    public let payloadOffset: Int
    public let payloadLength: Int
    /// Trailing padding bytes, including the count byte itself (RFC 3550 §5.1, P bit).
    public let paddingLength: Int

    /// The fixed header is 12 bytes.
    public static let fixedHeaderLength = 12

    /// Parses and validates `bytes`, including every header extension element.
    @inlinable
    public init(parsing bytes: UnsafeRawBufferPointer) throws(RTPError) {
        let count = bytes.count
        guard count >= Self.fixedHeaderLength else {
            throw .truncated(needed: Self.fixedHeaderLength, have: count)
        }
        let b0 = bytes.u8(at: 0)
        let version = b0 >> 6
        guard version == 2 else { throw .badVersion(version) }
        let hasPadding = b0 & 0x20 != 0
        let hasExtension = b0 & 0x10 != 0
        let csrcCount = Int(b0 & 0x0F)
        let b1 = bytes.u8(at: 1)

        var offset = Self.fixedHeaderLength + 4 * csrcCount
        guard count >= offset else { throw .truncated(needed: offset, have: count) }

        var form: RTPExtensionForm?
        var extensionOffset = 0
        var extensionLength = 0
        if hasExtension {
            guard count >= offset + 4 else { throw .truncated(needed: offset + 4, have: count) }
            let profile = bytes.u16(at: offset)
            let declared = 4 * Int(bytes.u16(at: offset + 2))
            extensionOffset = offset + 4
            guard count - extensionOffset >= declared else {
                throw .extensionOverrun(declaredBytes: declared, available: count - extensionOffset)
            }
            extensionLength = declared
            let f = RTPExtensionForm(profile: profile)
            form = f
            try Self.validateElements(bytes, form: f, offset: extensionOffset, length: declared)
            offset = extensionOffset + declared
        }

        var padding = 0
        if hasPadding {
            // RFC 3550 §5.1: the last octet counts the padding, itself included.
            let available = count - offset
            guard available > 0 else { throw .badPadding(length: 0, available: 0) }
            padding = Int(bytes.u8(at: count - 1))
            guard padding > 0, padding <= available else {
                throw .badPadding(length: padding, available: available)
            }
        }

        self.bytes = bytes
        self.marker = b1 & 0x80 != 0
        self.payloadType = PayloadType(b1 & 0x7F)
        self.sequenceNumber = SequenceNumber(bytes.u16(at: 2))
        self.timestamp = bytes.u32(at: 4)
        self.ssrc = SSRC(bytes.u32(at: 8))
        self.csrcCount = csrcCount
        self.extensionForm = form
        self.extensionOffset = extensionOffset
        self.extensionLength = extensionLength
        self.payloadOffset = offset
        self.payloadLength = count - offset - padding
        self.paddingLength = padding
    }

    /// Walks the elements once so that later lookups cannot run past the block.
    @inlinable
    static func validateElements(
        _ bytes: UnsafeRawBufferPointer, form: RTPExtensionForm, offset: Int, length: Int
    ) throws(RTPError) {
        var cursor = RTPExtensionCursor(form: form, start: offset, end: offset + length)
        while let element = try cursor.next(in: bytes) {
            _ = element
        }
    }

    /// The CSRC at `index` (0 ..< csrcCount).
    @inlinable
    public func csrc(at index: Int) -> SSRC {
        precondition(index >= 0 && index < csrcCount, "CSRC index out of range")
        return SSRC(bytes.u32(at: Self.fixedHeaderLength + 4 * index))
    }

    /// The payload bytes (after header, extension, before padding).
    @inlinable
    public var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[payloadOffset..<payloadOffset + payloadLength])
    }

    /// Location of the extension element with `id`, or nil. Walks at most `extensionLength` bytes.
    @inlinable
    public func extensionElement(id: UInt8) -> RTPExtensionElement? {
        guard let form = extensionForm else { return nil }
        var cursor = RTPExtensionCursor(form: form, start: extensionOffset, end: extensionOffset + extensionLength)
        // Elements were validated at parse time, so `next` cannot throw here; treat a throw as absent.
        while let element = try? cursor.next(in: bytes) {
            if element.id == id { return element }
        }
        return nil
    }

    /// The bytes of the extension element with `id`, or nil.
    @inlinable
    public func extensionValue(id: UInt8) -> UnsafeRawBufferPointer? {
        guard let element = extensionElement(id: id) else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[element.valueOffset..<element.valueOffset + element.length])
    }

    /// A cursor over the extension elements, for callers that visit all of them (id remapping).
    @inlinable
    public var extensionElements: RTPExtensionCursor {
        RTPExtensionCursor(
            form: extensionForm ?? .other(profile: 0),
            start: extensionOffset,
            end: extensionOffset + extensionLength
        )
    }
}

/// One RFC 8285 element: where its id lives and where its value lives, as offsets into the packet.
public struct RTPExtensionElement: Equatable, Sendable {
    public let id: UInt8
    /// Offset of the byte holding the id (one-byte form: id and length share it).
    public let idOffset: Int
    public let valueOffset: Int
    public let length: Int

    @inlinable
    public init(id: UInt8, idOffset: Int, valueOffset: Int, length: Int) {
        self.id = id
        self.idOffset = idOffset
        self.valueOffset = valueOffset
        self.length = length
    }
}

/// Iterates RFC 8285 elements of one extension block without allocating.
public struct RTPExtensionCursor {
    public let form: RTPExtensionForm
    @usableFromInline var position: Int
    @usableFromInline let end: Int

    @inlinable
    init(form: RTPExtensionForm, start: Int, end: Int) {
        self.form = form
        self.position = start
        self.end = end
    }

    /// The next element, or nil at the end of the block (or at the one-byte form's id 15, after
    /// which RFC 8285 §4.2 says to stop).
    @inlinable
    public mutating func next(in bytes: UnsafeRawBufferPointer) throws(RTPError) -> RTPExtensionElement? {
        switch form {
        case .other:
            return nil
        case .oneByte:
            while position < end {
                let b = bytes.u8(at: position)
                // Id 0 is reserved for padding (RFC 8285 §4.2): the byte is skipped whatever its
                // length nibble says, as libwebrtc does. Reading it as an element would hand the
                // relay an element it cannot write back (found by fuzzing, Fuzz/ target rtp).
                if b >> 4 == 0 {
                    position += 1
                    continue
                }
                let id = b >> 4
                if id == 15 {
                    position = end
                    return nil
                }
                let length = Int(b & 0x0F) + 1
                let valueOffset = position + 1
                guard valueOffset + length <= end else { throw .extensionElementOverrun(offset: position) }
                let element = RTPExtensionElement(id: id, idOffset: position, valueOffset: valueOffset, length: length)
                position = valueOffset + length
                return element
            }
            return nil
        case .twoByte:
            while position < end {
                let id = bytes.u8(at: position)
                if id == 0 {  // padding
                    position += 1
                    continue
                }
                guard position + 2 <= end else { throw .extensionElementOverrun(offset: position) }
                let length = Int(bytes.u8(at: position + 1))
                let valueOffset = position + 2
                guard valueOffset + length <= end else { throw .extensionElementOverrun(offset: position) }
                let element = RTPExtensionElement(id: id, idOffset: position, valueOffset: valueOffset, length: length)
                position = valueOffset + length
                return element
            }
            return nil
        }
    }
}
