@testable import RelaisWire
import TestSupport
import Testing

/// Random valid packets of every type: serialize, parse, compare. Seeded, so failures reproduce.
@Suite struct RTCPPropertyTests {
    @Test func randomCompoundsRoundTrip() throws {
        var rng = SplitMix64(seed: 0x5EED_27C9)
        var seen = Set<String>()
        for _ in 0..<3_000 {
            let packets = (0..<Int.random(in: 1...6, using: &rng)).map { _ in RandomRTCP.packet(using: &rng) }
            for p in packets { seen.insert(RandomRTCP.kind(p)) }
            let bytes = RTCPPacket.serializeCompound(packets)
            #expect(bytes.count == RTCPPacket.serializedLength(ofCompound: packets))
            #expect(bytes.count % 4 == 0)
            let parsed = try parseRTCP(bytes).get()
            #expect(parsed == packets)
            if parsed != packets { break }

            // The views must agree with the owned values without going through them.
            try bytes.withUnsafeBytes { raw in
                var iterator = RTCPCompoundIterator(raw)
                var index = 0
                while let header = try iterator.next() {
                    try RandomRTCP.checkView(try RTCPPacketView(header), against: packets[index])
                    index += 1
                }
                #expect(index == packets.count)
            }
        }
        #expect(seen.count == 11, "every packet type generated: \(seen.sorted())")
    }

    @Test func serializeReportsShortBuffers() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<300 {
            let packet = RandomRTCP.packet(using: &rng)
            let length = packet.serializedLength
            let short = Int.random(in: 0..<length, using: &rng)
            #expect(throws: BufferTooSmall.self) {
                try ByteWriter.bytes(capacity: short) { (w: inout ByteWriter) throws(BufferTooSmall) in
                    try packet.serialize(into: &w)
                }
            }
        }
    }

    @Test func rembBitrateRoundsDownWithinOneStep() throws {
        var rng = SplitMix64(seed: 99)
        for _ in 0..<2_000 {
            let bitrate = rng.next() >> UInt64.random(in: 0...63, using: &rng)
            let remb = REMB(senderSSRC: SSRC(1), bitrate: bitrate, ssrcs: [])
            guard case .remb(let back) = try parseRTCP(serializeRTCP(.remb(remb))).get()[0] else {
                Issue.record("not a REMB")
                return
            }
            let (exponent, _) = REMB.encode(bitrate: bitrate)
            #expect(back.bitrate <= bitrate)
            #expect(bitrate - back.bitrate < UInt64(1) << exponent)
        }
    }

    @Test func transportFeedbackBuilderMatchesArrivals() throws {
        var rng = SplitMix64(seed: 0x7CC)
        for _ in 0..<300 {
            var builder = TransportFeedbackBuilder(senderSSRC: SSRC(1), feedbackPacketCount: 0)
            var seq = SequenceNumber(UInt16.random(in: 0...UInt16.max, using: &rng))
            var time = Int64.random(in: -1_000_000_000...1_000_000_000_000, using: &rng)
            var expected: [(SequenceNumber, Int64?)] = []
            for _ in 0..<Int.random(in: 1...200, using: &rng) {
                seq = seq.advanced(by: Int.random(in: 1...3, using: &rng))
                time += Int64.random(in: -5_000...100_000, using: &rng)
                let arrival: Int64? = Bool.random(using: &rng) || expected.isEmpty ? time : nil
                if builder.add(seq, arrivalTime: arrival) { expected.append((seq, arrival)) } else { break }
            }
            let feedback = builder.build()
            let bytes = serializeRTCP(.transportFeedback(feedback))
            try bytes.withUnsafeBytes { raw in
                let view = try TransportFeedbackView(RTCPHeaderView(parsing: raw))
                var byNumber: [UInt16: Int64] = [:]
                for report in view.packets {
                    if let t = report.arrivalTime { byNumber[report.sequenceNumber.rawValue] = t }
                }
                // Arrival times come back quantized to 250 µs, on the clock of the reference time as sent:
                // wrapped to 24 bits, so shifted by whole 64 ms units from the builder's clock.
                let firstArrival = try #require(expected.compactMap(\.1).first)
                let wrapAdjust = (TransportFeedbackBuilder.floorDivide(firstArrival, 64_000) - Int64(feedback.referenceTime)) * 64_000
                for (number, arrival) in expected {
                    let got = byNumber[number.rawValue]
                    if let arrival {
                        #expect(got.map { $0 + wrapAdjust } == TransportFeedbackBuilder.floorDivide(arrival, 250) * 250)
                    } else {
                        #expect(got == nil)
                    }
                }
            }
        }
    }

    @Test func randomBytesNeverTrap() {
        var rng = SplitMix64(seed: 0xF022)
        var parsedSomething = 0
        for _ in 0..<20_000 {
            var bytes = rng.bytes(Int.random(in: 0...96, using: &rng))
            // Mostly version 2 and known types, so the fuzz reaches the type-specific parsers.
            if !bytes.isEmpty, Int.random(in: 0..<4, using: &rng) != 0 {
                bytes[0] = 0x80 | (bytes[0] & 0x3F)
                if bytes.count > 1 { bytes[1] = UInt8.random(in: 200...206, using: &rng) }
                if bytes.count > 3, Bool.random(using: &rng) {
                    bytes[2] = 0
                    bytes[3] = UInt8(truncatingIfNeeded: bytes.count / 4 - 1)
                }
            }
            if case .success = parseRTCP(bytes) { parsedSomething += 1 }
        }
        #expect(parsedSomething > 0)
    }

    @Test func mutatedValidPacketsNeverTrap() {
        var rng = SplitMix64(seed: 0xB17F)
        for _ in 0..<5_000 {
            let packets = (0..<Int.random(in: 1...3, using: &rng)).map { _ in RandomRTCP.packet(using: &rng) }
            var bytes = RTCPPacket.serializeCompound(packets)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0:
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                }
            case 1:
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
            default:
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[at] = UInt8.random(in: 0...255, using: &rng)
                bytes.append(contentsOf: rng.bytes(Int.random(in: 0...8, using: &rng)))
            }
            // Parse through the owned path and every view accessor; only the absence of a trap matters.
            _ = parseRTCP(bytes)
            bytes.withUnsafeBytes { raw in
                var iterator = RTCPCompoundIterator(raw)
                while let header = try? iterator.next() {
                    guard let view = try? RTCPPacketView(header) else { continue }
                    RandomRTCP.touchEverything(view)
                }
            }
        }
    }
}

