import TestSupport
import RelaisWire
import Testing

@testable import RelaisMedia

func ms(_ value: Int) -> Instant { Instant(nanoseconds: UInt64(value) * 1_000_000) }

/// Sends VP8 frames through the real packetizer and sender: frame bytes of 100 × packets, so that a
/// 104-byte payload limit gives exactly `packets` packets.
struct VideoSource {
    var packetizer = VP8Packetizer(maxPayload: 104)
    var sender: RTPStreamSender
    var frames: [UInt32: [UInt8]] = [:]

    init(startSequence: UInt16) {
        sender = RTPStreamSender(
            configuration: .init(ssrc: SSRC(7), payloadType: PayloadType(96), clockRate: 90_000),
            initialSequenceNumber: SequenceNumber(startSequence), timestampOffset: 0)
    }

    mutating func frame(_ index: Int, packets: Int, keyframe: Bool, now: Instant = .zero) -> [RTPPacket] {
        let bytes = vp8Frame(size: 100 * packets, keyframe: keyframe, seed: index)
        let timestamp = UInt32(3000 * index)
        frames[timestamp] = bytes
        return sender.packets(frame: packetizer.packetize(bytes), rtpTimestamp: timestamp, now: now)
            .map { try! RTPPacket(parsing: $0) }
    }
}

extension JitterBuffer {
    mutating func drain(now: Instant) -> [JitterBufferFrame] {
        var out: [JitterBufferFrame] = []
        while let frame = popFrame(now: now) { out.append(frame) }
        return out
    }
}

@Suite("Video jitter buffer")
struct ReceiveJitterBufferTests {
    /// 30 frames of 1-4 packets, a keyframe every 10, starting 36 packets before the 16-bit wrap.
    static func stream() -> (VideoSource, [RTPPacket]) {
        var source = VideoSource(startSequence: 65_500)
        var packets: [RTPPacket] = []
        for i in 0..<30 { packets += source.frame(i, packets: 1 + i % 4, keyframe: i % 10 == 0) }
        return (source, packets)
    }

    static func decode(_ arrivals: [RTPPacket]) throws -> ([UInt32], [[UInt8]], JitterBuffer) {
        var buffer = JitterBuffer()
        var timestamps: [UInt32] = []
        var frames: [[UInt8]] = []
        for (i, packet) in arrivals.enumerated() {
            buffer.insert(packet, arrival: ms(i))
            for frame in buffer.drain(now: ms(i)) {
                let vp8 = try #require(try VP8FrameAssembler.assemble(frame.packets))
                #expect(vp8.isKeyframe == frame.isKeyframe)
                timestamps.append(frame.rtpTimestamp)
                frames.append(vp8.bytes)
            }
        }
        return (timestamps, frames, buffer)
    }

    @Test func inOrderReorderedDuplicatedAndWrappedGiveTheSameFrames() throws {
        let (source, packets) = Self.stream()
        #expect(packets.first!.sequenceNumber.rawValue == 65_500)
        #expect(packets.count == 73 && packets.last!.sequenceNumber.rawValue == 36, "crosses the wrap")
        let expectedTimestamps = (0..<30).map { UInt32(3000 * $0) }
        let expectedFrames = expectedTimestamps.map { source.frames[$0]! }

        var rng = SplitMix64(seed: 42)
        var reordered: [RTPPacket] = []
        for chunk in stride(from: 0, to: packets.count, by: 6) {
            reordered += packets[chunk..<min(chunk + 6, packets.count)].shuffled(using: &rng)
        }
        #expect(reordered != packets)
        var duplicated: [RTPPacket] = []
        for (i, p) in packets.enumerated() {
            duplicated.append(p)
            duplicated.append(p)
            if i >= 5 { duplicated.append(packets[i - 5]) }  // stale repeats of emitted packets
        }

        for (name, arrivals) in [("in order", packets), ("reordered", reordered), ("duplicated", duplicated)] {
            let (timestamps, frames, buffer) = try Self.decode(arrivals)
            #expect(timestamps == expectedTimestamps, "\(name)")
            #expect(frames == expectedFrames, "\(name)")
            #expect(buffer.framesDropped == 0 && buffer.framesSkipped == 0 && !buffer.needsKeyframe, "\(name)")
            #expect(buffer.count == 0, "\(name)")
        }
        let (_, _, dupBuffer) = try Self.decode(duplicated)
        #expect(dupBuffer.packetsDuplicate + dupBuffer.packetsLate == 73 + 68)
    }

