import Benchmark
import RelaisReceive
import RelaisSFU
import RelaisWire

/// A 1200-byte VP8 key frame start packet (RFC 7741 descriptor S=1 PID=0, RFC 6386 key frame
/// header) with the same three one-byte extensions as `makeVP8Packet`.
func makeVP8KeyframePacket() -> [UInt8] {
    let header: [UInt8] = [0x10, 0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x00, 0x05, 0xD0, 0x02]  // 1280x720
    return RTPPacket(
        marker: false, payloadType: PayloadType(96), sequenceNumber: SequenceNumber(1000), timestamp: 90_000,
        ssrc: SSRC(0x1234_5678),
        extensions: [
            RTPHeaderExtension(id: 2, value: [0x12, 0x34, 0x56]),
            RTPHeaderExtension(id: 3, value: [0x00, 0x01]),
            RTPHeaderExtension(id: 4, value: [0x30]),
        ],
        payload: header + [UInt8](repeating: 0xAB, count: 1200 - 28 - header.count)
    ).serialized()
}

func sfuBenchmarks() {
    // Per packet and subscriber, as the media loop does: copy the publisher's packet into the
    // per-loop scratch buffer, then DownTrack.rewrite (parse, PT and extension-id maps, SSRC,
    // sequence and timestamp offsets). 1000 packets per iteration.
    Benchmark("SFU down track rewrite", configuration: wireConfiguration()) { benchmark in
        var source = makeVP8KeyframePacket()
        var scratch = [UInt8](repeating: 0, count: 1500)
        var track = DownTrack(
            outputSSRC: SSRC(0xCAFE_F00D), kind: .video, codec: .vp8, clockRate: 90_000,
            payloadTypeMap: [(from: 96, to: 100)], extensionIDMap: [(from: 2, to: 3), (from: 3, to: 5)])
        let length = source.count
        var clock: UInt64 = 0
        benchmark.startMeasurement()
        source.withUnsafeMutableBytes { src in
            scratch.withUnsafeMutableBytes { dst in
                for i in benchmark.scaledIterations {
                    RTPRewrite.setSequenceNumber(SequenceNumber(UInt16(truncatingIfNeeded: i)), in: src)
                    dst.copyMemory(from: UnsafeRawBufferPointer(src))
                    clock &+= 1_000_000
                    let verdict = track.rewrite(dst, length: length, now: Instant(nanoseconds: clock))
                    blackHole(verdict)
                }
            }
        }
        // The measured path must be the forwarding one, not a cheap drop.
        guard track.packetsSent == UInt32(truncatingIfNeeded: benchmark.scaledIterations.count) else {
            fatalError("down track dropped packets: \(track.drops)")
        }
    }

    // The publisher side: copy each packet into the ring, and answer one NACK lookup per packet
    // for a packet 100 behind. 1000 packets per iteration.
    Benchmark("SFU retransmission store+lookup", configuration: wireConfiguration()) { benchmark in
        let packet = makeVP8KeyframePacket()
        let ring = RetransmissionBuffer()
        var clock: UInt64 = 0
        benchmark.startMeasurement()
        packet.withUnsafeBytes { raw in
            for i in benchmark.scaledIterations {
                clock &+= 1_000_000
                let now = Instant(nanoseconds: clock)
                let seq = SequenceNumber(UInt16(truncatingIfNeeded: i))
                ring.store(raw, sequence: seq, now: now)
                blackHole(ring.packet(for: seq.advanced(by: -100), now: now)?.count)
            }
        }
        guard ring.hits > 0 else { fatalError("retransmission lookups all missed") }
    }

    // The receive side per publisher packet: RFC 3550 statistics and NACK loss detection, with
    // one packet in 50 lost (and the NACK timer run every packet). 1000 packets per iteration.
    Benchmark("SFU receive statistics+NACK", configuration: wireConfiguration()) { benchmark in
        var stats = ReceiveStatistics(ssrc: SSRC(1), clockRate: 90_000)
        var nack = NackGenerator()
        var due: [SequenceNumber] = []
        due.reserveCapacity(NackGenerator.Configuration().maxEntries)
        var clock: UInt64 = 0
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            guard i % 50 != 49 else { continue }
            clock &+= 1_000_000
            let now = Instant(nanoseconds: clock)
            let seq = SequenceNumber(UInt16(truncatingIfNeeded: i))
            stats.record(sequence: seq, rtpTimestamp: UInt32(truncatingIfNeeded: i &* 900), arrival: now)
            nack.received(seq, now: now)
            nack.due(now: now, rtt: .milliseconds(40), into: &due)
            blackHole(due.count)
        }
    }
}