/// Generators of random valid packets, kept within the wire limits the owned types document.
enum RandomRTCP {
    static func packet(using rng: inout SplitMix64) -> RTCPPacket {
        switch Int.random(in: 0..<11, using: &rng) {
        case 0:
            return .senderReport(SenderReport(
                ssrc: ssrc(&rng), ntpTimestamp: rng.next(), rtpTimestamp: u32(&rng), packetCount: u32(&rng),
                octetCount: u32(&rng), reportBlocks: blocks(&rng), profileExtensions: rng.bytes(smallCount(&rng, max: 12))))
        case 1:
            return .receiverReport(ReceiverReport(
                ssrc: ssrc(&rng), reportBlocks: blocks(&rng), profileExtensions: rng.bytes(smallCount(&rng, max: 12))))
        case 2:
            let chunks = (0..<smallCount(&rng, max: 4)).map { _ in
                SDESChunk(source: ssrc(&rng), items: (0..<smallCount(&rng, max: 4)).map { _ in
                    SDESItem(
                        type: SDESItemType(UInt8.random(in: 1...255, using: &rng)),
                        value: rng.bytes(Int.random(in: 0..<8, using: &rng) == 0 ? 255 : smallCount(&rng, max: 40)))
                })
            }
            return .sourceDescription(SourceDescription(chunks: chunks))
        case 3:
            let reason: [UInt8]? = Bool.random(using: &rng) ? nil : rng.bytes(Int.random(in: 0...255, using: &rng))
            return .goodbye(Goodbye(sources: (0..<smallCount(&rng, max: 31)).map { _ in ssrc(&rng) }, reason: reason))
        case 4:
            return .applicationDefined(ApplicationDefined(
                subtype: UInt8.random(in: 0...31, using: &rng), source: ssrc(&rng), name: u32(&rng),
                data: rng.bytes(smallCount(&rng, max: 40))))
        case 5:
            return .genericNACK(GenericNACK(
                senderSSRC: ssrc(&rng), mediaSSRC: ssrc(&rng),
                pairs: (0..<smallCount(&rng, max: 8)).map { _ in
                    NACKPair(packetID: SequenceNumber(UInt16.random(in: 0...UInt16.max, using: &rng)), lostBitmask: UInt16.random(in: 0...UInt16.max, using: &rng))
                }))
        case 6:
            return .pictureLossIndication(PictureLossIndication(senderSSRC: ssrc(&rng), mediaSSRC: ssrc(&rng)))
        case 7:
            return .fullIntraRequest(FullIntraRequest(
                senderSSRC: ssrc(&rng), mediaSSRC: ssrc(&rng),
                entries: (0..<smallCount(&rng, max: 6)).map { _ in
                    FIREntry(ssrc: ssrc(&rng), sequenceNumber: UInt8.random(in: 0...255, using: &rng))
                }))
        case 8:
            // Any mantissa << exponent that fits 64 bits re-encodes exactly.
            let mantissa = UInt64.random(in: 0...0x3_FFFF, using: &rng)
            let bitrate = mantissa << UInt64.random(in: 0...46, using: &rng)
            return .remb(REMB(
                senderSSRC: ssrc(&rng), mediaSSRC: ssrc(&rng), bitrate: bitrate,
                ssrcs: (0..<smallCount(&rng, max: 10)).map { _ in ssrc(&rng) }))
        case 9:
            return .transportFeedback(TransportFeedback(
                senderSSRC: ssrc(&rng), mediaSSRC: ssrc(&rng),
                baseSequenceNumber: SequenceNumber(UInt16.random(in: 0...UInt16.max, using: &rng)),
                referenceTime: Int32.random(in: -0x80_0000...0x7F_FFFF, using: &rng),
                feedbackPacketCount: UInt8.random(in: 0...255, using: &rng), packets: statuses(&rng)))
        default:
            var type: UInt8
            var count: UInt8
            repeat {
                type = UInt8.random(in: 0...255, using: &rng)
                count = UInt8.random(in: 0...31, using: &rng)
            } while (200...204).contains(type) || (type == 205 && (count == 1 || count == 15))
                || (type == 206 && (count == 1 || count == 4 || count == 15))
            return .unknown(packetType: type, count: count, body: rng.bytes(smallCount(&rng, max: 40)))
        }
    }

