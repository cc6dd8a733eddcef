import Foundation
import RelaisWire
import Testing

@testable import RelaisMedia

/// Temporal scalability (L1T2, L1T3) of the VP8 encoder, and the temporal fields of the RTP
/// payload descriptor (RFC 7741 §4.2).
@Suite struct VP8TemporalLayerTests {
    struct Encoded {
        var number: UInt64
        var frame: EncodedFrame
    }

    /// Encodes frames `numbers` of a 320x180 pattern (frame counter = number), one frame out per
    /// frame in, forcing keyframes at the given indices.
    func encode(
        layers: Int, count: Int, keyframesAt: Set<Int> = [], width: Int = 320, height: Int = 180, kbps: Int = 400
    ) throws -> [Encoded] {
        let pattern = TestPattern(width: width, height: height)
        let encoder = try VP8Encoder(width: width, height: height, fps: 30, bitrateKbps: kbps, temporalLayers: layers)
        #expect(encoder.temporalLayers == layers)
        var out: [Encoded] = []
        for n in 0..<count {
            let number = 5_000 + UInt64(n)
            let frames = try encoder.encode(
                pattern.render(frame: number, captureMicros: number * 33_333), pts: Int64(n) * 3000,
                forceKeyframe: keyframesAt.contains(n))
            try #require(frames.count == 1, "frame \(n)")
            out.append(Encoded(number: number, frame: frames[0]))
        }
        return out
    }

