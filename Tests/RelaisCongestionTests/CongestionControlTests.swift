import RelaisCongestion
import RelaisWire
import TestSupport
import Testing

/// A sender, a bottleneck link and a TWCC receiver on a fake clock (1 ms steps): video frames at
/// 30 fps sized by the estimator's target, split into 1200-byte packets sent back to back, and
/// the estimator's probe clusters (the media sent during one, and 300-byte padding packets paced to
/// make up the rest of its rate); a
/// drop-tail queue of `queueMicros` in front of the link's capacity; 20 ms one way; feedback
/// every 50 ms through the real wire format (built, serialized, parsed).
struct LinkSimulation {
    var estimator: SendSideBandwidthEstimator
    var capacity: Int
    var queueMicros: Int64 = 100_000
    var propagationMicros: Int64 = 20_000
    /// Random loss on the link, independent of the queue (a lossy radio, not congestion).
    var randomLoss = 0.0
    var random = SplitMix64(seed: 17)

    private var nowMicros: Int64 = 1_000_000
    private var busyUntil: Int64 = 0
    private var sequence: UInt16 = 0
    private var nextFrame: Int64 = 1_000_000
    /// In flight: (arrival µs, sequence); arrived and not yet reported.
    private var inFlight: [(arrival: Int64, sequence: UInt16)] = []
    private var arrived: [(sequence: UInt16, arrival: Int64)] = []
    private var pendingFeedback: [(due: Int64, bytes: [UInt8])] = []
    /// Probe padding still to send: (due µs, cluster id).
    private var probeQueue: [(due: Int64, cluster: Int)] = []
    static let paddingBytes = 300
    private var activeProbe: (id: Int, end: Int64)?
    private var lastFeedback: Int64 = 0
    private var feedbackCount: UInt8 = 0
    private(set) var sentBytes = 0
    private(set) var deliveredBytes = 0
    private(set) var dropped = 0
    private(set) var sentPackets = 0

    init(capacity: Int, start: Int = 1_000_000, max: Int = 5_000_000) {
        self.capacity = capacity
        estimator = SendSideBandwidthEstimator(configuration: .init(startBitrate: start, minBitrate: 100_000, maxBitrate: max))
        estimator.roundTrip = .milliseconds(40)
    }

    var now: Instant { Instant(nanoseconds: UInt64(nowMicros) * 1000) }

    /// Runs `seconds`, returning the target sampled every 100 ms, and the bits the link delivered.
    mutating func run(seconds: Double) -> (targets: [Int], deliveredBits: Int) {
        var targets: [Int] = []
        let startDelivered = deliveredBytes
        let end = nowMicros + Int64(seconds * 1_000_000)
        while nowMicros < end {
            step()
            if nowMicros % 100_000 == 0 { targets.append(estimator.targetBitrate) }
            nowMicros += 1000
        }
        return (targets, (deliveredBytes - startDelivered) * 8)
    }

    private mutating func step() {
        if let cluster = estimator.probeToSend(now: now) {
            // Media sent meanwhile belongs to the cluster; padding makes up the rest of its rate.
            let micros = Int64(cluster.duration.components.seconds) * 1_000_000 + Int64(cluster.duration.components.attoseconds / 1_000_000_000_000)
            activeProbe = (cluster.id, nowMicros + micros)
            let paddingRate = max(cluster.bitrate - estimator.targetBitrate, cluster.bitrate / 4)
            let count = max(cluster.minPackets, Int(Int64(paddingRate) * micros / 8_000_000) / Self.paddingBytes)
            let spacing = micros / Int64(count)
            for index in 0..<count { probeQueue.append((nowMicros + Int64(index) * spacing, cluster.id)) }
        }
        if let probe = activeProbe, probe.end < nowMicros { activeProbe = nil }
        while let first = probeQueue.first, first.due <= nowMicros {
            probeQueue.removeFirst()
            send(bytes: Self.paddingBytes, probeCluster: first.cluster)
        }
        if nowMicros >= nextFrame {
            nextFrame += 33_333
            var frameBytes = estimator.targetBitrate / 8 / 30
            while frameBytes > 0 {
                let size = min(1200, max(frameBytes, 200))
                frameBytes -= size
                send(bytes: size, probeCluster: activeProbe?.id)
            }
        }
        while let first = inFlight.first, first.arrival <= nowMicros {
            inFlight.removeFirst()
            arrived.append((first.sequence, first.arrival))
        }
        if nowMicros - lastFeedback >= 50_000, !arrived.isEmpty {
            lastFeedback = nowMicros
            var builder = TransportFeedbackBuilder(senderSSRC: SSRC(2), feedbackPacketCount: feedbackCount)
            feedbackCount &+= 1
            for packet in arrived { _ = builder.add(SequenceNumber(packet.sequence), arrivalTime: packet.arrival) }
            arrived.removeAll()
            let compound = RTCPPacket.transportFeedback(builder.build())
            var storage = [UInt8](repeating: 0, count: 2048)
            let length = storage.withUnsafeMutableBytes { buffer -> Int in
                var writer = ByteWriter(buffer)
                try? RTCPPacket.serialize(compound: [compound], into: &writer)
                return writer.position
            }
            pendingFeedback.append((nowMicros + propagationMicros, Array(storage[0..<length])))
        }
        while let first = pendingFeedback.first, first.due <= nowMicros {
            pendingFeedback.removeFirst()
            first.bytes.withUnsafeBytes { bytes in
                var cursor = RTCPCompoundIterator(bytes)
                while let packet = try? cursor.next() {
                    if let view = try? TransportFeedbackView(packet) { estimator.receivedFeedback(view, at: now) }
                }
            }
        }
    }

