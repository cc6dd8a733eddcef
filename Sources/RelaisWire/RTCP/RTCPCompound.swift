/// Walks the packets of a compound RTCP datagram (RFC 3550 §6.1) without allocating.
///
/// Reduced-size RTCP (RFC 5506) is accepted: the first packet may be of any type, and a lone
/// feedback message is a valid compound. Padding is accepted on any packet, not only the last,
/// because libwebrtc pads transport-wide feedback wherever it sits in the compound.
///
/// ```swift
/// var packets = RTCPCompoundIterator(datagram)
/// while let header = try packets.next() { ... }
/// ```
///
/// Headers returned point into `bytes`: they are valid only while the caller's buffer is. After a
/// packet fails to parse, `next()` has thrown once and returns nil from then on, with `offset` left
/// at the packet that lied; the packets before it were well-formed.
public struct RTCPCompoundIterator {
    public let bytes: UnsafeRawBufferPointer
    /// Offset of the next packet to read (or of the packet that failed).
    public private(set) var offset: Int = 0
    private var failed = false

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The next packet's header, nil at the end of the compound.
    public mutating func next() throws(RTCPError) -> RTCPHeaderView? {
        guard !failed, offset < bytes.count else { return nil }
        do throws(RTCPError) {
            let header = try RTCPHeaderView(parsing: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            offset += header.byteLength
            return header
        } catch {
            failed = true
            throw error
        }
    }
}
