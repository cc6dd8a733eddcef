import TestSupport
import Foundation
import Testing
@testable import RelaisMedia

@Suite struct IVFTests {
    static let hasFFprobe = ExternalTool.find("ffprobe") != nil
    static let hasFFmpeg = ExternalTool.find("ffmpeg") != nil

    static func encodedPattern(count: Int, width: Int = 320, height: Int = 240) throws -> [EncodedFrame] {
        let pattern = TestPattern(width: width, height: height)
        let encoder = try VP8Encoder(width: width, height: height, fps: 30, bitrateKbps: 300)
        var frames: [EncodedFrame] = []
        for n in 0..<count {
            frames += try encoder.encode(pattern.render(frame: UInt64(n), captureMicros: UInt64(n) * 33_333), pts: Int64(n) * 3000, forceKeyframe: false)
        }
        return frames
    }

    @Test func writeReadRoundTrip() throws {
        let frames = try Self.encodedPattern(count: 20)
        var writer = try IVFWriter(width: 320, height: 240, timebaseNumerator: 1, timebaseDenominator: 30)
        for (n, frame) in frames.enumerated() { try writer.append(frame.data, pts: Int64(n)) }
        let bytes = writer.bytes
        #expect(Array(bytes[0..<4]) == Array("DKIF".utf8))
        #expect(bytes.count == 32 + frames.reduce(0) { $0 + 12 + $1.data.count })
        var reader = try IVFReader(bytes: bytes)
        #expect(reader.header == IVFHeader(fourcc: "VP80", width: 320, height: 240, timebaseDenominator: 30, timebaseNumerator: 1, declaredFrameCount: 20))
        let read = try reader.readAll()
        #expect(read.map(\.data) == frames.map(\.data))
        #expect(read.map(\.pts) == Array(0..<20).map(Int64.init))
        #expect(try reader.next() == nil)
    }

    @Test func streamingWriterProducesTheSameFile() throws {
        let frames = try Self.encodedPattern(count: 10)
        var whole = try IVFWriter(width: 320, height: 240)
        var streaming = try IVFWriter(width: 320, height: 240)
        var file: [UInt8] = []
        for (n, frame) in frames.enumerated() {
            try whole.append(frame.data, pts: Int64(n))
            try streaming.append(IVFFrame(data: frame.data, pts: Int64(n)))
            file += streaming.takeBytes()
        }
        file.replaceSubrange(0..<32, with: streaming.headerBytes())
        #expect(file == whole.bytes)
        #expect(streaming.takeBytes().isEmpty)
    }

    @Test(.enabled(if: IVFTests.hasFFprobe, "ffprobe is not installed: cannot check IVFWriter output against an external reader"))
    func ffprobeSeesVP8AtTheRightSize() throws {
        let frames = try Self.encodedPattern(count: 30, width: 640, height: 360)
        var writer = try IVFWriter(width: 640, height: 360, timebaseNumerator: 1, timebaseDenominator: 30)
        for (n, frame) in frames.enumerated() { try writer.append(frame.data, pts: Int64(n)) }
        let dir = try ExternalTool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("pattern.ivf").path
        try Data(writer.bytes).write(to: URL(fileURLWithPath: path))

        let json = try ExternalTool.run("ffprobe", ["-v", "error", "-count_frames", "-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json", path])
        struct Probe: Decodable {
            struct Stream: Decodable { var codec_name: String; var width: Int; var height: Int; var nb_read_frames: String? }
            var streams: [Stream]
        }
        let probe = try JSONDecoder().decode(Probe.self, from: Data(json.utf8))
        let stream = try #require(probe.streams.first, "ffprobe output: \(json)")
        #expect(stream.codec_name == "vp8")
        #expect(stream.width == 640 && stream.height == 360)
        #expect(stream.nb_read_frames == "30")

        // Our reader reads the file back from disk unchanged.
        var reader = try IVFReader(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(try reader.readAll().map(\.data) == frames.map(\.data))
    }

    @Test(.enabled(if: IVFTests.hasFFmpeg, "ffmpeg is not installed: cannot generate an IVF file with libvpx via ffmpeg"))
    func decodesEveryFrameOfAnFFmpegFile() throws {
        let dir = try ExternalTool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.ivf").path
        try ExternalTool.run("ffmpeg", ["-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", "1", "-c:v", "libvpx", "-b:v", "300k", path])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var reader = try IVFReader(bytes: bytes)
        #expect(reader.header.fourcc == "VP80")
        #expect(reader.header.width == 320 && reader.header.height == 240)
        let frames = try reader.readAll()
        #expect(frames.count == 30)
        #expect(frames.map(\.pts) == frames.map(\.pts).sorted())
        let decoder = try VP8Decoder()
        var pictures = 0
        for frame in frames {
            if let image = try decoder.decode(frame.data) {
                #expect(image.width == 320 && image.height == 240)
                // testsrc is colourful: plenty of distinct luma values, not a blank picture.
                #expect(Set(image.y).count > 50)
                pictures += 1
            }
        }
        // ffmpeg's libvpx wrapper may emit an alt-ref (hidden) frame; every visible one decodes.
        #expect(pictures >= 29)
    }

    @Test func hostileFilesGiveTypedErrors() throws {
        let frames = try Self.encodedPattern(count: 3)
        var writer = try IVFWriter(width: 320, height: 240)
        for (n, frame) in frames.enumerated() { try writer.append(frame.data, pts: Int64(n)) }
        let good = writer.bytes
        // Every truncation: a clean cut at a frame boundary reads fewer frames; any other cut is `.truncated`.
        var boundaries: Set<Int> = [32]
        var offset = 32
        for frame in frames { offset += 12 + frame.data.count; boundaries.insert(offset) }
        for length in 0..<good.count {
            let cut = Array(good.prefix(length))
            do {
                var reader = try IVFReader(bytes: cut)
                let read = try reader.readAll()
                #expect(boundaries.contains(length), "cut at \(length) read \(read.count) frames without error")
            } catch {
                guard case .truncated = error else { Issue.record("cut at \(length): \(error)"); continue }
                #expect(!boundaries.contains(length))
            }
        }
        var bad = good
        bad[0] = UInt8(ascii: "X")
        #expect(throws: MediaFileError.badSignature(what: "IVF DKIF", offset: 0)) { try IVFReader(bytes: bad) }
        bad = good
        bad[6] = 8; bad[7] = 0 // header size 8
        #expect(throws: MediaFileError.self) { try IVFReader(bytes: bad) }
        // A frame header claiming 4 GiB is refused before any allocation.
        bad = good
        bad.replaceSubrange(32..<36, with: [0xFF, 0xFF, 0xFF, 0xFF])
        var reader = try IVFReader(bytes: bad)
        #expect(throws: MediaFileError.tooLarge(what: "IVF frame", size: 0xFFFF_FFFF, limit: 16 << 20)) { try reader.next() }
        // Random bytes after a valid header never trap.
        var rng = SplitMix64(seed: 0x1F)
        for _ in 0..<500 {
            let data = Array(good.prefix(32)) + rng.bytes(Int.random(in: 0...200, using: &rng))
            var r = try IVFReader(bytes: data)
            _ = try? r.readAll()
        }
        for _ in 0..<200 { _ = try? IVFReader(bytes: rng.bytes(Int.random(in: 0...64, using: &rng))) }
        #expect(throws: MediaFileError.self) { try IVFWriter(width: 70_000, height: 10) }
        #expect(throws: MediaFileError.self) { try IVFWriter(width: 10, height: 10, fourcc: "VP8") }
    }
}