    private mutating func send(bytes: Int, probeCluster: Int? = nil) {
        estimator.packetSent(sequence: SequenceNumber(sequence), bytes: bytes, at: now, probeCluster: probeCluster)
        sentBytes += bytes
        sentPackets += 1
        defer { sequence &+= 1 }
        let start = max(nowMicros, busyUntil)
        guard start - nowMicros <= queueMicros else {
            dropped += 1
            return
        }
        busyUntil = start + Int64(bytes) * 8 * 1_000_000 / Int64(capacity)
        if randomLoss > 0, random.chance(randomLoss) {
            dropped += 1
            return
        }
        deliveredBytes += bytes
        inFlight.append((busyUntil + propagationMicros, sequence))
    }
}

@Suite struct CongestionControlTests {
    /// Capacity 5 -> 1 -> 5 Mbit/s: the target settles under the new capacity within 2 s of the
    /// drop, uses most of it, loses little after that (probes included), and probing finds the
    /// restored capacity: 80% of it within 10 s.
    @Test func aCapacityStepIsFollowedDownQuicklyAndBackUp() {
        var link = LinkSimulation(capacity: 5_000_000, start: 1_000_000, max: 8_000_000)
        let warm = link.run(seconds: 10)
        #expect((warm.targets.last ?? 0) >= 4_000_000, "after 10 s at 5 Mbit/s: \(warm.targets.suffix(20))")

        link.capacity = 1_000_000
        let droppedBefore = link.dropped
        let adapt = link.run(seconds: 2)
        #expect((adapt.targets.last ?? .max) < 1_000_000, "2 s after the drop: \(adapt.targets)")
        let sentBefore = link.sentPackets
        let droppedAfterAdapting = link.dropped
        let steady = link.run(seconds: 20)
        let loss = Double(link.dropped - droppedAfterAdapting) / Double(link.sentPackets - sentBefore)
        #expect(loss < 0.02, "loss after adapting \(loss); \(link.dropped - droppedBefore) dropped in all")
        #expect(steady.deliveredBits >= 20 * 600_000, "uses the link: \(steady.deliveredBits / 20) bit/s")
        #expect(steady.targets.allSatisfy { $0 < 1_300_000 }, "\(steady.targets)")

        link.capacity = 5_000_000
        let probesBefore = link.estimator.successfulProbes
        let back = link.run(seconds: 15)
        // AIMD alone climbs 8% a second once away from the last congestion (about 10 s to reach
        // 2 Mbit/s); probing finds the capacity within its longest interval (3 s) and a few steps.
        let recovered = back.targets.firstIndex { $0 >= 4_000_000 }
        #expect((recovered ?? .max) <= 100, "80% of 5 Mbit/s within 10 s of the capacity's return: \(back.targets)")
        #expect(link.estimator.successfulProbes > probesBefore)
    }

    /// Probing starts a connection fast: 3x and 6x the start rate, then further, up to what the
    /// link carries: 2.5 Mbit/s within 2 s from a 300 kbit/s start on a 5 Mbit/s link.
    @Test func probingFindsTheCapacityAtStart() {
        var link = LinkSimulation(capacity: 5_000_000, start: 300_000, max: 8_000_000)
        let run = link.run(seconds: 2)
        #expect((run.targets.last ?? 0) >= 2_500_000, "\(run.targets)")
        #expect(link.estimator.probeClusters >= 2)
    }

