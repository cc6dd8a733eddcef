import TestSupport
import Foundation
import Testing
@testable import RelaisMedia

@Suite struct OggOpusReaderTests {
    static let hasFFmpeg = ExternalTool.find("ffmpeg") != nil

    /// Builds one Ogg page with a correct CRC.
    static func page(serial: UInt32 = 0x1234, sequence: UInt32, granule: Int64, flags: UInt8 = 0, lacing: [UInt8], body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = Array("OggS".utf8) + [0, flags]
        out.appendLE64(UInt64(bitPattern: granule))
        out.appendLE32(serial)
        out.appendLE32(sequence)
        out.appendLE32(0)
        out.append(UInt8(lacing.count))
        out += lacing
        out += body
        let crc = OggOpusReader.crc32(out, from: 0, to: out.count, crcField: 22)
        out.replaceSubrange(22..<26, with: [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)])
        return out
    }

    static func lacing(_ length: Int) -> [UInt8] {
        [UInt8](repeating: 255, count: length / 255) + [UInt8(length % 255)]
    }

    static let opusHead: [UInt8] = Array("OpusHead".utf8) + [1, 2, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0]

    /// OpusHead, OpusTags split over two pages, a page of another stream, audio with one packet spanning pages.
    static func handmadeStream() -> (file: [UInt8], packets: [[UInt8]]) {
        let tags: [UInt8] = Array("OpusTags".utf8) + [UInt8](repeating: 0x41, count: 300)
        let a = [UInt8](repeating: 1, count: 40), b = [UInt8](repeating: 2, count: 510), c = [UInt8](repeating: 3, count: 600), d = [UInt8](repeating: 4, count: 7)
        var file = page(sequence: 0, granule: 0, flags: 0x02, lacing: lacing(opusHead.count), body: opusHead)
        file += page(sequence: 1, granule: 0, lacing: [255], body: Array(tags[0..<255]))
        file += page(sequence: 2, granule: 0, flags: 0x01, lacing: lacing(tags.count - 255), body: Array(tags[255...]))
        file += page(serial: 99, sequence: 0, granule: 0, flags: 0x02, lacing: [3], body: [9, 9, 9])
        // a, b (510 = 255+255+0) complete; c starts (2 x 255 so far).
        file += page(sequence: 3, granule: 1920, lacing: lacing(a.count) + lacing(b.count) + [255, 255], body: a + b + Array(c[0..<510]))
        file += page(sequence: 4, granule: 2880, flags: 0x05, lacing: lacing(90) + lacing(d.count), body: Array(c[510...]) + d)
        return (file, [a, b, c, d])
    }

    @Test func reassemblesPacketsAcrossPages() throws {
        let (file, packets) = Self.handmadeStream()
        var reader = try OggOpusReader(bytes: file)
        #expect(reader.head == OpusHead(version: 1, channelCount: 2, preSkip: 312, inputSampleRate: 48_000, outputGain: 0, channelMappingFamily: 0))
        #expect(reader.serial == 0x1234)
        let read = try reader.readAll()
        #expect(read.map(\.data) == packets)
        // Only the last packet completed on a page carries that page's granule position.
        #expect(read.map(\.granulePosition) == [nil, 1920, nil, 2880])
        #expect(read.map(\.pageSequence) == [3, 3, 4, 4])
        #expect(read.map(\.isEndOfStream) == [false, false, true, true])
    }

    @Test func structuralErrorsAreTyped() throws {
        let (file, _) = Self.handmadeStream()
        // Flip one body byte: checksum mismatch.
        var bad = file
        bad[bad.count - 3] ^= 0x10
        var reader = try OggOpusReader(bytes: bad)
        #expect(throws: MediaFileError.self) { try reader.readAll() }
        // Missing OpusHead / OpusTags.
        let notOpus = Self.page(sequence: 0, granule: 0, flags: 0x02, lacing: [19], body: Array("OpusHeaX".utf8) + [UInt8](repeating: 1, count: 11))
        #expect(throws: MediaFileError.badSignature(what: "OpusHead", offset: 28)) { try OggOpusReader(bytes: notOpus) }
        let noTags = Self.page(sequence: 0, granule: 0, flags: 0x02, lacing: [19], body: Self.opusHead) + Self.page(sequence: 1, granule: 0, lacing: [4], body: [1, 2, 3, 4])
        #expect(throws: MediaFileError.self) { try OggOpusReader(bytes: noTags) }
        // A page sequence gap (a lost page).
        let head = Self.page(sequence: 0, granule: 0, flags: 0x02, lacing: [19], body: Self.opusHead)
        let tags = Self.page(sequence: 1, granule: 0, lacing: [8], body: Array("OpusTags".utf8))
        var gap = try OggOpusReader(bytes: head + tags + Self.page(sequence: 3, granule: 960, lacing: [2], body: [1, 2]))
        #expect(throws: MediaFileError.corrupt(what: "Ogg page sequence 3, expected 2", offset: head.count + tags.count)) { try gap.next() }
        // A continuation flag with nothing to continue, and a packet left open at the end.
        var orphan = try OggOpusReader(bytes: head + tags + Self.page(sequence: 2, granule: 960, flags: 0x01, lacing: [2], body: [1, 2]))
        #expect(throws: MediaFileError.self) { try orphan.next() }
        var open = try OggOpusReader(bytes: head + tags + Self.page(sequence: 2, granule: -1, lacing: [255], body: [UInt8](repeating: 0, count: 255)))
        #expect(throws: MediaFileError.truncated(what: "Ogg packet continued past the last page", offset: head.count + tags.count + 27 + 1 + 255)) { try open.next() }
        // Multichannel family 0 is invalid; unknown stream version is unsupported.
        var six = Self.opusHead
        six[9] = 6
        #expect(throws: MediaFileError.self) { try OggOpusReader(bytes: Self.page(sequence: 0, granule: 0, flags: 0x02, lacing: [19], body: six) + tags) }
        var v1 = head
        v1[4] = 1
        #expect(throws: MediaFileError.unsupported("Ogg stream structure version 1")) { try OggOpusReader(bytes: v1 + tags) }
    }

    @Test func everyTruncationAndRandomGarbageFailsCleanly() throws {
        let (file, packets) = Self.handmadeStream()
        var pageStarts: Set<Int> = [file.count]
        for i in 0..<(file.count - 3) where file[i] == 0x4F && file[i + 1] == 0x67 && file[i + 2] == 0x67 && file[i + 3] == 0x53 { pageStarts.insert(i) }
        for length in 0..<file.count {
            do {
                var reader = try OggOpusReader(bytes: Array(file.prefix(length)))
                let read = try reader.readAll()
                #expect(pageStarts.contains(length), "cut at \(length) inside a page read without error")
                #expect(Array(packets.prefix(read.count)) == read.map(\.data))
            } catch {
                // Cutting at a page start before the spanning packet ends is also a truncation.
                if case .truncated = error {} else { Issue.record("cut at \(length): \(error)") }
            }
        }
        var rng = SplitMix64(seed: 0x066)
        for _ in 0..<500 {
            var data = Array(file.prefix(Int.random(in: 0...file.count, using: &rng)))
            data += rng.bytes(Int.random(in: 0...300, using: &rng))
            if var reader = try? OggOpusReader(bytes: data) { _ = try? reader.readAll() }
            var flipped = file
            flipped[Int.random(in: 0..<flipped.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            if var reader = try? OggOpusReader(bytes: flipped) {
                #expect(throws: MediaFileError.self) { try reader.readAll() }
            }
        }
    }

    @Test(.enabled(if: OggOpusReaderTests.hasFFmpeg, "ffmpeg is not installed: cannot generate an Ogg Opus file with libopus via ffmpeg"))
    func decodesEveryPacketOfAnFFmpegFile() throws {
        let dir = try ExternalTool.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.opus").path
        try ExternalTool.run("ffmpeg", ["-v", "error", "-nostdin", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "libopus", "-b:a", "32k", path])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var reader = try OggOpusReader(bytes: bytes)
        #expect(reader.head.channelCount == 1)
        #expect(reader.head.preSkip > 0)
        let packets = try reader.readAll()
        #expect((50...52).contains(packets.count), "\(packets.count) packets")
        let decoder = try OpusDecoder(channels: reader.head.channelCount)
        var pcm: [Int16] = []
        for packet in packets { pcm += try decoder.decode(packet.data) }
        // The last granule marks the end of the audio: 1 s after the pre-skip.
        let end = try #require(packets.last?.granulePosition)
        #expect(end - Int64(reader.head.preSkip) == 48_000)
        #expect(pcm.count >= Int(end))
        let audio = pcm[reader.head.preSkip..<Int(end)]
        let rms = (audio.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(audio.count)).squareRoot()
        // ffmpeg's sine source is at 1/8 full scale: RMS about 4096 / sqrt 2.
        #expect(rms > 2000 && rms < 4000, "RMS \(rms)")
        #expect(packets.last?.isEndOfStream == true)
    }
}
