import Logging
import NIOEmbedded
import RelaisNegotiation
@testable import RelaisServer
import RelaisTransport
import RelaisWire
import Testing

/// A fake clock: instants from a fixed origin, so every figure below is exact.
private func at(ms: Int) -> Instant { Instant(nanoseconds: 1_000_000_000_000 + UInt64(ms) * 1_000_000) }

@Suite struct TrackCountersTests {
    @Test func rateMeterDividesTheBytesOfTheIntervalByItsRealSpan() {
        var meter = RateMeter()
        do { let sampled = meter.sample(total: 5_000, now: at(ms: 0)); #expect(!sampled) }  // baseline only
        #expect(meter.kbps == 0)
        do { let sampled = meter.sample(total: 60_000, now: at(ms: 950)); #expect(!sampled) }  // under a second: no sample
        // 131_250 bytes in 1.05 s = 1_000_000 bit/s.
        do { let sampled = meter.sample(total: 5_000 + 131_250, now: at(ms: 1_050)); #expect(sampled) }
        #expect(abs(meter.kbps - 1_000) < 1e-9)
        // Nothing more arrived: the next interval reads zero.
        do { let sampled = meter.sample(total: 5_000 + 131_250, now: at(ms: 2_050)); #expect(sampled) }
        #expect(meter.kbps == 0)
    }

    @Test func freezeCountsOnceAfterFiveHundredMillisecondsAndTheNextPacketEndsIt() {
        var counters = TrackCounters()
        do { let sampled = counters.tick(now: at(ms: 10_000), detectFreezes: true); #expect(!sampled) }  // never started: no freeze
        counters.record(bytes: 1_200, now: at(ms: 0))
        counters.record(bytes: 800, now: at(ms: 100))
        #expect(counters.packets == 2 && counters.bytes == 2_000 && counters.lastActivity == at(ms: 100))
        do { let sampled = counters.tick(now: at(ms: 600), detectFreezes: true); #expect(!sampled) }  // exactly 500 ms: not yet
        do { let sampled = counters.tick(now: at(ms: 650), detectFreezes: true); #expect(sampled) }
        #expect(counters.freezes == 1 && counters.frozen)
        do { let sampled = counters.tick(now: at(ms: 2_000), detectFreezes: true); #expect(!sampled) }  // same stall
        #expect(counters.freezes == 1)
        counters.record(bytes: 1_000, now: at(ms: 2_100))
        #expect(!counters.frozen)
        do { let sampled = counters.tick(now: at(ms: 2_700), detectFreezes: true); #expect(sampled) }
        #expect(counters.freezes == 2)
    }

    @Test func freezeDetectionOffCountsNothing() {
        var counters = TrackCounters()
        counters.record(bytes: 100, now: at(ms: 0))
        do { let sampled = counters.tick(now: at(ms: 5_000), detectFreezes: false); #expect(!sampled) }
        #expect(counters.freezes == 0 && !counters.frozen)
    }

    @Test func lossIntervalIsTheFractionOfTheIntervalsExpectedPackets() {
        var loss = LossInterval()
        loss.sample(lost: 2, received: 98)
        #expect(abs(loss.fractionLost - 0.02) < 1e-12)
        loss.sample(lost: 2, received: 198)  // nothing lost since
        #expect(loss.fractionLost == 0)
        loss.sample(lost: 27, received: 273)  // 25 of 100
        #expect(abs(loss.fractionLost - 0.25) < 1e-12)
        loss.sample(lost: 30, received: 5)  // statistics restarted: no figure for this interval
        #expect(loss.fractionLost == 0)
        loss.sample(lost: 31, received: 104)  // 1 of 100 from the new totals
        #expect(abs(loss.fractionLost - 0.01) < 1e-12)
    }

    @Test func roundTripIsTimeSinceTheNamedSenderReportMinusTheSubscribersDelay() {
        var feedback = ConsumerFeedback()
        let ntp: UInt64 = 0xE1A2_B3C4_D5E6_F708
        let compact = UInt32(truncatingIfNeeded: ntp >> 16)  // 0xB3C4D5E6
        feedback.senderReportSent(ntp: ntp, at: at(ms: 1_000))
        feedback.senderReportSent(ntp: ntp &+ (1 << 32), at: at(ms: 2_000))  // one second later in NTP
        // Named the first SR; held it 0.5 s (32768/65536); the reply arrives 540 ms after the SR left.
        feedback.record(ReportBlock(ssrc: SSRC(1), lastSenderReport: compact, delaySinceLastSenderReport: 32_768), clockRate: 90_000, now: at(ms: 1_540))
        #expect(abs((feedback.roundTripMs ?? -1) - 40) < 1e-9)
        // A report naming the second SR: 2_000 + 0.25 s hold + 30 ms.
        feedback.record(ReportBlock(ssrc: SSRC(1), lastSenderReport: compact &+ 0x1_0000, delaySinceLastSenderReport: 16_384), clockRate: 90_000, now: at(ms: 2_280))
        #expect(abs((feedback.roundTripMs ?? -1) - 30) < 1e-9)
        // LSR 0 (no SR received yet) and an LSR the relay never sent leave the RTT as it was.
        feedback.record(ReportBlock(ssrc: SSRC(1), lastSenderReport: 0), clockRate: 90_000, now: at(ms: 3_000))
        feedback.record(ReportBlock(ssrc: SSRC(1), lastSenderReport: 0x1234_5678), clockRate: 90_000, now: at(ms: 3_000))
        #expect(abs((feedback.roundTripMs ?? -1) - 30) < 1e-9)
        // A delay larger than the elapsed time (rounding at the subscriber) reads as zero, not negative.
        feedback.record(ReportBlock(ssrc: SSRC(1), lastSenderReport: compact, delaySinceLastSenderReport: 65_536), clockRate: 90_000, now: at(ms: 1_900))
        #expect(feedback.roundTripMs == 0)
    }

    @Test func senderReportRingRemembersTheLastFour() {
        var feedback = ConsumerFeedback()
        for i in 0..<5 { feedback.senderReportSent(ntp: UInt64(i + 1) << 32, at: at(ms: 1_000 * (i + 1))) }
        #expect(feedback.sentAt(lsr: 1 << 16) == nil)  // the first, overwritten by the fifth
        for i in 1..<5 { #expect(feedback.sentAt(lsr: UInt32(i + 1) << 16) == at(ms: 1_000 * (i + 1))) }
        #expect(ConsumerFeedback().roundTripMs == nil)
        #expect(ConsumerFeedback().sentAt(lsr: 0) == nil)
    }

    @Test func reportBlockGivesLossAndJitterInMilliseconds() {
        var feedback = ConsumerFeedback()
        #expect(feedback.jitterMs == nil)
        feedback.record(ReportBlock(ssrc: SSRC(1), fractionLost: 64, cumulativeLost: 12, jitter: 900), clockRate: 90_000, now: at(ms: 0))
        #expect(feedback.fractionLost == 0.25 && feedback.cumulativeLost == 12)
        #expect(abs((feedback.jitterMs ?? -1) - 10) < 1e-9)
        feedback.record(ReportBlock(ssrc: SSRC(1), jitter: 480), clockRate: 48_000, now: at(ms: 0))
        #expect(abs((feedback.jitterMs ?? -1) - 10) < 1e-9)
    }
}

/// The room's media path on a real `MediaLoop` (on an embedded event loop, no socket): packets and
/// RTCP go in through the loop's own entry points, figures come out of `roomStatistics`.
@Suite struct MediaStatisticsTests {
    let loop: MediaLoop
    let room: RoomMedia
    let certificate: DTLSCertificate

    static let videoSSRC: UInt32 = 0x1111
    static let audioSSRC: UInt32 = 0x2222
    static let vp8Key: [UInt8] = [0x10, 0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01] + [UInt8](repeating: 0x55, count: 1_000)
    static let vp8Delta: [UInt8] = [0x00, 0x11] + [UInt8](repeating: 0x55, count: 1_000)

    init() throws {
        certificate = try DTLSCertificate.generateSelfSigned()
        loop = MediaLoop(eventLoop: EmbeddedEventLoop(), configuration: TransportConfiguration(), certificate: certificate, logger: Logger(label: "test"))
        room = loop.room(named: "consult", events: { _ in })
    }

    func addPublisher() throws -> (TransportID, PublisherSession) {
        let publisher = PublisherSession(room: room)
        let (id, _) = try loop.addTransport(remoteUfrag: "pub", remoteFingerprint: certificate.fingerprintSHA256, purpose: .publisher(publisher))
        room.setPublishedTracks(publisher, [
            ("cam", PublishedSection(mid: "0", kind: .video, codec: SDPCodec(rtpMap: RTPMap(payloadType: 96, encodingName: "VP8", clockRate: 90_000)), ssrc: Self.videoSSRC, extensions: [])),
            ("mic", PublishedSection(mid: "1", kind: .audio, codec: SDPCodec(rtpMap: RTPMap(payloadType: 111, encodingName: "opus", clockRate: 48_000, channels: 2)), ssrc: Self.audioSSRC, extensions: [])),
        ], midExtensionID: nil)
        return (id, publisher)
    }

    func receiveRTP(_ publisher: PublisherSession, ssrc: UInt32, pt: UInt8, sequence: UInt16, timestamp: UInt32, payload: [UInt8], at now: Instant) -> Int {
        let bytes = RTPPacket(payloadType: PayloadType(pt), sequenceNumber: SequenceNumber(sequence), timestamp: timestamp, ssrc: SSRC(ssrc), payload: payload).serialized()
        bytes.withUnsafeBytes { loop.receive.copyMemory(from: $0) }
        loop.forwardPublishedRTP(publisher, length: bytes.count, now: now)
        return bytes.count
    }

    func receiveRTCP(_ subscriber: SubscriberSession, _ packets: [RTCPPacket], at now: Instant) {
        let bytes = RTCPPacket.serializeCompound(packets)
        bytes.withUnsafeBytes { loop.receive.copyMemory(from: $0) }
        loop.handleSubscriberRTCP(subscriber, length: bytes.count, now: now)
    }

    @Test func publishedTracksReportPacketsBytesLossKeyframesRateAndFreezes() throws {
        let (id, publisher) = try addPublisher()
        loop.tickRoom(room, now: at(ms: 0))  // rate meters start here
        var videoBytes = 0
        var audioBytes = 0
        for sequence in UInt16(1)...10 where sequence != 5 {  // 5 is lost
            let ms = Int(sequence) * 90
            videoBytes += receiveRTP(publisher, ssrc: Self.videoSSRC, pt: 96, sequence: sequence, timestamp: 3_000 * UInt32(sequence),
                                     payload: sequence == 1 || sequence == 8 ? Self.vp8Key : Self.vp8Delta, at: at(ms: ms))
            audioBytes += receiveRTP(publisher, ssrc: Self.audioSSRC, pt: 111, sequence: sequence, timestamp: 960 * UInt32(sequence), payload: [0xFC] + [UInt8](repeating: 1, count: 99), at: at(ms: ms))
        }
        loop.tickRoom(room, now: at(ms: 1_000))  // rate sample; last packet at 900 ms: no freeze yet
        loop.tickRoom(room, now: at(ms: 1_450))  // 550 ms without video: a freeze
        loop.tickRoom(room, now: at(ms: 1_500))  // the same freeze
        loop.requestKeyframe(room.producers["cam"]!.streams[0], now: at(ms: 1_500))

        let statistics = loop.roomStatistics("consult")
        let transport = try #require(statistics.transports[id])
        #expect(transport.forwarded.isEmpty)
        let video = try #require(transport.published.first { $0.trackID == "cam" })
        #expect(video.kind == "video" && video.ssrc == Self.videoSSRC)
        #expect(video.packets == 9 && video.bytes == videoBytes)
        #expect(abs(video.bitrateKbps - Double(videoBytes) * 8 / 1000) < 1e-6)  // over exactly 1 s
        #expect(video.packetsLost == 1)
        #expect(abs(video.fractionLost - 0.1) < 1e-12)
        #expect(video.jitterMs != nil)
        #expect(video.keyframes == 2)
        #expect(video.freezes == 1 && video.frozen)
        #expect(video.plis == 1)
        let audio = try #require(transport.published.first { $0.trackID == "mic" })
        #expect(audio.kind == "audio" && audio.packets == 9 && audio.bytes == audioBytes)
        #expect(audio.keyframes == 0 && audio.freezes == 0 && audio.plis == 0)
        #expect(loop.roomStatistics("elsewhere").transports.isEmpty)

        // A retransmission of the keyframe start is no second keyframe.
        _ = receiveRTP(publisher, ssrc: Self.videoSSRC, pt: 96, sequence: 8, timestamp: 24_000, payload: Self.vp8Key, at: at(ms: 1_600))
        let again = try #require(loop.roomStatistics("consult").transports[id]?.published.first { $0.trackID == "cam" })
        #expect(again.keyframes == 2 && again.packets == 10 && !again.frozen)
    }

    @Test func subscriberFeedbackFeedsItsConsumers() throws {
        _ = try addPublisher()
        let subscriber = SubscriberSession(room: room)
        let (id, _) = try loop.addTransport(remoteUfrag: "sub", remoteFingerprint: certificate.fingerprintSHA256, purpose: .subscriber(subscriber))
        room.setSubscriptions(subscriber, [
            Subscription(trackID: "cam", outputSSRC: 0xAAAA, payloadType: 100),
            Subscription(trackID: "mic", outputSSRC: 0xBBBB, payloadType: 109),
        ])
        let camera = try #require(subscriber.consumers[0xAAAA])
        let ntp: UInt64 = 0x0000_0001_8000_0000  // compact 0x00018000
        camera.feedback.senderReportSent(ntp: ntp, at: at(ms: 2_000))

        receiveRTCP(subscriber, [
            .receiverReport(ReceiverReport(ssrc: SSRC(9), reportBlocks: [
                ReportBlock(ssrc: SSRC(0xAAAA), fractionLost: 26, cumulativeLost: 7, extendedHighestSequenceNumber: 100, jitter: 1_800,
                            lastSenderReport: 0x0001_8000, delaySinceLastSenderReport: 6_554),  // 100.006 ms
                ReportBlock(ssrc: SSRC(0xCCCC), fractionLost: 255, cumulativeLost: 99),  // no such consumer
            ])),
            .genericNACK(GenericNACK(senderSSRC: SSRC(9), mediaSSRC: SSRC(0xAAAA), pairs: [NACKPair(packetID: SequenceNumber(5), lostBitmask: 0)])),
            .pictureLossIndication(PictureLossIndication(senderSSRC: SSRC(9), mediaSSRC: SSRC(0xAAAA))),
            .fullIntraRequest(FullIntraRequest(senderSSRC: SSRC(9), entries: [FIREntry(ssrc: SSRC(0xAAAA), sequenceNumber: 1)])),
            .genericNACK(GenericNACK(senderSSRC: SSRC(9), mediaSSRC: SSRC(0xBBBB), pairs: [NACKPair(packetID: SequenceNumber(1), lostBitmask: 0)])),
        ], at: at(ms: 2_150))
        // A subscriber that also sends media reports in its SRs.
        receiveRTCP(subscriber, [
            .senderReport(SenderReport(ssrc: SSRC(9), ntpTimestamp: 1, rtpTimestamp: 1, packetCount: 1, octetCount: 1, reportBlocks: [
                ReportBlock(ssrc: SSRC(0xBBBB), fractionLost: 0, cumulativeLost: 3, jitter: 96),
            ])),
        ], at: at(ms: 2_200))

        let transport = try #require(loop.roomStatistics("consult").transports[id])
        #expect(transport.published.isEmpty)
        #expect(transport.forwarded.map(\.trackID) == ["cam", "mic"])
        let video = transport.forwarded[0]
        #expect(video.outputSSRC == 0xAAAA && video.kind == "video")
        #expect(abs(video.fractionLost - 26.0 / 256) < 1e-12 && video.packetsLost == 7)
        #expect(abs((video.jitterMs ?? -1) - 20) < 1e-9)
        let rtt = try #require(video.roundTripMs)
        #expect(abs(rtt - 50) < 0.01)  // 150 ms since the SR − 100 ms held
        #expect(video.nacks == 1 && video.plis == 2)
        #expect(video.waitingForKeyframe && video.packets == 0 && video.keyframes == 0)
        let audio = transport.forwarded[1]
        #expect(audio.nacks == 1 && audio.plis == 0 && audio.packetsLost == 3)
        #expect(abs((audio.jitterMs ?? -1) - 2) < 1e-9)
        #expect(audio.roundTripMs == nil)
    }

    @Test func consumerFreezesOnlyWhileConnectedAndAfterItsFirstForwardedPacket() throws {
        _ = try addPublisher()
        let subscriber = SubscriberSession(room: room)
        _ = try loop.addTransport(remoteUfrag: "sub", remoteFingerprint: certificate.fingerprintSHA256, purpose: .subscriber(subscriber))
        room.setSubscriptions(subscriber, [Subscription(trackID: "cam", outputSSRC: 0xAAAA, payloadType: 100), Subscription(trackID: "mic", outputSSRC: 0xBBBB, payloadType: 109)])
        let camera = try #require(subscriber.consumers[0xAAAA])
        let microphone = try #require(subscriber.consumers[0xBBBB])
        camera.tickStatistics(now: at(ms: 5_000), connected: true)  // waiting for the first keyframe
        #expect(camera.counters.freezes == 0)
        camera.counters.record(bytes: 1_000, now: at(ms: 5_000))
        microphone.counters.record(bytes: 100, now: at(ms: 5_000))
        camera.tickStatistics(now: at(ms: 6_000), connected: false)  // the subscriber is not connected
        #expect(camera.counters.freezes == 0)
        camera.tickStatistics(now: at(ms: 6_050), connected: true)
        microphone.tickStatistics(now: at(ms: 6_050), connected: true)
        #expect(camera.counters.freezes == 1 && microphone.counters.freezes == 0)
    }
}