    /// A probe's rate is what the bottleneck let through: packets sent at 4 Mbit/s that arrive
    /// spread to 2 Mbit/s measure about 1.9 Mbit/s (95% of the arrival rate); arrivals as fast as
    /// the sends measure the send rate; impossible timing measures nothing.
    @Test func probeMeasurement() {
        var estimator = ProbeBitrateEstimator()
        let cluster = ProbeCluster(id: 7, bitrate: 4_000_000, minPackets: 5, minBytes: 10_000)
        estimator.started(cluster)
        var result: (id: Int, bitrate: Int?)?
        for index in 0..<10 where result == nil {
            result = estimator.packetReceived(
                cluster: 7, sendMicros: 1_000_000 + Int64(index) * 2_000, arrivalMicros: 5_000_000 + Int64(index) * 4_000, bytes: 1000)
        }
        #expect(result?.id == 7)
        let bitrate = result?.bitrate ?? 0
        #expect(bitrate > 1_800_000 && bitrate < 2_000_000, "\(bitrate)")

        estimator.started(ProbeCluster(id: 8, bitrate: 4_000_000, minPackets: 5, minBytes: 10_000))
        result = nil
        for index in 0..<10 where result == nil {
            result = estimator.packetReceived(
                cluster: 8, sendMicros: Int64(index) * 2_000, arrivalMicros: 9_000 + Int64(index) * 2_000, bytes: 1000)
        }
        #expect(result?.bitrate.map { abs($0 - 4_000_000) < 100_000 } == true, "\(String(describing: result))")

        estimator.started(ProbeCluster(id: 9, bitrate: 4_000_000, minPackets: 5, minBytes: 5_000))
        result = nil
        for _ in 0..<10 where result == nil {
            result = estimator.packetReceived(cluster: 9, sendMicros: 100, arrivalMicros: 200, bytes: 1000)
        }
        #expect(result?.id == 9 && result?.bitrate == nil)
        #expect(estimator.packetReceived(cluster: 42, sendMicros: 0, arrivalMicros: 0, bytes: 1) == nil)
    }

    /// A token-bucket shaper (10 kB bucket, 1 Mbit/s) lets a probe's first 10 kB through at the
    /// send rate: measured from the first packet a 4 Mbit/s probe would read about 2 Mbit/s; over
    /// the second half of its bytes it reads the shaper's rate.
    @Test func probeMeasurementSeesThroughAShapersBucket() {
        var estimator = ProbeBitrateEstimator()
        estimator.started(ProbeCluster(id: 1, bitrate: 4_000_000, minPackets: 5, minBytes: 30_000))
        var tokens = 10_000.0, last: Int64 = 0
        var result: (id: Int, bitrate: Int?)?
        for index in 0..<30 where result == nil {
            let send = Int64(index) * 2_000
            // Tokens refill at 125 bytes a millisecond up to the bucket; a packet leaves once 1000 are there.
            var departure = max(send, last)
            tokens = min(10_000, tokens + Double(departure - last) * 0.125)
            if tokens < 1000 {
                departure += Int64(((1000 - tokens) / 0.125).rounded(.up))
                tokens = 1000
            }
            tokens -= 1000
            last = departure
            let arrival = departure
            result = estimator.packetReceived(cluster: 1, sendMicros: send, arrivalMicros: 10_000 + arrival, bytes: 1000)
        }
        let bitrate = result?.bitrate ?? 0
        #expect(bitrate > 800_000 && bitrate < 1_200_000, "\(bitrate)")
    }

    /// Probes that find nothing are spaced further apart (2, 3, 3 s) and never while congested.
    @Test func failedProbesBackOff() {
        var controller = ProbeController()
        var now = Instant(nanoseconds: 1_000_000_000)
        var asked: [Instant] = []
        for _ in 0..<20_000 {
            if let cluster = controller.nextCluster(estimate: 1_000_000, ceiling: 5_000_000, congested: false, now: now) {
                asked.append(now)
                controller.probeCompleted(id: cluster.id, result: 1_000_000, estimate: 1_000_000, ceiling: 5_000_000)
            }
            now = now + .milliseconds(1)
        }
        let gaps = zip(asked.dropFirst(), asked).map { $0.since($1).components.seconds }
        // The start-up probe (3x) fails, so its 6x sequel is dropped; then 2, 3, 3, ... seconds.
        #expect(gaps.prefix(4) == [2, 3, 3, 3], "\(gaps)")
        #expect(controller.nextCluster(estimate: 1_000_000, ceiling: 5_000_000, congested: true, now: now + .seconds(10)) == nil)
        #expect(controller.nextCluster(estimate: 5_000_000, ceiling: 5_000_000, congested: false, now: now + .seconds(10)) == nil)
    }