    static func kind(_ packet: RTCPPacket) -> String {
        switch packet {
        case .senderReport: "SR"
        case .receiverReport: "RR"
        case .sourceDescription: "SDES"
        case .goodbye: "BYE"
        case .applicationDefined: "APP"
        case .genericNACK: "NACK"
        case .pictureLossIndication: "PLI"
        case .fullIntraRequest: "FIR"
        case .remb: "REMB"
        case .transportFeedback: "TWCC"
        case .unknown: "unknown"
        }
    }

    /// Mostly small counts, sometimes the maximum, so limits are exercised without slowing the loop.
    static func smallCount(_ rng: inout SplitMix64, max: Int) -> Int {
        Int.random(in: 0..<10, using: &rng) == 0 ? max : Int.random(in: 0...min(max, 5), using: &rng)
    }

    static func ssrc(_ rng: inout SplitMix64) -> SSRC { SSRC(u32(&rng)) }
    static func u32(_ rng: inout SplitMix64) -> UInt32 { UInt32(truncatingIfNeeded: rng.next()) }

    static func blocks(_ rng: inout SplitMix64) -> [ReportBlock] {
        (0..<smallCount(&rng, max: 31)).map { _ in
            ReportBlock(
                ssrc: ssrc(&rng), fractionLost: UInt8.random(in: 0...255, using: &rng),
                cumulativeLost: Int32.random(in: ReportBlock.cumulativeLostRange, using: &rng),
                extendedHighestSequenceNumber: u32(&rng), jitter: u32(&rng), lastSenderReport: u32(&rng),
                delaySinceLastSenderReport: u32(&rng))
        }
    }

