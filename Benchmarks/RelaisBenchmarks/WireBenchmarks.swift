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