    /// 3% random loss on an uncongested link is not congestion: the delay-based rate keeps
    /// climbing, and the loss bound (over 10% only) does not cut it.
    @Test func randomLossWithoutQueueingIsNotCongestion() {
        var link = LinkSimulation(capacity: 10_000_000, start: 1_000_000, max: 3_000_000)
        link.randomLoss = 0.03
        let run = link.run(seconds: 25)
        #expect((run.targets.last ?? 0) >= 2_500_000, "\(run.targets.suffix(30))")
        #expect(link.estimator.lossFraction > 0.01 && link.estimator.lossFraction < 0.06)
    }

    /// Heavy random loss (20%) lowers the target even without a queue.
    @Test func heavyLossLowersTheTarget() {
        var link = LinkSimulation(capacity: 10_000_000, start: 2_000_000, max: 3_000_000)
        link.randomLoss = 0.2
        let run = link.run(seconds: 10)
        #expect((run.targets.last ?? .max) < 1_200_000, "\(run.targets)")
    }

    /// Feedback about packets never sent, duplicated and out of order changes nothing it should
    /// not and never traps.
    @Test func hostileFeedbackIsCountedNotTrusted() {
        var estimator = SendSideBandwidthEstimator()
        var random = SplitMix64(seed: 99)
        for i in 0..<5_000 {
            if i % 3 == 0 { estimator.packetSent(sequence: SequenceNumber(UInt16(truncatingIfNeeded: i)), bytes: 1200, at: Instant(nanoseconds: UInt64(i) * 1_000_000)) }
            var builder = TransportFeedbackBuilder(senderSSRC: SSRC(1), feedbackPacketCount: UInt8(truncatingIfNeeded: i))
            let base = UInt16(truncatingIfNeeded: random.next())
            for j in 0..<Int(random.next() % 40) {
                _ = builder.add(SequenceNumber(base &+ UInt16(j)), arrivalTime: random.chance(0.7) ? Int64(random.next() % 1_000_000_000) : nil)
            }
            var storage = [UInt8](repeating: 0, count: 2048)
            storage.withUnsafeMutableBytes { buffer in
                var writer = ByteWriter(buffer)
                guard (try? RTCPPacket.serialize(compound: [.transportFeedback(builder.build())], into: &writer)) != nil else { return }
                var cursor = RTCPCompoundIterator(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<writer.position]))
                while let packet = try? cursor.next() {
                    if let view = try? TransportFeedbackView(packet) { estimator.receivedFeedback(view, at: Instant(nanoseconds: UInt64(i) * 1_000_000)) }
                }
            }
            #expect(estimator.targetBitrate >= 100_000 && estimator.targetBitrate <= 5_000_000)
        }
        #expect(estimator.unknownReports > 0)
    }
}

@Suite struct PacingTests {
    /// A 100 kB burst at a 1 Mbit/s target leaves at 2.5 Mbit/s (about 320 ms), and the queue limit
    /// makes a larger backlog leave within 300 ms.
    @Test func aBurstLeavesAtTheMultipliedRate() {
        var pacer = PacingBudget(targetBitrate: 1_000_000)
        var now = Instant(nanoseconds: 1_000_000_000)
        var sent = 0
        let start = now
        while sent < 100_000 {
            if pacer.mayRelease(now: now) {
                pacer.sent(bytes: 1000)
                sent += 1000
            } else {
                now = now + pacer.delayUntilNext()
            }
        }
        let seconds = Double(now.nanoseconds(since: start)) / 1e9
        #expect(seconds > 0.3 && seconds < 0.34, "\(seconds)")
        pacer.update(targetBitrate: 1_000_000, queuedBytes: 300_000)
        #expect(pacer.rate == 8_000_000)
        pacer.update(targetBitrate: 1_000_000, queuedBytes: 1_000)
        #expect(pacer.rate == 2_500_000)
    }
}
