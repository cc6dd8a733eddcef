import Benchmark
import RelaisServer
import RelaisTransport
import RelaisWire
import ServerTestSupport

/// The relay's media path as the server runs it (`MediaLoop.handleDatagram`, then the outbox
/// flush), on a room of one publisher and three subscribers connected in memory with real
/// ICE/DTLS/SRTP. Each iteration is 1000 datagrams, protected beforehand outside the measurement;
/// the outbox is flushed after every datagram into no socket, so the figures are the relay's own
/// CPU without the kernel's send and receive.
///
/// Allocations: Relais and NIO allocate nothing on these paths, and SRTP runs on the native
/// `NativeSRTPSession` (OpenSSL EVP contexts and HMAC key schedules made once per session), so
/// both profiles are pinned at 0 with zero tolerance: any allocation the relay adds fails
/// `thresholds check`.
func relayConfiguration() -> Benchmark.Configuration {
    .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000,
        thresholds: zeroAllocations()
    )
}

/// One harness per profile, connected once (four DTLS handshakes) and reused by every run.
nonisolated(unsafe) private var harnesses: [SRTPProfile: ForwardingHarness] = [:]

private func harness(_ profile: SRTPProfile) -> ForwardingHarness {
    if let existing = harnesses[profile] { return existing }
    guard let made = try? ForwardingHarness(subscribers: 3, profile: profile) else { fatalError("harness did not connect") }
    // Warm up: the down tracks start on a keyframe, the cache and the outbox ring fill once.
    made.prepareRTP(makeVP8KeyframePacket(), count: 1200)
    for i in 0..<1200 { made.feed(i) }
    guard made.counters.forwarded == 3600 else { fatalError("warm-up forwarded \(made.counters.forwarded) of 3600") }
    harnesses[profile] = made
    return made
}

func relayBenchmarks() {
    for (profile, name) in [(SRTPProfile.aeadAES128GCM, "AEAD_AES_128_GCM"), (.aes128CMSHA1_80, "AES_CM_128_HMAC_SHA1_80")] {
        // Per published packet: route by 5-tuple, unprotect once, receive statistics, NACK
        // tracking, copy into the retransmission cache, then per subscriber: copy, rewrite,
        // protect, enqueue into a pooled send buffer.
        Benchmark("Relay forward 1200B RTP to 3 subscribers \(name)", configuration: relayConfiguration()) { benchmark in
            let relay = harness(profile)
            let count = benchmark.scaledIterations.count
            relay.prepareRTP(makeVP8KeyframePacket(), count: count)
            let before = relay.counters.forwarded
            benchmark.startMeasurement()
            for i in benchmark.scaledIterations { relay.feed(i) }
            benchmark.stopMeasurement()
            guard relay.counters.forwarded - before == 3 * count else { fatalError("forwarded \(relay.counters.forwarded - before) of \(3 * count): \(relay.counters)") }
        }
    }

    // A subscriber's NACK (RR + generic NACK of one packet): unprotect, parse, the once-per-RTT
    // gate and the retransmission budget, cache lookup, rewrite as the subscriber's stream,
    // protect, enqueue. Each NACK names another packet of the last `count` forwarded (a number is
    // answered once per round trip), and the budget is lifted so all of them are answered.
    Benchmark("Relay NACK answered from cache", configuration: relayConfiguration()) { benchmark in
        let relay = harness(.aeadAES128GCM)
        let count = benchmark.scaledIterations.count
        relay.setRetransmissionBudget(sharePercent: 100, floorBytes: 1 << 40)
        // Fresh packets in the cache (it only answers for packets younger than its max age).
        relay.prepareRTP(makeVP8KeyframePacket(), count: count)
        for i in 0..<count { relay.feed(i) }
        relay.prepareNACKs(count: count, behind: 0, distinct: true)
        let before = relay.counters.retransmissions
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations { relay.feed(i) }
        benchmark.stopMeasurement()
        guard relay.counters.retransmissions - before == count else { fatalError("retransmitted \(relay.counters.retransmissions - before) of \(count)") }
    }

    // A publisher's RTCP compound (sender report): unprotect, parse, receive statistics, then a
    // translated sender report protected and enqueued for each of the three subscribers.
    Benchmark("Relay RTCP sender report to 3 subscribers", configuration: relayConfiguration()) { benchmark in
        let relay = harness(.aeadAES128GCM)
        let count = benchmark.scaledIterations.count
        relay.prepareSenderReports(count: count)
        let before = relay.counters.datagramsOut
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations { relay.feed(i) }
        benchmark.stopMeasurement()
        guard relay.counters.datagramsOut - before >= 3 * count else { fatalError("sent \(relay.counters.datagramsOut - before) of \(3 * count)") }
    }
}
