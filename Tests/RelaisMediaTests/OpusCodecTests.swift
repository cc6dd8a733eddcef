import TestSupport
import Foundation
import Testing
@testable import RelaisMedia

@Suite struct OpusCodecTests {
    static func rms(_ samples: ArraySlice<Int16>) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sum = samples.reduce(0.0) { $0 + Double($1) * Double($1) }
        return (sum / Double(samples.count)).squareRoot()
    }

    /// Goertzel power of `frequency` relative to total power: near 1 for a clean tone at that frequency.
    static func toneShare(_ samples: [Int16], frequency: Double) -> Double {
        let n = Double(samples.count)
        let k = (n * frequency / 48_000).rounded()
        let w = 2 * Double.pi * k / n
        let coefficient = 2 * cos(w)
        var s1 = 0.0, s2 = 0.0
        for sample in samples {
            let s = Double(sample) + coefficient * s1 - s2
            s2 = s1
            s1 = s
        }
        let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
        let total = samples.reduce(0.0) { $0 + Double($1) * Double($1) } * n / 2
        return total > 0 ? power / total : 0
    }

    @Test(arguments: [1, 2])
    func toneRoundTripKeepsEnergyAndPitch(channels: Int) throws {
        var tone = ToneGenerator(frequency: 440, amplitude: 0.25, channels: channels)
        let encoder = try OpusEncoder(channels: channels)
        let decoder = try OpusDecoder(channels: channels)
        var input: [Int16] = [], output: [Int16] = []
        var packetBytes = 0
        for _ in 0..<50 {
            let pcm = tone.nextFrame()
            #expect(pcm.count == 960 * channels)
            input += pcm
            let packet = try encoder.encode(pcm: pcm)
            #expect(!packet.isEmpty && packet.count <= 1275)
            packetBytes += packet.count
            let decoded = try decoder.decode(packet)
            #expect(decoded.count == 960 * channels)
            output += decoded
        }
        // Skip the first 100 ms (encoder lookahead / decoder warm-up).
        let skip = 4800 * channels
        let inRMS = Self.rms(input[skip...]), outRMS = Self.rms(output[skip...])
        #expect(inRMS > 5000)
        #expect(abs(outRMS - inRMS) / inRMS < 0.2, "input RMS \(inRMS), output RMS \(outRMS)")
        let mono = stride(from: skip, to: output.count, by: channels).map { output[$0] }
        let share = Self.toneShare(Array(mono.prefix(48_000 * 3 / 4)), frequency: 440)
        #expect(share > 0.8, "440 Hz carries \(share) of the decoded power")
        print("Opus \(channels) ch: \(packetBytes * 8 / 1000) kbit/s (50 frames = 1 s), RMS in \(Int(inRMS)) out \(Int(outRMS)), 440 Hz share \(String(format: "%.3f", share))")
    }

    /// The bitrate set through the COpus shim's `opus_encoder_ctl` wrappers is what libopus reports
    /// and what the packets weigh: 16 kbit/s packets are about a third of 48 kbit/s ones.
    @Test func bitrateSetThroughTheShimShapesThePackets() throws {
        let encoder = try OpusEncoder(channels: 1)
        var tone = ToneGenerator()
        func meanBytes() throws -> Double {
            var total = 0
            for _ in 0..<50 { total += try encoder.encode(pcm: tone.nextFrame()).count }
            return Double(total) / 50
        }
        try encoder.setBitrate(48_000)
        #expect(encoder.bitrate == 48_000)
        let high = try meanBytes()
        try encoder.setBitrate(16_000)
        #expect(encoder.bitrate == 16_000)
        let low = try meanBytes()
        #expect(abs(high - 120) < 25, "48 kbit/s in 20 ms frames is 120 bytes: \(high)")
        #expect(abs(low - 40) < 12, "16 kbit/s: 40 bytes: \(low)")
        #expect(throws: CodecError.self) { try encoder.setBitrate(1_000) }
        try encoder.setExpectedLoss(percentage: 10)
    }

    @Test func lossConcealmentFillsTheGapAndFadesOut() throws {
        var tone = ToneGenerator()
        let encoder = try OpusEncoder()
        let decoder = try OpusDecoder()
        for _ in 0..<20 { _ = try decoder.decode(try encoder.encode(pcm: tone.nextFrame())) }
        let first = try decoder.decode(nil)
        #expect(first.count == 960)
        #expect(Self.rms(first[...]) > 1000, "concealment continues the tone at first")
        var last: [Int16] = []
        for _ in 0..<25 { last = try decoder.decode(nil) }
        #expect(last.count == 960)
        #expect(Self.rms(last[...]) < Self.rms(first[...]) / 4, "long losses fade out")
        // Empty packets count as lost too, and the decoder resumes on real packets.
        #expect(try decoder.decode([]).count == 960)
        let resumed = try decoder.decode(try encoder.encode(pcm: tone.nextFrame()))
        #expect(resumed.count == 960)
    }

    @Test func badInputsGiveTypedErrors() throws {
        #expect(throws: CodecError.self) { try OpusEncoder(channels: 3) }
        #expect(throws: CodecError.self) { try OpusDecoder(channels: 0) }
        let encoder = try OpusEncoder()
        #expect(throws: CodecError.self) { try encoder.encode(pcm: [Int16](repeating: 0, count: 959)) }
        let decoder = try OpusDecoder()
        // TOC code 3 with a frame count of 0 is invalid (RFC 6716 3.2.5).
        do {
            _ = try decoder.decode([0xFB, 0x00])
            Issue.record("invalid packet decoded")
        } catch {
            guard case .opus(_, let code, let message) = error else { Issue.record("\(error)"); return }
            #expect(code < 0)
            #expect(message.lowercased().contains("corrupt") || message.lowercased().contains("invalid"), "\(message)")
        }
        var rng = SplitMix64(seed: 0x0905)
        var decoded = 0, rejected = 0
        for _ in 0..<2000 {
            do {
                let pcm = try decoder.decode(rng.bytes(Int.random(in: 1...1500, using: &rng)))
                #expect(pcm.count <= 5760)
                decoded += 1
            } catch {
                rejected += 1
            }
        }
        #expect(decoded + rejected == 2000)
        #expect(rejected > 0)
        #expect(throws: CodecError.self) { try decoder.decode([UInt8](repeating: 0, count: 70_000)) }
    }

    @Test func toneIsPhaseContinuousAcrossFrames() {
        var tone = ToneGenerator(frequency: 440, amplitude: 0.5)
        let a = tone.nextFrame(), b = tone.nextFrame()
        // The step across the frame boundary is no larger than the largest step inside a frame.
        let inside = zip(a.dropFirst(), a).map { abs(Int($0) - Int($1)) }.max()!
        #expect(abs(Int(b[0]) - Int(a[959])) <= inside + 1)
        #expect(a.max()! > 16_000 && a.min()! < -16_000)
    }
}