    @Test func lostPacketIsNackedAfterReorderWaitAndFrameCompletesOnRetransmission() {
        var source = VideoSource(startSequence: 100)
        let f0 = source.frame(0, packets: 3, keyframe: true)
        let f1 = source.frame(1, packets: 3, keyframe: false)
        let f2 = source.frame(2, packets: 3, keyframe: false)
        var buffer = JitterBuffer()
        for p in f0 + [f1[0], f1[2]] + f2 { buffer.insert(p, arrival: ms(0)) }
        #expect(buffer.drain(now: ms(0)).map(\.rtpTimestamp) == [0])
        var lost: [SequenceNumber] = []
        buffer.nacks(now: ms(0), rtt: .zero, into: &lost)
        #expect(lost.isEmpty, "reordering gets 10 ms")
        #expect(buffer.nextDeadline == ms(10))
        buffer.nacks(now: ms(9), rtt: .zero, into: &lost)
        #expect(lost.isEmpty)
        buffer.nacks(now: ms(10), rtt: .zero, into: &lost)
        #expect(lost == [SequenceNumber(104)])
        buffer.nacks(now: ms(29), rtt: .zero, into: &lost)
        #expect(lost.isEmpty, "retry after max(rtt, 20 ms)")
        buffer.nacks(now: ms(30), rtt: .zero, into: &lost)
        #expect(lost == [SequenceNumber(104)])
        buffer.nacks(now: ms(60), rtt: .milliseconds(50), into: &lost)
        #expect(lost == [SequenceNumber(104)])
        buffer.nacks(now: ms(100), rtt: .milliseconds(50), into: &lost)
        #expect(lost.isEmpty, "next retry one 50 ms RTT later")
        #expect(buffer.drain(now: ms(100)).isEmpty, "frame 1 waits for its packet")

        #expect(buffer.insert(f1[1], arrival: ms(105)) == .stored)
        let frames = buffer.drain(now: ms(105))
        #expect(frames.map(\.rtpTimestamp) == [3000, 6000])
        #expect(frames[0].packets == f1)
        #expect(buffer.nack.recovered == 1 && buffer.nack.missingCount == 0)
        #expect(buffer.framesDropped == 0 && !buffer.needsKeyframe)
        #expect(buffer.insert(f1[1], arrival: ms(106)) == .late)
    }

    @Test func neverRecoveredPacketDropsFrameThenSkipsInterFramesUntilKeyframe() {
        var source = VideoSource(startSequence: 65_530)
        let frames = (0..<7).map { source.frame($0, packets: 2, keyframe: $0 == 0 || $0 == 5) }
        var buffer = JitterBuffer()
        for i in 0..<5 {
            for p in frames[i] where !(i == 1 && p == frames[1][1]) { buffer.insert(p, arrival: ms(i)) }
        }
        #expect(buffer.drain(now: ms(5)).map(\.rtpTimestamp) == [0])
        // The oldest waiting packet arrived at 1 ms: the head frame is given up at 201 ms.
        #expect(buffer.nextDeadline == ms(12))  // the NACK (gap seen at 2 ms) comes first
        #expect(buffer.drain(now: ms(200)).isEmpty)
        #expect(!buffer.needsKeyframe)
        #expect(buffer.drain(now: ms(201)).isEmpty, "frames 2-4 are inter frames: skipped")
        #expect(buffer.framesDropped == 1 && buffer.framesSkipped == 3)
        #expect(buffer.needsKeyframe && buffer.waitingForKeyframe)
        #expect(buffer.count == 0)

        for p in frames[5] { buffer.insert(p, arrival: ms(210)) }
        let resumed = buffer.drain(now: ms(210))
        #expect(resumed.map(\.rtpTimestamp) == [15_000] && resumed[0].isKeyframe)
        #expect(!buffer.needsKeyframe && !buffer.waitingForKeyframe)
        for p in frames[6] { buffer.insert(p, arrival: ms(243)) }
        #expect(buffer.drain(now: ms(243)).map(\.rtpTimestamp) == [18_000])
        #expect(buffer.insert(frames[1][1], arrival: ms(250)) == .late)
    }

