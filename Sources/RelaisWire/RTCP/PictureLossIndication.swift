/// A Picture Loss Indication (PSFB PT 206, FMT 1) over the caller's bytes (RFC 4585 §6.3.1): the
/// receiver lost part of the picture and asks the sender for a keyframe.
///
/// ```
/// |V=2|P|  FMT=1  |   PT=206      |          length=2             |
/// |                  SSRC of packet sender                        |
/// |                  SSRC of media source                         |
/// ```
///
/// PLI has no FCI; anything after the SSRCs is ignored. Valid only while the caller's buffer is.
public struct PictureLossIndicationView {
    public let header: RTCPHeaderView
    public let body: UnsafeRawBufferPointer

    public init(_ header: RTCPHeaderView) throws(RTCPError) {
        try header.require(RTCPPacketType.payloadSpecificFeedback, format: RTCPFeedbackFormat.pictureLossIndication)
        try header.requireBody(8)
        self.header = header
        self.body = header.body
    }

    public var senderSSRC: SSRC { SSRC(body.u32(at: 0)) }
    /// The stream that needs a keyframe.
    public var mediaSSRC: SSRC { SSRC(body.u32(at: 4)) }
}

/// A Picture Loss Indication in owned form.
public struct PictureLossIndication: Equatable, Sendable {
    public var senderSSRC: SSRC
    public var mediaSSRC: SSRC

    public init(senderSSRC: SSRC, mediaSSRC: SSRC) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
    }

    public init(_ view: PictureLossIndicationView) {
        self.init(senderSSRC: view.senderSSRC, mediaSSRC: view.mediaSSRC)
    }

    public var serializedLength: Int { RTCPHeaderView.size + 8 }

    public func serialize(into writer: inout ByteWriter) throws(BufferTooSmall) {
        let start = try RTCPWriting.begin(
            &writer, count: Int(RTCPFeedbackFormat.pictureLossIndication),
            packetType: RTCPPacketType.payloadSpecificFeedback)
        try writer.write(senderSSRC.rawValue)
        try writer.write(mediaSSRC.rawValue)
        try RTCPWriting.end(&writer, start: start)
    }
}
