import RelaisWire

/// A compound RTCP datagram (RFC 3550 §6.1, reduced-size RFC 5506) as the relay reads it: the
/// iterator, the view of every packet type (SR, RR, SDES, BYE, APP, generic NACK, transport-wide
/// feedback, PLI, FIR, REMB) with every accessor the media path calls, then the owned copy, whose
/// serialization must agree with its own length and parse again.
enum RTCPFuzz {
    static func run(_ input: UnsafeRawBufferPointer) {
        var sink = 0
        var iterator = RTCPCompoundIterator(input)
        while let header = try? iterator.next() {
            guard let view = try? RTCPPacketView(header) else { continue }
            sink &+= read(view)
        }
        consume(sink)

        guard let packets = try? RTCPPacket.parseCompound(input) else { return }
        // serializeCompound traps if serializedLength and serialize disagree: that is the check.
        let bytes = RTCPPacket.serializeCompound(packets)
        let reparsed = try? RTCPPacket.parseCompound(bytes)
        precondition(bytes.isEmpty || reparsed != nil, "a serialized RTCP compound does not parse again")
    }

    /// Every accessor of the packet's view.
    static func read(_ view: RTCPPacketView) -> Int {
        var sink = 0
        switch view {
        case .senderReport(let sr):
            sink &+= Int(truncatingIfNeeded: sr.ntpTimestamp) &+ Int(sr.rtpTimestamp) &+ Int(sr.packetCount) &+ Int(sr.octetCount)
            for i in 0..<sr.reportBlockCount { sink &+= Int(sr.reportBlock(at: i).ssrc.rawValue) }
            sink &+= sr.profileExtensions.count
        case .receiverReport(let rr):
            sink &+= Int(rr.ssrc.rawValue)
            for i in 0..<rr.reportBlockCount { sink &+= Int(rr.reportBlock(at: i).ssrc.rawValue) }
            sink &+= rr.profileExtensions.count
        case .sourceDescription(let sdes):
            for chunk in sdes.chunks {
                for item in chunk.items { sink &+= Int(item.type.rawValue) }
                if let cname = sdes.cname(of: chunk.source) { sink &+= cname.count }
            }
        case .goodbye(let bye):
            for i in 0..<bye.sourceCount { sink &+= Int(bye.source(at: i).rawValue) }
            sink &+= bye.reason?.count ?? 0
        case .applicationDefined(let app):
            sink &+= Int(app.subtype) &+ Int(app.source.rawValue) &+ Int(app.name) &+ app.data.count
        case .genericNACK(let nack):
            sink &+= Int(nack.senderSSRC.rawValue) &+ Int(nack.mediaSSRC.rawValue)
            for i in 0..<nack.pairCount { sink &+= Int(nack.pair(at: i).packetID.rawValue) }
            for lost in nack.lostSequenceNumbers { sink &+= Int(lost.rawValue) }
        case .pictureLossIndication(let pli):
            sink &+= Int(PictureLossIndication(pli).mediaSSRC.rawValue)
        case .fullIntraRequest(let fir):
            for i in 0..<fir.entryCount { sink &+= Int(fir.entry(at: i).sequenceNumber) }
        case .remb(let remb):
            sink &+= Int(truncatingIfNeeded: remb.bitrate)
            for i in 0..<remb.ssrcCount { sink &+= Int(remb.ssrc(at: i).rawValue) }
        case .transportFeedback(let twcc):
            sink &+= Int(twcc.baseSequenceNumber.rawValue) &+ twcc.packetStatusCount &+ Int(twcc.referenceTime)
            for report in twcc.packets { sink &+= Int(report.sequenceNumber.rawValue) }
        case .unknown(let header):
            sink &+= header.body.count
        }
        return sink
    }
}