    @Test func decodeAnywayPolicyContinuesAfterADrop() {
        var source = VideoSource(startSequence: 0)
        let frames = (0..<5).map { source.frame($0, packets: 2, keyframe: $0 == 0) }
        var config = JitterBuffer.Configuration()
        config.lossPolicy = .decodeAnyway
        config.maxWait = .milliseconds(50)
        var buffer = JitterBuffer(configuration: config)
        for i in 0..<5 {
            for p in frames[i] where !(i == 1 && p == frames[1][0]) { buffer.insert(p, arrival: ms(i)) }
        }
        #expect(buffer.drain(now: ms(5)).map(\.rtpTimestamp) == [0])
        #expect(buffer.drain(now: ms(51)).map(\.rtpTimestamp) == [6000, 9000, 12_000])
        #expect(buffer.framesDropped == 1 && !buffer.needsKeyframe)
    }

    @Test func joiningMidStreamWaitsForAKeyframe() {
        var source = VideoSource(startSequence: 500)
        let frames = (0..<4).map { source.frame($0, packets: 1, keyframe: $0 == 2) }
        var buffer = JitterBuffer()
        for i in 0..<4 {
            buffer.insert(frames[i][0], arrival: ms(i))
            _ = buffer.drain(now: ms(i))
            if i == 0 { #expect(buffer.needsKeyframe, "a complete inter frame without a keyframe before it") }
        }
        #expect(buffer.framesEmitted == 2 && buffer.framesSkipped == 2)
    }

    @Test func capacityHoldsUnderAFloodOfGarbageAndAStreamRecoversAfterIt() {
        var config = JitterBuffer.Configuration()
        config.capacity = 256
        var buffer = JitterBuffer(configuration: config)
        var rng = SplitMix64(seed: 7)
        for i in 0..<20_000 {
            let payload = (0..<Int.random(in: 0...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let packet = RTPPacket(
                marker: Bool.random(using: &rng), payloadType: PayloadType(96),
                sequenceNumber: SequenceNumber(UInt16.random(in: 0...UInt16.max, using: &rng)),
                timestamp: UInt32.random(in: 0...3, using: &rng), ssrc: SSRC(7), payload: payload)
            buffer.insert(packet, arrival: ms(i / 10))
            _ = buffer.drain(now: ms(i / 10))
            #expect(buffer.count <= 256)
            if buffer.count > 256 { break }
        }
        var lost: [SequenceNumber] = []
        buffer.nacks(now: ms(5000), rtt: .zero, into: &lost)
        #expect(buffer.nack.missingCount <= config.nack.maxEntries)

        // A real stream afterwards: its first packet is on probation (dropped, RFC 3550 §A.1), the
        // second confirms the jump; so the first keyframe is lost and the next one (as a PLI would
        // bring) starts decoding.
        var source = VideoSource(startSequence: 12_345)
        var decoded = 0
        for i in 0..<10 {
            for p in source.frame(i, packets: 2, keyframe: i == 0 || i == 2) { buffer.insert(p, arrival: ms(3000 + i)) }
            decoded += buffer.drain(now: ms(3000 + i)).count
        }
        #expect(decoded == 8)
        #expect(!buffer.needsKeyframe)
    }

    /// 30 fps, 2-5 packets per frame, a keyframe every 2 s, 5% loss on every packet in both
    /// directions (media, retransmissions, NACKs, PLIs), 20 ms RTT with 0-2 ms of jitter.
    static func simulate(retransmit: Bool, seed: UInt64) throws -> (sent: Int, decoded: Int) {
        var rng = SplitMix64(seed: seed)
        var source = VideoSource(startSequence: 65_000)
        var buffer = JitterBuffer()
        var toReceiver: [(at: Int, bytes: [UInt8])] = []
        var toSender: [(at: Int, nack: SequenceNumber?)] = []  // nil: a PLI
        var keyframeRequested = false
        var lastPLI = -1000
        var decoded = 0
        var lost: [SequenceNumber] = []
        let frameCount = 300
        var nextFrame = 0
        func lossy(_ rng: inout SplitMix64) -> Bool { Double.random(in: 0..<1, using: &rng) < 0.05 }

        for t in 0..<(frameCount * 1000 / 30 + 1000) {
            let now = ms(t)
            // Sender: a frame every 33.3 ms, packets 1 ms apart.
            if nextFrame < frameCount && t >= nextFrame * 1000 / 30 {
                let key = nextFrame % 60 == 0 || keyframeRequested
                keyframeRequested = false
                let count = Int.random(in: 2...5, using: &rng)
                let bytes = vp8Frame(size: 100 * count, keyframe: key, seed: nextFrame)
                let timestamp = UInt32(truncatingIfNeeded: 3000 * nextFrame)
                source.frames[timestamp] = bytes
                let packets = source.sender.packets(
                    frame: source.packetizer.packetize(bytes), rtpTimestamp: timestamp, now: now)
                for (k, p) in packets.enumerated() where !lossy(&rng) {
                    toReceiver.append((t + k + 10 + Int.random(in: 0...2, using: &rng), p))
                }
                nextFrame += 1
            }
            // Sender: feedback that arrived.
            for message in toSender where message.at == t {
                if let seq = message.nack {
                    if let again = source.sender.retransmission(of: seq, now: now), !lossy(&rng) {
                        toReceiver.append((t + 10, again))
                    }
                } else {
                    keyframeRequested = true
                }
            }
            toSender.removeAll { $0.at <= t }
            // Receiver.
            for arrival in toReceiver where arrival.at == t {
                buffer.insert(try RTPPacket(parsing: arrival.bytes), arrival: now)
            }
            toReceiver.removeAll { $0.at <= t }
            for frame in buffer.drain(now: now) {
                let vp8 = try #require(try VP8FrameAssembler.assemble(frame.packets))
                #expect(vp8.bytes == source.frames[frame.rtpTimestamp])
                decoded += 1
            }
            if retransmit {
                buffer.nacks(now: now, rtt: .milliseconds(20), into: &lost)
                for seq in lost where !lossy(&rng) { toSender.append((t + 10, seq)) }
            }
            if buffer.needsKeyframe && t - lastPLI >= 100 {
                lastPLI = t
                if !lossy(&rng) { toSender.append((t + 10, nil)) }
            }
        }
        return (frameCount, decoded)
    }

    @Test func nackDrivenRetransmissionRecoversAlmostEveryFrameUnderFivePercentLoss() throws {
        for seed: UInt64 in [1, 2, 3] {
            let with = try Self.simulate(retransmit: true, seed: seed)
            let without = try Self.simulate(retransmit: false, seed: seed)
            #expect(Double(with.decoded) / Double(with.sent) > 0.99, "seed \(seed): \(with)")
            #expect(Double(without.decoded) / Double(without.sent) < 0.9, "seed \(seed): \(without)")
        }
    }
}
