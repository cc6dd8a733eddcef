/// One RTCP packet parsed into the view for its type, without allocating.
///
/// The media path switches on this to find the feedback it acts on. Types the relay does not
/// interpret (including RTPFB/PSFB formats other than those below) come back as `.unknown` with
/// their header, to be forwarded or dropped. Valid only while the caller's buffer is.
public enum RTCPPacketView {
    case senderReport(SenderReportView)
    case receiverReport(ReceiverReportView)
    case sourceDescription(SourceDescriptionView)
    case goodbye(GoodbyeView)
    case applicationDefined(ApplicationDefinedView)
    case genericNACK(GenericNACKView)
    case pictureLossIndication(PictureLossIndicationView)
    case fullIntraRequest(FullIntraRequestView)
    case remb(REMBView)
    case transportFeedback(TransportFeedbackView)
    case unknown(RTCPHeaderView)

    /// Dispatches on packet type and feedback format; throws when a known type is malformed.
    public init(_ header: RTCPHeaderView) throws(RTCPError) {
        switch (header.packetType, header.count) {
        case (RTCPPacketType.senderReport, _):
            self = .senderReport(try SenderReportView(header))
        case (RTCPPacketType.receiverReport, _):
            self = .receiverReport(try ReceiverReportView(header))
        case (RTCPPacketType.sourceDescription, _):
            self = .sourceDescription(try SourceDescriptionView(header))
        case (RTCPPacketType.goodbye, _):
            self = .goodbye(try GoodbyeView(header))
        case (RTCPPacketType.applicationDefined, _):
            self = .applicationDefined(try ApplicationDefinedView(header))
        case (RTCPPacketType.transportFeedback, RTCPFeedbackFormat.genericNACK):
            self = .genericNACK(try GenericNACKView(header))
        case (RTCPPacketType.transportFeedback, RTCPFeedbackFormat.transportWideCC):
            self = .transportFeedback(try TransportFeedbackView(header))
        case (RTCPPacketType.payloadSpecificFeedback, RTCPFeedbackFormat.pictureLossIndication):
            self = .pictureLossIndication(try PictureLossIndicationView(header))
        case (RTCPPacketType.payloadSpecificFeedback, RTCPFeedbackFormat.fullIntraRequest):
            self = .fullIntraRequest(try FullIntraRequestView(header))
        case (RTCPPacketType.payloadSpecificFeedback, RTCPFeedbackFormat.applicationLayer) where REMBView.isREMB(header):
            self = .remb(try REMBView(header))
        default:
            self = .unknown(header)
        }
    }
}

/// An RTCP packet in owned form: one case per type the relay understands, and `.unknown` to pass
/// everything else through unchanged.
public enum RTCPPacket: Equatable, Sendable {
    case senderReport(SenderReport)
    case receiverReport(ReceiverReport)
    case sourceDescription(SourceDescription)
    case goodbye(Goodbye)
    case applicationDefined(ApplicationDefined)
    case genericNACK(GenericNACK)
    case pictureLossIndication(PictureLossIndication)
    case fullIntraRequest(FullIntraRequest)
    case remb(REMB)
    case transportFeedback(TransportFeedback)
    /// Any other type or feedback format: the count field (5 bits) and the body, padding removed.
    case unknown(packetType: UInt8, count: UInt8, body: [UInt8])

    public init(_ view: RTCPPacketView) {
        switch view {
        case .senderReport(let v): self = .senderReport(SenderReport(v))
        case .receiverReport(let v): self = .receiverReport(ReceiverReport(v))
        case .sourceDescription(let v): self = .sourceDescription(SourceDescription(v))
        case .goodbye(let v): self = .goodbye(Goodbye(v))
        case .applicationDefined(let v): self = .applicationDefined(ApplicationDefined(v))
        case .genericNACK(let v): self = .genericNACK(GenericNACK(v))
        case .pictureLossIndication(let v): self = .pictureLossIndication(PictureLossIndication(v))
        case .fullIntraRequest(let v): self = .fullIntraRequest(FullIntraRequest(v))
        case .remb(let v): self = .remb(REMB(v))
        case .transportFeedback(let v): self = .transportFeedback(TransportFeedback(v))
        case .unknown(let h): self = .unknown(packetType: h.packetType, count: h.count, body: Array(h.body))
        }
    }

