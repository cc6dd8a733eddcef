/// In-place header rewriting for forwarding.
///
/// An SFU sends one publisher packet to many subscribers, each with its own SSRC, sequence number,
/// timestamp, payload type and extension ids. Rewriting the header in the buffer (and restoring it
/// afterwards when needed) costs a few stores instead of a copy per subscriber. Offsets come from an
/// `RTPPacketView` parsed over the same bytes, so every store is in bounds.
public enum RTPRewrite {
    @inlinable
    public static func setSSRC(_ ssrc: SSRC, in packet: UnsafeMutableRawBufferPointer) {
        packet.setU32(ssrc.rawValue, at: 8)
    }

    @inlinable
    public static func setSequenceNumber(_ seq: SequenceNumber, in packet: UnsafeMutableRawBufferPointer) {
        packet.setU16(seq.rawValue, at: 2)
    }

    @inlinable
    public static func setTimestamp(_ timestamp: UInt32, in packet: UnsafeMutableRawBufferPointer) {
        packet.setU32(timestamp, at: 4)
    }

    /// Sets the payload type and keeps the marker bit.
    @inlinable
    public static func setPayloadType(_ pt: PayloadType, in packet: UnsafeMutableRawBufferPointer) {
        packet[1] = (packet[1] & 0x80) | pt.rawValue
    }

    @inlinable
    public static func setMarker(_ marker: Bool, in packet: UnsafeMutableRawBufferPointer) {
        packet[1] = marker ? (packet[1] | 0x80) : (packet[1] & 0x7F)
    }

    /// Changes an element's id in place. In the one-byte form the new id must be 1...14 (RFC 8285
    /// §4.2); returns false (leaving the packet unchanged) when it is not representable.
    @inlinable
    @discardableResult
    public static func setExtensionID(
        _ id: UInt8, of element: RTPExtensionElement, form: RTPExtensionForm,
        in packet: UnsafeMutableRawBufferPointer
    ) -> Bool {
        switch form {
        case .oneByte:
            guard (1...14).contains(id) else { return false }
            packet[element.idOffset] = (id << 4) | (packet[element.idOffset] & 0x0F)
            return true
        case .twoByte:
            guard id != 0 else { return false }
            packet[element.idOffset] = id
            return true
        case .other:
            return false
        }
    }

    /// Turns an element into padding so a receiver skips it (for extensions a subscriber did not
    /// negotiate). One-byte form: the id byte and value become zero bytes, which RFC 8285 §4.2
    /// defines as padding. Two-byte form: the same holds for id 0 (§4.3).
    @inlinable
    public static func erase(_ element: RTPExtensionElement, form: RTPExtensionForm, in packet: UnsafeMutableRawBufferPointer) {
        switch form {
        case .oneByte, .twoByte:
            for i in element.idOffset..<(element.valueOffset + element.length) { packet[i] = 0 }
        case .other:
            break
        }
    }

    /// Overwrites an element's value with `value`, which must have the element's length.
    @inlinable
    @discardableResult
    public static func setExtensionValue(
        _ value: UnsafeRawBufferPointer, of element: RTPExtensionElement, in packet: UnsafeMutableRawBufferPointer
    ) -> Bool {
        guard value.count == element.length else { return false }
        UnsafeMutableRawBufferPointer(rebasing: packet[element.valueOffset..<element.valueOffset + element.length])
            .copyMemory(from: value)
        return true
    }

    /// Writes a transport-wide sequence number into an existing 2-byte element.
    @inlinable
    @discardableResult
    public static func setTransportWideSequence(
        _ seq: UInt16, of element: RTPExtensionElement, in packet: UnsafeMutableRawBufferPointer
    ) -> Bool {
        guard element.length == 2 else { return false }
        packet.setU16(seq, at: element.valueOffset)
        return true
    }

    /// Writes an abs-send-time value into an existing 3-byte element.
    @inlinable
    @discardableResult
    public static func setAbsSendTime(
        _ time: AbsSendTime, of element: RTPExtensionElement, in packet: UnsafeMutableRawBufferPointer
    ) -> Bool {
        guard element.length == 3 else { return false }
        packet.setU24(time.rawValue, at: element.valueOffset)
        return true
    }
}
