import TestSupport
import RelaisReceive
import RelaisWire
import Testing

@testable import RelaisSFU

/// A publisher stream through a simulated link, driven by a fake clock and a seeded generator
/// (str0m-style discrete-event simulation: 30 s of media runs in milliseconds, identically every
/// run). The receiver detects loss with `NackGenerator` and sends real Generic NACK bytes; the
/// sender parses them with RelaisWire's `GenericNACKView` and answers from `RetransmissionBuffer`.
/// Every datagram on the link, media, retransmission or NACK, is lost with probability 5% and
/// delayed 20 ms.
@Suite("Lossy link simulation")
struct LossyLinkSimulationTests {
    enum Event {
        /// The publisher sends its packet number `index` (stored in the ring as it goes out).
        case send(index: Int)
        case media(sequence: SequenceNumber, bytes: [UInt8])
        case feedback([UInt8])
    }

    /// Events ordered by time, then by insertion.
    struct EventQueue {
        private var items: [(time: UInt64, order: Int, event: Event)] = []
        private var counter = 0

        mutating func schedule(_ event: Event, at time: UInt64) {
            counter += 1
            let key = (time, counter)
            var low = 0
            var high = items.count
            while low < high {
                let mid = (low + high) / 2
                if (items[mid].time, items[mid].order) < key { low = mid + 1 } else { high = mid }
            }
            items.insert((time, counter, event), at: low)
        }

        var nextTime: UInt64? { items.first?.time }

        mutating func pop() -> (UInt64, Event) {
            let item = items.removeFirst()
            return (item.time, item.event)
        }
    }

    struct Outcome {
        var originalsLost = 0
        var unrecovered = 0
        var retransmissionsSent = 0
        var nackPackets = 0
        var receiverCumulativeLost: Int64 = 0
        var duplicatesSeen: Int64 = 0
    }

    static let packetCount = 3000
    static let firstSequence: UInt16 = 64_000  // crosses the 16-bit wrap
    static let interval: UInt64 = 10_000_000  // 100 packets/s
    static let delay: UInt64 = 20_000_000
    static let loss = 0.05

    static func run(seed: UInt64, nackEnabled: Bool) throws -> Outcome {
        var rng = SplitMix64(seed: seed)
        var queue = EventQueue()
        var outcome = Outcome()
        let senderBuffer = RetransmissionBuffer()
        var nack = NackGenerator()
        var stats = ReceiveStatistics(ssrc: SSRC(0x5EED), clockRate: 90_000)
        var received = Set<UInt16>()
        var due: [SequenceNumber] = []
        due.reserveCapacity(500)
        var nackScratch = [UInt8](repeating: 0, count: 1200)

        // The publisher's stream, plus 20 trailing packets so a loss among the last of the 3000
        // has a later packet to reveal it (no receiver can detect a loss at the very end).
        let total = packetCount + 20
        for i in 0..<total {
            queue.schedule(.send(index: i), at: UInt64(i) * interval)
        }

        let rtt = Duration.nanoseconds(Int64(2 * delay))
        while true {
            let deadline = nackEnabled ? nack.nextDeadline?.nanoseconds : nil
            guard let now = [queue.nextTime, deadline].compactMap({ $0 }).min() else { break }
            let instant = Instant(nanoseconds: now)

            // Every datagram due at `now` is handled before the NACK timer fires at the same instant.
            while let t = queue.nextTime, t == now {
                let (_, event) = queue.pop()
                switch event {
                case .send(let i):
                    let seq = SequenceNumber(Self.firstSequence).advanced(by: i)
                    let bytes = RTPPacket(
                        payloadType: PayloadType(96), sequenceNumber: seq, timestamp: UInt32(i * 900),
                        ssrc: SSRC(0x5EED), payload: [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 200)
                    ).serialized()
                    bytes.withUnsafeBytes { _ = senderBuffer.store($0, sequence: seq, now: instant) }
                    if rng.chance(Self.loss) {
                        if i < Self.packetCount { outcome.originalsLost += 1 }
                    } else {
                        queue.schedule(.media(sequence: seq, bytes: bytes), at: now + Self.delay)
                    }
                case .media(let sequence, let bytes):
                    // Receiver: parse, account, detect loss.
                    let view = try RTPPacket(parsing: bytes)
                    stats.record(sequence: view.sequenceNumber, rtpTimestamp: view.timestamp, arrival: instant)
                    nack.received(sequence, now: instant)
                    received.insert(sequence.rawValue)
                case .feedback(let packet):
                    // Sender: parse the NACK with the wire layer, answer from the ring.
                    try packet.withUnsafeBytes { raw in
                        var iterator = RTCPCompoundIterator(raw)
                        while let header = try iterator.next() {
                            let view = try GenericNACKView(header)
                            #expect(view.mediaSSRC == SSRC(0x5EED))
                            for sequence in view.lostSequenceNumbers {
                                guard let stored = senderBuffer.packet(for: sequence, now: instant) else { continue }
                                outcome.retransmissionsSent += 1
                                if !rng.chance(loss) {
                                    queue.schedule(.media(sequence: sequence, bytes: Array(stored)), at: now + delay)
                                }
                            }
                        }
                    }
                }
            }

            guard nackEnabled else { continue }
            nack.due(now: instant, rtt: rtt, into: &due)
            var start = 0
            while start < due.count {
                let (written, covered) = nackScratch.withUnsafeMutableBytes { raw in
                    NackGenerator.writeNACK(
                        senderSSRC: SSRC(1), mediaSSRC: SSRC(0x5EED), sortedLost: due[start...], into: raw)
                }
                #expect(covered > 0)
                start += max(covered, 1)
                outcome.nackPackets += 1
                if !rng.chance(loss) {
                    queue.schedule(.feedback(Array(nackScratch[0..<written])), at: now + delay)
                }
            }
        }

        let expected = (0..<packetCount).map { SequenceNumber(firstSequence).advanced(by: $0).rawValue }
        outcome.unrecovered = expected.filter { !received.contains($0) }.count
        outcome.receiverCumulativeLost = stats.cumulativeLost
        outcome.duplicatesSeen = stats.duplicates
        return outcome
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func nackRecoversNearlyEverythingThatWouldOtherwiseBeLost(seed: UInt64) throws {
        let without = try Self.run(seed: seed, nackEnabled: false)
        let with = try Self.run(seed: seed, nackEnabled: true)
        let lossRate = Double(without.unrecovered) / Double(Self.packetCount)
        // Without NACK the stream loses what the link loses: about 5%.
        #expect(lossRate > 0.035 && lossRate < 0.065, "loss without NACK \(lossRate)")
        #expect(without.unrecovered == without.originalsLost)
        // With NACK, under 0.1% is never recovered.
        #expect(Double(with.unrecovered) / Double(Self.packetCount) < 0.001, "unrecovered \(with.unrecovered)")
        #expect(with.retransmissionsSent >= with.originalsLost)
        // Retries wait a round trip, so few retransmissions are wasted: each loss costs about
        // 1 / (1 - 5%)^2 ≈ 1.1 of them, not one per retry timer.
        #expect(Double(with.retransmissionsSent) < 1.3 * Double(with.originalsLost))
        #expect(with.duplicatesSeen < 10)
        // The receiver's RFC 3550 statistics agree: the 20 trailing packets all arrived or were
        // recovered too, so cumulative loss over the whole stream is the unrecovered count at most.
        #expect(with.receiverCumulativeLost <= Int64(with.unrecovered) + 20)
        #expect(with.receiverCumulativeLost >= 0)
    }
}
