import NIOCore
@testable import RelaisServer
@testable import RelaisTransport
import RelaisWire
import ServerTestSupport
import Testing

/// A hostile participant on the media path (issue 13, items 4 and 5), through the loop the server
/// runs (`MediaLoop.handleDatagram`) on a room connected in memory with real ICE, DTLS and SRTP.
@Suite("Media path abuse", .serialized)
struct MediaPathAbuseTests {
    /// A 1200-byte VP8 keyframe packet (every packet starts a keyframe, so down tracks forward at once).
    static let packet: [UInt8] = RTPPacket(
        marker: true, payloadType: PayloadType(96), sequenceNumber: SequenceNumber(0), timestamp: 0, ssrc: SSRC(0),
        payload: [0x10, 0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01] + [UInt8](repeating: 0x55, count: 1177)
    ).serialized()

    static func feed(_ harness: ForwardingHarness, _ count: Int, into sink: (AddressedEnvelope<ByteBuffer>) -> Void = { _ in }) {
        for i in 0..<count { harness.feed(i, collecting: sink) }
    }

    // MARK: NACK

    /// NACKs listing 8 000 sequence numbers, many times over: the relay answers each number at most
    /// once per round trip and retransmits at most 20% of what it forwarded plus the floor.
    @Test func aNackFloodIsHeldToTheBudget() throws {
        let harness = try ForwardingHarness(subscribers: 1)
        harness.prepareRTP(Self.packet, sequences: (1...600).map { UInt16($0) }, fill: 1)
        Self.feed(harness, 600)
        let forwardedBytes = 600 * Self.packet.count
        let last = harness.firstSubscriberLastOutput
        // 18 NACKs of 450 numbers (8 100, the newest 1024 repeated many times), sent 10 times.
        for round in 0..<10 {
            for part in 0..<18 {
                harness.prepareNACK(listing: (0..<450).map { last &- UInt16((part * 450 + $0) % 1024) }, at: 0)
                harness.feed(0, collecting: { _ in })
            }
            _ = round
        }
        let counters = harness.counters
        let retransmitted = counters.retransmissions * Self.packet.count
        #expect(retransmitted <= forwardedBytes * 20 / 100 + 6_000)
        #expect(counters.retransmissions > 50)  // the budget is used, not refused outright
        #expect(counters.nackOverBudget > 0)
        #expect(counters.nackRepeats > 0)
        #expect(counters.nackRepeats + counters.nackOverBudget + counters.retransmissions + counters.retransmissionMisses == 10 * 18 * 450)
    }

    // MARK: One index, one plaintext

    /// Collects what the relay sends the first subscriber and checks that no SRTP index (SSRC,
    /// ROC || SEQ, estimated as the relay's and the subscriber's contexts estimate it, RFC 3711
    /// §3.3.1) is ever sent with two different ciphertexts: under GCM (and AES-CM) the same index
    /// and key give the same ciphertext only for the same plaintext.
    final class IndexLedger {
        let destination: SocketAddress
        var highest: [UInt32: UInt64] = [:]
        var sent: [UInt32: [UInt64: [UInt8]]] = [:]
        var violations = 0
        var packets = 0

        init(destination: SocketAddress) { self.destination = destination }

        func take(_ envelope: AddressedEnvelope<ByteBuffer>) {
            guard envelope.remoteAddress == destination else { return }
            let bytes = Array(envelope.data.readableBytesView)
            guard bytes.count >= 12, bytes[0] >> 6 == 2, !(64...95).contains(bytes[1] & 0x7F) else { return }  // RTP only
            let sequence = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
            let ssrc = UInt32(bytes[8]) << 24 | UInt32(bytes[9]) << 16 | UInt32(bytes[10]) << 8 | UInt32(bytes[11])
            let (index, delta) = NativeSRTPSession.estimate(highest[ssrc] ?? 0, sequence)
            if delta > 0 || highest[ssrc] == nil { highest[ssrc] = index }
            packets += 1
            if let previous = sent[ssrc]?[index] {
                if previous != bytes { violations += 1 }
            } else {
                sent[ssrc, default: [:]][index] = bytes
            }
        }
    }