    /// Runs of one status and stretches of mixed ones, so every chunk kind is chosen.
    static func statuses(_ rng: inout SplitMix64) -> [TransportFeedback.Status] {
        var result: [TransportFeedback.Status] = []
        let target = Int.random(in: 0..<20, using: &rng) == 0 ? Int.random(in: 0...12_000, using: &rng) : Int.random(in: 0...120, using: &rng)
        while result.count < target {
            let length = Int.random(in: 1...40, using: &rng)
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: result += Array(repeating: .notReceived, count: length)
            case 1: result += Array(repeating: .received(deltaTicks: Int16.random(in: 0...255, using: &rng)), count: length)
            case 2: result += (0..<length).map { _ in Bool.random(using: &rng) ? .notReceived : .received(deltaTicks: Int16.random(in: 0...255, using: &rng)) }
            default:
                result += (0..<length).map { _ in
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: .notReceived
                    case 1: .received(deltaTicks: Int16.random(in: 0...255, using: &rng))
                    default: .received(deltaTicks: Int16.random(in: Int16.min...Int16.max, using: &rng))
                    }
                }
            }
        }
        return Array(result.prefix(target))
    }

    /// Reads a view's fields directly and compares them with the owned value that produced it.
    static func checkView(_ view: RTCPPacketView, against packet: RTCPPacket) throws {
        switch (view, packet) {
        case (.senderReport(let v), .senderReport(let p)):
            #expect(v.ssrc == p.ssrc && v.ntpTimestamp == p.ntpTimestamp && v.octetCount == p.octetCount)
            #expect((0..<v.reportBlockCount).map { v.reportBlock(at: $0) } == p.reportBlocks)
        case (.receiverReport(let v), .receiverReport(let p)):
            #expect(Array(v.profileExtensions) == p.profileExtensions)
        case (.sourceDescription(let v), .sourceDescription(let p)):
            #expect(Array(v.chunks).map(\.source) == p.chunks.map(\.source))
        case (.goodbye(let v), .goodbye(let p)):
            #expect(v.reason.map(Array.init) == p.reason)
        case (.applicationDefined(let v), .applicationDefined(let p)):
            #expect(Array(v.data) == p.data && v.subtype == p.subtype)
        case (.genericNACK(let v), .genericNACK(let p)):
            #expect(Array(v.lostSequenceNumbers) == p.lostSequenceNumbers)
        case (.pictureLossIndication(let v), .pictureLossIndication(let p)):
            #expect(v.mediaSSRC == p.mediaSSRC)
        case (.fullIntraRequest(let v), .fullIntraRequest(let p)):
            #expect(v.entryCount == p.entries.count)
        case (.remb(let v), .remb(let p)):
            #expect(v.bitrate == p.bitrate && v.ssrcCount == p.ssrcs.count)
        case (.transportFeedback(let v), .transportFeedback(let p)):
            #expect(Array(v.packets).map(\.status) == p.packets)
        case (.unknown(let h), .unknown(let type, let count, let body)):
            #expect(h.packetType == type && h.count == count && Array(h.body) == body)
        default:
            Issue.record("view \(view) does not match \(kind(packet))")
        }
    }

    /// Calls every accessor of a view, so index arithmetic is exercised on hostile input.
    static func touchEverything(_ view: RTCPPacketView) {
        var sink = 0
        switch view {
        case .senderReport(let v):
            for i in 0..<v.reportBlockCount { sink &+= Int(v.reportBlock(at: i).jitter) }
            sink &+= v.profileExtensions.count &+ Int(v.packetCount)
        case .receiverReport(let v):
            for i in 0..<v.reportBlockCount { sink &+= Int(v.reportBlock(at: i).cumulativeLost) }
            sink &+= v.profileExtensions.count
        case .sourceDescription(let v):
            for chunk in v.chunks {
                for item in chunk.items { sink &+= item.value.count }
            }
            sink &+= v.cname(of: SSRC(0))?.count ?? 0
        case .goodbye(let v):
            for i in 0..<v.sourceCount { sink &+= Int(v.source(at: i).rawValue) }
            sink &+= v.reason?.count ?? 0
        case .applicationDefined(let v):
            sink &+= v.data.count &+ Int(v.name)
        case .genericNACK(let v):
            for seq in v.lostSequenceNumbers { sink &+= Int(seq.rawValue) }
        case .pictureLossIndication(let v):
            sink &+= Int(v.mediaSSRC.rawValue)
        case .fullIntraRequest(let v):
            for i in 0..<v.entryCount { sink &+= Int(v.entry(at: i).sequenceNumber) }
        case .remb(let v):
            for i in 0..<v.ssrcCount { sink &+= Int(v.ssrc(at: i).rawValue) }
            sink &+= Int(truncatingIfNeeded: v.bitrate)
        case .transportFeedback(let v):
            var count = 0
            for report in v.packets {
                sink &+= Int(report.arrivalTime ?? 0)
                count += 1
            }
            #expect(count == v.packetStatusCount)
        case .unknown(let h):
            sink &+= h.body.count
        }
        _ = sink
    }
}