    public init(_ header: RTCPHeaderView) throws(RTCPError) {
        self.init(try RTCPPacketView(header))
    }

    /// Parses every packet of a compound (RFC 3550 §6.1; reduced-size RFC 5506 accepted).
    /// An empty datagram is not a compound.
    public static func parseCompound(_ bytes: UnsafeRawBufferPointer) throws(RTCPError) -> [RTCPPacket] {
        guard !bytes.isEmpty else { throw .truncated(needed: RTCPHeaderView.size, have: 0) }
        var packets: [RTCPPacket] = []
        var iterator = RTCPCompoundIterator(bytes)
        while let header = try iterator.next() {
            packets.append(try RTCPPacket(header))
        }
        return packets
    }

    public static func parseCompound(_ bytes: [UInt8]) throws(RTCPError) -> [RTCPPacket] {
        let result: Result<[RTCPPacket], RTCPError> = bytes.withUnsafeBytes { raw in
            do throws(RTCPError) {
                return .success(try parseCompound(raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    public var serializedLength: Int {
        switch self {
        case .senderReport(let p): return p.serializedLength
        case .receiverReport(let p): return p.serializedLength
        case .sourceDescription(let p): return p.serializedLength
        case .goodbye(let p): return p.serializedLength
        case .applicationDefined(let p): return p.serializedLength
        case .genericNACK(let p): return p.serializedLength
        case .pictureLossIndication(let p): return p.serializedLength
        case .fullIntraRequest(let p): return p.serializedLength
        case .remb(let p): return p.serializedLength
        case .transportFeedback(let p): return p.serializedLength
        case .unknown(_, _, let body): return RTCPWriting.padded(RTCPHeaderView.size + body.count)
        }
    }

    public func serialize(into writer: inout ByteWriter) throws(BufferTooSmall) {
        switch self {
        case .senderReport(let p): try p.serialize(into: &writer)
        case .receiverReport(let p): try p.serialize(into: &writer)
        case .sourceDescription(let p): try p.serialize(into: &writer)
        case .goodbye(let p): try p.serialize(into: &writer)
        case .applicationDefined(let p): try p.serialize(into: &writer)
        case .genericNACK(let p): try p.serialize(into: &writer)
        case .pictureLossIndication(let p): try p.serialize(into: &writer)
        case .fullIntraRequest(let p): try p.serialize(into: &writer)
        case .remb(let p): try p.serialize(into: &writer)
        case .transportFeedback(let p): try p.serialize(into: &writer)
        case .unknown(let packetType, let count, let body):
            let start = try RTCPWriting.begin(&writer, count: Int(count), packetType: packetType)
            try writer.write(bytes: body)
            try RTCPWriting.end(&writer, start: start)
        }
    }

    public static func serializedLength(ofCompound packets: [RTCPPacket]) -> Int {
        packets.reduce(0) { $0 + $1.serializedLength }
    }

    /// Writes the packets back to back. Compound rules (RFC 3550 §6.1: SR or RR first, an SDES
    /// with CNAME) are the caller's choice, since reduced-size RTCP (RFC 5506) relaxes them.
    public static func serialize(compound packets: [RTCPPacket], into writer: inout ByteWriter) throws(BufferTooSmall) {
        for packet in packets {
            try packet.serialize(into: &writer)
        }
    }

    /// The compound as a new array, for tests and control-plane code.
    public static func serializeCompound(_ packets: [RTCPPacket]) -> [UInt8] {
        let length = serializedLength(ofCompound: packets)
        do {
            return try ByteWriter.bytes(capacity: length) { (writer: inout ByteWriter) throws(BufferTooSmall) in
                try serialize(compound: packets, into: &writer)
            }
        } catch {
            preconditionFailure("serializedLength (\(length)) disagrees with serialize: \(error)")
        }
    }
}