    /// A publisher switches SSRC twice, loses a packet whose number an older source used, jumps,
    /// restarts its numbering backwards; the subscriber NACKs everything. Before the fix, the NACK
    /// answer replayed a cached packet of the first source under a fresh index, which the next
    /// packet then reused with other content.
    @Test func noIndexEverCarriesTwoPlaintexts() throws {
        let harness = try ForwardingHarness(subscribers: 1)
        let ledger = IndexLedger(destination: harness.firstSubscriberAddress)
        func send(_ sequences: [UInt16], ssrc: UInt32, fill: UInt8) {
            harness.prepareRTP(Self.packet, sequences: sequences, ssrc: ssrc, fill: fill)
            Self.feed(harness, sequences.count, into: ledger.take)
        }
        func nackRecent(_ count: Int) {
            let last = harness.firstSubscriberLastOutput
            harness.prepareNACK(listing: (0..<count).map { last &- UInt16($0) })
            harness.feed(0, collecting: ledger.take)
        }
        let a = ForwardingHarness.publisherSSRC, b: UInt32 = 0xB0B0_B0B0, c: UInt32 = 0xC0C0_C0C0
        send((960...1010).map { UInt16($0) }, ssrc: a, fill: 1)
        harness.changePublisherSSRC(b)
        send((2000...2010).map { UInt16($0) }, ssrc: b, fill: 2)
        harness.changePublisherSSRC(c)
        send((990...1010).filter { $0 != 1000 }.map { UInt16($0) }, ssrc: c, fill: 3)
        nackRecent(40)
        send((1011...1020).map { UInt16($0) }, ssrc: c, fill: 4)
        // A jump beyond MAX_DROPOUT (probation), then its confirmation (a restart).
        send((9000...9010).map { UInt16($0) }, ssrc: c, fill: 5)
        nackRecent(60)
        // A restart backwards in 16-bit terms (ahead for SRTP's index), reordered, and a replay of
        // one number with other content (SRTP's replay window refuses it).
        send([49000, 49001, 49003, 49002, 49004, 49005], ssrc: c, fill: 6)
        send([49003], ssrc: c, fill: 7)
        nackRecent(80)
        send((49006...49020).map { UInt16($0) }, ssrc: c, fill: 8)
        nackRecent(100)
        #expect(ledger.packets > 60)
        #expect(ledger.violations == 0)
    }

    // MARK: Outbound SSRC churn

    /// A subscriber whose track is replaced 300 times (more than the 256 outbound SSRC slots of an
    /// AES-GCM context) keeps receiving: removed consumers' slots are reclaimed. A consumer that
    /// comes back under a retired SSRC continues its numbering; one whose slot was reclaimed is
    /// refused rather than restarted at index 0.
    @Test func consumerChurnKeepsForwarding() throws {
        let harness = try ForwardingHarness(subscribers: 1)
        let destination = harness.firstSubscriberAddress
        var sequence: UInt16 = 100
        func forwardedTo(_ ssrc: UInt32) -> Bool {
            harness.prepareRTP(Self.packet, sequences: [sequence], fill: 1)
            sequence &+= 1
            var seen = false
            harness.feed(0) { envelope in
                guard envelope.remoteAddress == destination else { return }
                let b = Array(envelope.data.readableBytesView)
                if b.count >= 12, UInt32(b[8]) << 24 | UInt32(b[9]) << 16 | UInt32(b[10]) << 8 | UInt32(b[11]) == ssrc { seen = true }
            }
            return seen
        }
        let base: UInt32 = 0x7000_0000
        var delivered = 0
        for i in 0..<300 {
            harness.resubscribeFirst(outputSSRC: base + UInt32(i))
            if forwardedTo(base + UInt32(i)) { delivered += 1 }
        }
        #expect(delivered == 300)
        // A recently retired SSRC comes back: its slot (and indices) are still there.
        harness.resubscribeFirst(outputSSRC: base + 298)
        #expect(forwardedTo(base + 298))
        // The first ones' slots were reclaimed: refused (counted), never restarted.
        harness.resubscribeFirst(outputSSRC: base)
        #expect(!forwardedTo(base))
    }

    // MARK: ICE address tables

    /// Checks that authenticate with the publisher's credentials from 5 000 source ports leave at
    /// most `ICELiteAgent.maxValidated` addresses per transport in the tables, and the publisher's
    /// nominated address keeps carrying media. A check with another transport's credentials from
    /// the publisher's address (a spoofed source) does not move that address.
    @Test func checksFromThousandsOfPortsKeepTheTablesBounded() throws {
        let harness = try ForwardingHarness(subscribers: 2)
        let before = harness.loop.boundAddressCount
        for port in 0..<5_000 {
            let source = try SocketAddress(ipAddress: "127.0.0.1", port: 20_000 + port)
            harness.prepareCheck(transport: 0, from: source)
            harness.feed(0, collecting: { _ in })
        }
        #expect(harness.loop.boundAddressCount <= 3 * ICELiteAgent.maxValidated)
        #expect(harness.loop.boundAddressCount >= before)
        for entry in harness.loop.entries.values {
            #expect(entry.socketAddresses.count <= ICELiteAgent.maxValidated)
        }
        // The publisher's media still arrives from its nominated address and is forwarded.
        let forwarded = harness.counters.forwarded
        harness.prepareRTP(Self.packet, sequences: [10, 11], fill: 1)
        Self.feed(harness, 2)
        #expect(harness.counters.forwarded == forwarded + 4)

        // A check for subscriber 1's transport, spoofed from the publisher's address.
        harness.prepareCheck(transport: 1, from: harness.publisherAddress)
        harness.feed(0, collecting: { _ in })
        #expect(harness.counters.addressMovesRefused == 1)
        harness.prepareRTP(Self.packet, sequences: [12], fill: 1)
        Self.feed(harness, 1)
        #expect(harness.counters.forwarded == forwarded + 6)
    }
}
