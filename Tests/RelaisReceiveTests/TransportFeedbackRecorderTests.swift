import RelaisWire
import TestSupport
import Testing

@testable import RelaisReceive

@Suite("TransportFeedbackRecorder")
struct TransportFeedbackRecorderTests {
    /// One reported packet: its transport-wide number and arrival in µs (nil: reported lost).
    struct Report: Equatable, CustomStringConvertible {
        var sequence: UInt16
        var arrival: Int64?
        var description: String { "\(sequence)@\(arrival.map(String.init) ?? "lost")" }
    }

    /// Writes the pending feedback and parses it back: every TWCC packet, in order.
    static func feedback(_ recorder: inout TransportFeedbackRecorder, at now: Instant, bufferSize: Int = 1500) -> [[Report]] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 4)
        defer { buffer.deallocate() }
        let written = recorder.writeFeedback(senderSSRC: SSRC(0xFEED), into: buffer, now: now)
        var packets: [[Report]] = []
        var cursor = RTCPCompoundIterator(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<written]))
        while let header = try? cursor.next() {
            guard let view = try? TransportFeedbackView(header) else {
                Issue.record("not a TWCC packet")
                return packets
            }
            #expect(view.senderSSRC == SSRC(0xFEED))
            packets.append(view.packets.map { Report(sequence: $0.sequenceNumber.rawValue, arrival: $0.arrivalTime) })
        }
        return packets
    }

    static func record(_ recorder: inout TransportFeedbackRecorder, _ sequence: UInt16, at microseconds: UInt64, endOfFrame: Bool = false) -> Bool {
        recorder.record(SequenceNumber(sequence), ssrc: SSRC(1234), endOfFrame: endOfFrame, arrival: Instant(nanoseconds: microseconds * 1000))
    }

    @Test func reportsEveryArrivalToTheQuarterMillisecondAndTheGapsAsLost() {
        var recorder = TransportFeedbackRecorder()
        #expect(recorder.nextDeadline == nil)
        _ = Self.record(&recorder, 10, at: 1_000_000)
        _ = Self.record(&recorder, 11, at: 1_004_000)
        _ = Self.record(&recorder, 14, at: 1_010_250)  // 12 and 13 missing
        let packets = Self.feedback(&recorder, at: ms(1011))
        #expect(packets.count == 1)
        // Arrivals are quantised to 250 µs from a 64 ms reference; differences survive exactly.
        let reports = packets.first ?? []
        #expect(reports.map(\.sequence) == [10, 11, 12, 13, 14])
        #expect(reports.map { $0.arrival == nil } == [false, false, true, true, false])
        if let first = reports.first?.arrival, let second = reports[1].arrival, let last = reports[4].arrival {
            #expect(second - first == 4000)
            #expect(last - first == 10_250)
        }
        #expect(recorder.pendingCount == 0)
        #expect(recorder.nextDeadline == nil)
        #expect(recorder.feedbackPackets == 1)
    }

    @Test func dueEveryHundredMillisecondsAndTwentyFiveAfterAFramesLastPacket() {
        var recorder = TransportFeedbackRecorder()
        #expect(Self.record(&recorder, 1, at: 0))  // the first feedback is due at once
        _ = Self.feedback(&recorder, at: ms(0))
        #expect(!Self.record(&recorder, 2, at: 10_000))
        #expect(recorder.nextDeadline == ms(100))
        #expect(!recorder.isDue(now: ms(99)))
        #expect(recorder.isDue(now: ms(100)))
        // The frame's last packet brings it forward, though not before 25 ms after the previous one.
        #expect(!Self.record(&recorder, 3, at: 20_000, endOfFrame: true))
        #expect(recorder.nextDeadline == ms(25))
        #expect(Self.record(&recorder, 4, at: 26_000))
        #expect(Self.feedback(&recorder, at: ms(26)).first?.map(\.sequence) == [2, 3, 4])
        // Sent: back to the periodic deadline.
        _ = Self.record(&recorder, 5, at: 30_000)
        #expect(recorder.nextDeadline == ms(126))
    }

    @Test func aPacketReportedLostAndThenArrivingIsReportedAgainAsReceived() {
        var recorder = TransportFeedbackRecorder()
        for (sequence, time) in [(100, 0), (101, 1000), (103, 3000)] as [(UInt16, UInt64)] { _ = Self.record(&recorder, sequence, at: time) }
        #expect(Self.feedback(&recorder, at: ms(5)).first?.map(\.description) == ["100@0", "101@1000", "102@lost", "103@3000"])
        _ = Self.record(&recorder, 102, at: 9000)
        _ = Self.record(&recorder, 104, at: 10_000)
        let reports = Self.feedback(&recorder, at: ms(105)).first ?? []
        #expect(reports.map(\.sequence) == [102, 103, 104])
        #expect(reports.allSatisfy { $0.arrival != nil })
    }

    @Test func numbersAcrossTheWrapAreOneWindow() {
        var recorder = TransportFeedbackRecorder()
        for (i, sequence) in [65534, 65535, 0, 1].enumerated() { _ = Self.record(&recorder, UInt16(sequence), at: UInt64(i) * 1000) }
        #expect(Self.feedback(&recorder, at: ms(5)).first?.map(\.sequence) == [65534, 65535, 0, 1])
    }

    @Test func arrivalsMoreThanEightSecondsApartSplitIntoTwoPackets() {
        var recorder = TransportFeedbackRecorder()
        _ = Self.record(&recorder, 1, at: 0)
        _ = Self.record(&recorder, 2, at: 9_000_000)
        let packets = Self.feedback(&recorder, at: ms(9000))
        #expect(packets.map { $0.map(\.sequence) } == [[1], [2]])
        #expect(recorder.pendingCount == 0)
    }

    @Test func aLongWindowIsWrittenInPacketsOfAtMostFourHundredThatFitTheBuffer() {
        var recorder = TransportFeedbackRecorder()
        for i in 0..<1000 { _ = Self.record(&recorder, UInt16(i), at: UInt64(i) * 70_000) }  // 70 ms apart: two-byte deltas
        // 400 two-byte deltas make a packet of about 940 bytes: 1200 bytes take one, 4000 the rest.
        let first = Self.feedback(&recorder, at: ms(70_000), bufferSize: 1200)
        #expect(first.map(\.count) == [400])
        #expect(recorder.pendingCount == 600)
        let rest = Self.feedback(&recorder, at: ms(70_000), bufferSize: 4000)
        #expect(rest.map(\.count) == [400, 200])
        #expect((first + rest).flatMap { $0 }.map(\.sequence) == (0..<1000).map { UInt16($0) })
    }

    /// Hostile numbering (jumps both ways, duplicates, repeats) is bounded by the ring: no
    /// feedback covers more than 1024 packets, and every packet written parses.
    @Test func hostileNumberingStaysWithinTheRing() {
        var random = SplitMix64(seed: 0x7C_C0FF_EE)
        var recorder = TransportFeedbackRecorder()
        var time: UInt64 = 0
        for round in 0..<200 {
            for _ in 0..<50 {
                time += random.next() % 20_000
                _ = Self.record(&recorder, UInt16(truncatingIfNeeded: random.next()), at: time)
            }
            #expect(recorder.pendingCount <= 1024)
            let packets = Self.feedback(&recorder, at: Instant(nanoseconds: time * 1000), bufferSize: 8192)
            #expect(packets.allSatisfy { $0.count <= 400 }, "round \(round)")
            #expect(recorder.pendingCount == 0)
        }
        // Every packet is either recorded or counted as too old for the ring (random numbers are
        // often more than 1024 behind the highest one).
        #expect(recorder.packetsRecorded + recorder.packetsTooOld == 10_000)
        #expect(recorder.packetsTooOld > 0)
    }
}
