import Benchmark
import RelaisWire

/// Every wire-layer benchmark must allocate nothing per packet: the p90 malloc count threshold is
/// zero, and `Benchmarks/Thresholds` holds the same zero so `thresholds check` fails on a regression.
func zeroAllocations() -> [BenchmarkMetric: BenchmarkThresholds] {
    [.mallocCountTotal: .init(absolute: [.p90: 0])]
}

func wireConfiguration() -> Benchmark.Configuration {
    .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 2_000,
        thresholds: zeroAllocations()
    )
}

/// A 1200-byte VP8 packet with abs-send-time, transport-wide sequence and mid, as Chrome sends.
func makeVP8Packet() -> [UInt8] {
    RTPPacket(
        marker: true, payloadType: PayloadType(96), sequenceNumber: SequenceNumber(1000), timestamp: 90_000,
        ssrc: SSRC(0x1234_5678),
        extensions: [
            RTPHeaderExtension(id: 2, value: [0x12, 0x34, 0x56]),
            RTPHeaderExtension(id: 3, value: [0x00, 0x01]),
            RTPHeaderExtension(id: 4, value: [0x30]),
        ],
        payload: [UInt8](repeating: 0xAB, count: 1200 - 28)
    ).serialized()
}

func wireBenchmarks() {
    // Per packet, as an SFU consumer does: parse, find the TWCC element, rewrite SSRC, sequence,
    // timestamp, payload type and transport-wide sequence in place. 1000 packets per iteration.
    Benchmark("RTP parse+rewrite", configuration: wireConfiguration()) { benchmark in
        var packet = makeVP8Packet()
        benchmark.startMeasurement()
        packet.withUnsafeMutableBytes { raw in
            for i in benchmark.scaledIterations {
                guard let view = try? RTPPacketView(parsing: UnsafeRawBufferPointer(raw)) else { fatalError("vector must parse") }
                let seq = view.sequenceNumber.advanced(by: i)
                RTPRewrite.setSSRC(SSRC(0xCAFE_F00D), in: raw)
                RTPRewrite.setSequenceNumber(seq, in: raw)
                RTPRewrite.setTimestamp(view.timestamp &+ 3000, in: raw)
                RTPRewrite.setPayloadType(PayloadType(100), in: raw)
                if let twcc = view.extensionElement(id: 3) {
                    RTPRewrite.setTransportWideSequence(UInt16(truncatingIfNeeded: i), of: twcc, in: raw)
                }
                blackHole(view.payloadLength)
            }
        }
    }

    Benchmark("Demux classify", configuration: wireConfiguration()) { benchmark in
        let packet = makeVP8Packet()
        benchmark.startMeasurement()
        packet.withUnsafeBytes { raw in
            for _ in benchmark.scaledIterations {
                blackHole(PacketClass.classify(raw))
            }
        }
    }
}

/// A compound as a browser sends it to an SFU: RR with two report blocks, SDES CNAME, a NACK,
/// a PLI, a REMB and a transport-wide feedback packet covering 40 packets.
func makeFeedbackCompound() -> [UInt8] {
    var twcc = TransportFeedbackBuilder(senderSSRC: SSRC(1), feedbackPacketCount: 7)
    for i in 0..<40 {
        _ = twcc.add(SequenceNumber(UInt16(1000 + i)), arrivalTime: i % 9 == 4 ? nil : Int64(10_000 + i * 1_250))
    }
    return RTCPPacket.serializeCompound([
        .receiverReport(ReceiverReport(ssrc: SSRC(1), reportBlocks: [ReportBlock(ssrc: SSRC(0xAA), fractionLost: 3), ReportBlock(ssrc: SSRC(0xBB))])),
        .sourceDescription(SourceDescription(chunks: [SDESChunk(source: SSRC(1), items: [SDESItem(type: .cname, text: "expert-7f3a9c")])])),
        .genericNACK(GenericNACK(senderSSRC: SSRC(1), mediaSSRC: SSRC(0xAA), sortedLost: [SequenceNumber(17), SequenceNumber(19), SequenceNumber(40)])),
        .pictureLossIndication(PictureLossIndication(senderSSRC: SSRC(1), mediaSSRC: SSRC(0xAA))),
        .remb(REMB(senderSSRC: SSRC(1), bitrate: 2_500_000, ssrcs: [SSRC(0xAA)])),
        .transportFeedback(twcc.build()),
    ])
}

func rtcpBenchmarks() {
    // Walk the compound and read every field an SFU acts on, through the zero-allocation views.
    Benchmark("RTCP compound parse (RR, SDES, NACK, PLI, REMB, TWCC)", configuration: wireConfiguration()) { benchmark in
        let compound = makeFeedbackCompound()
        benchmark.startMeasurement()
        compound.withUnsafeBytes { raw in
            for _ in benchmark.scaledIterations {
                var iterator = RTCPCompoundIterator(raw)
                var acc: UInt64 = 0
                while let header = try? iterator.next() {
                    guard let packet = try? RTCPPacketView(header) else { fatalError("vector must parse") }
                    switch packet {
                    case .receiverReport(let rr):
                        for i in 0..<rr.reportBlockCount { acc &+= UInt64(rr.reportBlock(at: i).fractionLost) }
                    case .genericNACK(let nack):
                        for seq in nack.lostSequenceNumbers { acc &+= UInt64(seq.rawValue) }
                    case .pictureLossIndication(let pli):
                        acc &+= UInt64(pli.mediaSSRC.rawValue)
                    case .remb(let remb):
                        acc &+= remb.bitrate
                    case .transportFeedback(let feedback):
                        for report in feedback.packets { acc &+= UInt64(report.arrivalTime ?? 0) }
                    default:
                        acc &+= 1
                    }
                }
                blackHole(acc)
            }
        }
    }
}
