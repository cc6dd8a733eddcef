import RelaisWire

/// RTP as the relay reads and forwards it: demultiplexing, the zero-copy view (RFC 3550 §5.1,
/// RFC 8285 extensions), the owned copy and its serialization, then the in-place rewrites a
/// forwarder applies per subscriber. After any rewrite the packet must still parse: a rewrite
/// that breaks the structure would send subscribers garbage.
enum RTPFuzz {
    static func run(_ input: UnsafeRawBufferPointer) {
        _ = PacketClass.classify(input)
        guard let view = try? RTPPacketView(parsing: input) else { return }
        var sink = 0
        for i in 0..<view.csrcCount { sink &+= Int(view.csrc(at: i).rawValue) }
        sink &+= view.payload.count
        var cursor = view.extensionElements
        while let element = try? cursor.next(in: input) {
            sink &+= element.length
            if let value = view.extensionValue(id: element.id) { sink &+= value.count }
        }
        consume(sink)

        // The owned form round-trips through its own serializer.
        let owned = RTPPacket(view)
        let bytes = owned.serialized()
        let reparsed = bytes.withUnsafeBytes { try? RTPPacket(RTPPacketView(parsing: $0)) }
        precondition(reparsed != nil, "RTPPacket.serialized() produced bytes RTPPacketView refuses")

        rewrite(input, view: view)
    }

    /// The forwarder's rewrites, with values derived from the packet itself.
    static func rewrite(_ input: UnsafeRawBufferPointer, view: RTPPacketView) {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: input.count, alignment: 8)
        defer { copy.deallocate() }
        copy.copyMemory(from: input)
        let seed = view.timestamp
        RTPRewrite.setSSRC(SSRC(seed ^ 0x5A5A_5A5A), in: copy)
        RTPRewrite.setSequenceNumber(SequenceNumber(view.sequenceNumber.rawValue &+ 1), in: copy)
        RTPRewrite.setTimestamp(seed &+ 90_000, in: copy)
        RTPRewrite.setPayloadType(PayloadType(UInt8(truncatingIfNeeded: seed) & 0x7F), in: copy)
        RTPRewrite.setMarker(seed & 1 == 0, in: copy)
        if let form = view.extensionForm {
            var cursor = view.extensionElements
            var index: UInt32 = 0
            while let element = try? cursor.next(in: UnsafeRawBufferPointer(copy)) {
                index &+= 1
                switch (seed >> (index % 24)) & 7 {
                case 0: RTPRewrite.erase(element, form: form, in: copy)
                case 1: RTPRewrite.setTransportWideSequence(UInt16(truncatingIfNeeded: seed), of: element, in: copy)
                case 2: RTPRewrite.setAbsSendTime(AbsSendTime(rawValue: seed), of: element, in: copy)
                default: RTPRewrite.setExtensionID(UInt8(truncatingIfNeeded: seed >> 8) &+ UInt8(truncatingIfNeeded: index), of: element, form: form, in: copy)
                }
            }
        }
        let again = try? RTPPacketView(parsing: UnsafeRawBufferPointer(copy))
        precondition(again != nil, "a header rewrite left a packet that no longer parses")
    }
}

/// Keeps computed values alive so the optimiser cannot drop the reads that produced them.
@inline(never)
func consume<T>(_ value: T) {
    withExtendedLifetime(value) {}
}