    /// Decodes the frames whose layer is at most `maxLayer`, checks each decodes and reads back its
    /// counter, and returns the decoded pictures by frame number.
    @discardableResult
    func decode(_ frames: [Encoded], upTo maxLayer: UInt8) throws -> [UInt64: I420Frame] {
        let decoder = try VP8Decoder()
        var pictures: [UInt64: I420Frame] = [:]
        for encoded in frames where try #require(encoded.frame.temporalLayer) <= maxLayer {
            let image = try #require(try decoder.decode(encoded.frame.data), "frame \(encoded.number) up to TL\(maxLayer)")
            #expect(TestPattern.read(image)?.frame == encoded.number, "frame \(encoded.number) up to TL\(maxLayer)")
            pictures[encoded.number] = image
        }
        return pictures
    }

    @Test func l1t3LayersFollowThePatternAndLowerLayersDecodeAlone() throws {
        let frames = try encode(layers: 3, count: 16)
        #expect(frames.map(\.frame.temporalLayer) == [0, 2, 1, 2, 0, 2, 1, 2, 0, 2, 1, 2, 0, 2, 1, 2])
        // Y: TL0, the first TL2 (references LAST only) and TL1 (LAST only) are sync points; the
        // second TL2 references the TL1 frame in GOLDEN.
        #expect(frames.map(\.frame.layerSync) == Array(repeating: [true, true, true, false], count: 4).flatMap { $0 })
        #expect(frames.map(\.frame.isKeyframe) == [true] + Array(repeating: false, count: 15))

        let all = try decode(frames, upTo: 2)
        let base = try decode(frames, upTo: 0)
        let lower = try decode(frames, upTo: 1)
        #expect(base.count == 4 && lower.count == 8 && all.count == 16)
        // No drift: a frame decodes to the same picture whatever higher layers were dropped.
        for (number, picture) in base { #expect(picture == all[number], "TL0 frame \(number)") }
        for (number, picture) in lower { #expect(picture == all[number], "TL0/TL1 frame \(number)") }
    }

    @Test func forcedKeyframeRestartsThePattern() throws {
        // Index 6 would have been TL1 (position 2).
        let frames = try encode(layers: 3, count: 16, keyframesAt: [6])
        #expect(frames.map(\.frame.temporalLayer) == [0, 2, 1, 2, 0, 2, 0, 2, 1, 2, 0, 2, 1, 2, 0, 2])
        #expect(frames.map(\.frame.isKeyframe) == (0..<16).map { $0 == 0 || $0 == 6 })
        #expect(frames[6].frame.layerSync && frames[7].frame.layerSync && !frames[9].frame.layerSync)
        let all = try decode(frames, upTo: 2)
        for maxLayer: UInt8 in [0, 1] {
            for (number, picture) in try decode(frames, upTo: maxLayer) { #expect(picture == all[number]) }
        }
        // A receiver joining at the keyframe with only TL0 and TL1.
        try decode(Array(frames[6...]), upTo: 1)
    }

    @Test func l1t2AlternatesAndTheBaseLayerDecodesAlone() throws {
        let frames = try encode(layers: 2, count: 10)
        #expect(frames.map(\.frame.temporalLayer) == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
        #expect(frames.allSatisfy { $0.frame.layerSync })
        let all = try decode(frames, upTo: 1)
        for (number, picture) in try decode(frames, upTo: 0) { #expect(picture == all[number]) }
    }

    @Test func oneLayerLeavesTheTemporalFieldsUnset() throws {
        let frames = try encode(layers: 1, count: 3)
        #expect(frames.allSatisfy { $0.frame.temporalLayer == nil && !$0.frame.layerSync })
        // Existing callers build frames without the new fields.
        #expect(EncodedFrame(data: [1], isKeyframe: true) == EncodedFrame(data: [1], isKeyframe: true, temporalLayer: nil, layerSync: false))
    }

    @Test func temporalLayerCountIsValidated() throws {
        for layers in [0, 4, -1] {
            #expect(throws: CodecError.self) { try VP8Encoder(width: 320, height: 180, fps: 30, bitrateKbps: 300, temporalLayers: layers) }
        }
        #expect(VP8Encoder.cumulativeLayerBitrates(kbps: 1000, layers: 3) == [400, 600, 1000])
        #expect(VP8Encoder.cumulativeLayerBitrates(kbps: 1000, layers: 2) == [600, 1000])
        #expect(VP8Encoder.cumulativeLayerBitrates(kbps: 10, layers: 3) == [4, 6, 10])
        #expect(VP8Encoder.cumulativeLayerBitrates(kbps: 700, layers: 1) == [700])
    }

    /// With three layers setBitrate moves every layer's target: the total follows, and the pattern
    /// and decodability are unaffected.
    @Test func setBitrateWithThreeLayers() throws {
        let pattern = TestPattern(width: 640, height: 360, noise: true)
        let encoder = try VP8Encoder(width: 640, height: 360, fps: 30, bitrateKbps: 1500, temporalLayers: 3)
        let decoder = try VP8Decoder()
        var index = 0
        var layerBytes = [0, 0, 0]
        func bytes(frames count: Int) throws -> Int {
            var total = 0
            for _ in 0..<count {
                let frames = try encoder.encode(
                    pattern.render(frame: UInt64(index), captureMicros: 0), pts: Int64(index) * 3000)
                try #require(frames.count == 1)
                let frame = frames[0]
                #expect(frame.temporalLayer == [0, 2, 1, 2][index % 4], "frame \(index)")
                let image = try #require(try decoder.decode(frame.data))
                #expect(TestPattern.read(image)?.frame == UInt64(index))
                total += frame.data.count
                layerBytes[Int(frame.temporalLayer ?? 0)] += frame.data.count
                index += 1
            }
            return total
        }
        _ = try bytes(frames: 32)
        layerBytes = [0, 0, 0]
        let high = try bytes(frames: 60)
        let highSplit = layerBytes
        try encoder.setBitrate(kbps: 300)
        #expect(encoder.bitrateKbps == 300)
        _ = try bytes(frames: 32)
        let low = try bytes(frames: 60)
        try encoder.setBitrate(kbps: 1200)
        _ = try bytes(frames: 32)
        let again = try bytes(frames: 60)
        print("L1T3 640x360 noisy: 1500 kbps -> \(high * 8 / 2000) kbps (TL0/TL1/TL2 bytes \(highSplit)), 300 kbps -> \(low * 8 / 2000) kbps, back to 1200 kbps -> \(again * 8 / 2000) kbps")
        #expect(low * 3 < high, "high \(high) bytes, low \(low) bytes")
        #expect(again > low * 2, "low \(low) bytes, raised again \(again) bytes")
        // libwebrtc's split: TL0 40% of the bytes, TL0+TL1 60% (measured 38% and 58%).
        let total = highSplit.reduce(0, +)
        #expect((30...50).contains(highSplit[0] * 100 / total), "\(highSplit)")
        #expect((50...70).contains((highSplit[0] + highSplit[1]) * 100 / total), "\(highSplit)")
        #expect(throws: CodecError.self) { try encoder.setBitrate(kbps: 5) }
    }

    // MARK: Payload descriptor

    @Test func temporalDescriptorBytes() throws {
        var packetizer = VP8Packetizer(initialPictureID: 0x1234, initialTL0PictureIndex: 6)
        let frame = vp8Frame(size: 3000, keyframe: true)
        let payloads = packetizer.packetize(frame, temporalLayer: 0, layerSync: true)
        let room = VP8Packetizer.defaultMaxPayload - 6
        #expect(payloads.count == (3000 + room - 1) / room)
        #expect(payloads.count == packetizer.packetCount(frameLength: 3000, temporal: true))
        for (index, payload) in payloads.enumerated() {
            // X (S on the first) | I L T | M + PictureID 0x1234 | TL0PICIDX 7 | TID 0, Y=1, KEYIDX 0.
            #expect(Array(payload.prefix(6)) == [index == 0 ? 0x90 : 0x80, 0xE0, 0x92, 0x34, 0x07, 0x20])
        }
        #expect(payloads.reduce(0) { $0 + $1.count } == 3000 + 6 * payloads.count)
        #expect(packetizer.tl0PictureIndex == 7 && packetizer.nextPictureID == 0x1235)

        // TID 2 without Y, TID 1 with Y: TL0PICIDX stays at the latest TL0 frame's.
        #expect(packetizer.packetize([0x11, 0xAA], temporalLayer: 2, layerSync: false) == [[0x90, 0xE0, 0x92, 0x35, 0x07, 0x80, 0x11, 0xAA]])
        #expect(packetizer.packetize([0x11], temporalLayer: 1, layerSync: true) == [[0x90, 0xE0, 0x92, 0x36, 0x07, 0x60, 0x11]])
        // A frame without a temporal layer keeps the 4-byte descriptor, and the index.
        #expect(packetizer.packetize([0x11]) == [[0x90, 0x80, 0x92, 0x37, 0x11]])
        #expect(packetizer.packetize(EncodedFrame(data: [0x11], isKeyframe: false, temporalLayer: 0, layerSync: true)) == [[0x90, 0xE0, 0x92, 0x38, 0x08, 0x20, 0x11]])
        #expect(packetizer.packetize(EncodedFrame(data: [0x10], isKeyframe: true)) == [[0x90, 0x80, 0x92, 0x39, 0x10]])
        // TID 3 (the field's largest value) and an empty frame, which consumes nothing.
        #expect(packetizer.packetize([0x11], temporalLayer: 3, layerSync: false) == [[0x90, 0xE0, 0x92, 0x3A, 0x08, 0xC0, 0x11]])
        #expect(packetizer.packetize([], temporalLayer: 0, layerSync: true) == [])
        #expect(packetizer.tl0PictureIndex == 8 && packetizer.nextPictureID == 0x123B)
        #expect(packetizer.packetCount(frameLength: 0, temporal: true) == 0)
        #expect(VP8Packetizer.descriptorLength(temporal: true) == 6 && VP8Packetizer.descriptorLength(temporal: false) == 4)
    }

    @Test func tl0PictureIndexCountsBaseFramesAndWraps() throws {
        var packetizer = VP8Packetizer(initialPictureID: 0x7FFE, initialTL0PictureIndex: 253)
        let layers: [UInt8] = [0, 2, 1, 2, 0, 2, 1, 2, 0, 2, 0]
        var seen: [(pictureID: UInt16, tl0: UInt8, tid: UInt8, sync: Bool)] = []
        for (index, layer) in layers.enumerated() {
            let payloads = packetizer.packetize([0x11, UInt8(index)], temporalLayer: layer, layerSync: index % 4 != 3)
            let descriptor = try VP8PayloadDescriptor(parsing: try #require(payloads.first))
            seen.append((
                try #require(descriptor.pictureID?.value), try #require(descriptor.tl0PictureIndex),
                try #require(descriptor.temporalLayer), descriptor.layerSync))
            #expect(descriptor.keyIndex == nil && descriptor.length == 6 && !descriptor.nonReference)
        }
        #expect(seen.map(\.tl0) == [254, 254, 254, 254, 255, 255, 255, 255, 0, 0, 1])
        #expect(seen.map(\.tid) == layers)
        #expect(seen.map(\.sync) == (0..<layers.count).map { $0 % 4 != 3 })
        #expect(seen.map(\.pictureID) == [0x7FFE, 0x7FFF] + (0..<9).map { UInt16($0) })
    }

    /// Real L1T3 frames through the packetizer, the descriptor parser and the frame assembler.
    @Test func depacketizerReadsTheTemporalFieldsAndReassembles() throws {
        let frames = try encode(layers: 3, count: 8, width: 640, height: 360, kbps: 800)
        var packetizer = VP8Packetizer(maxPayload: 300, initialPictureID: 100, initialTL0PictureIndex: 40)
        var assembler = VP8FrameAssembler()
        var sequence = SequenceNumber(65_000)
        var expectedTL0: UInt8 = 40
        for (index, encoded) in frames.enumerated() {
            let frame = encoded.frame
            if frame.temporalLayer == 0 { expectedTL0 &+= 1 }
            var packets: [([UInt8], Bool)] = []
            frame.data.withUnsafeBytes { raw in
                packetizer.packetize(raw, temporalLayer: frame.temporalLayer, layerSync: frame.layerSync) { payload, marker in
                    packets.append((Array(payload), marker))
                }
            }
            #expect(packets.count == packetizer.packetCount(frameLength: frame.data.count, temporal: true))
            #expect(packets.count > 1 || frame.data.count <= 294, "frame \(index): \(frame.data.count) bytes")
            var assembled: VP8Frame?
            for (number, (payload, marker)) in packets.enumerated() {
                #expect(payload.count <= 300)
                let descriptor = try VP8PayloadDescriptor(parsing: payload)
                #expect(descriptor.isFrameStart == (number == 0))
                #expect(descriptor.pictureID == .fifteenBit(UInt16(100 + index)))
                #expect(descriptor.tl0PictureIndex == expectedTL0)
                #expect(descriptor.temporalLayer == frame.temporalLayer)
                #expect(descriptor.layerSync == frame.layerSync)
                #expect(descriptor.length == 6)
                let out = try payload.withUnsafeBytes { raw in
                    try assembler.push(payload: raw, sequenceNumber: sequence, timestamp: UInt32(index) * 3000, marker: marker)
                }
                sequence = sequence.advanced(by: 1)
                #expect((out != nil) == marker)
                assembled = out ?? assembled
            }
            let result = try #require(assembled, "frame \(index)")
            #expect(result.bytes == frame.data)
            #expect(result.isKeyframe == frame.isKeyframe)
            #expect(result.pictureID == UInt16(100 + index))
        }
        #expect(assembler.framesAssembled == 8 && assembler.framesAbandoned == 0)
    }
}
