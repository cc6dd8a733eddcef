import TestSupport
import Testing
@testable import RelaisMedia

@Suite struct TestPatternTests {
    static let sizes: [(Int, Int)] = [(160, 120), (176, 144), (320, 240), (321, 241), (640, 360), (1280, 720), (1920, 1080), (1280, 160), (160, 600)]

    @Test(arguments: sizes)
    func roundTripWithoutCompression(width: Int, height: Int) throws {
        let pattern = TestPattern(width: width, height: height)
        #expect(pattern.layout.bandHeight <= height / 2, "band \(pattern.layout.bandHeight) px of \(height)")
        let values: [(UInt64, UInt64)] = [(0, 0), (1, 33_333), (UInt64.max, UInt64.max), (0x0123_4567_89AB_CDEF, 1_700_000_000_123_456), (1 << 63, 1)]
        for (frame, micros) in values {
            let image = pattern.render(frame: frame, captureMicros: micros)
            #expect(image.width == width && image.height == height && image.isWellFormed)
            let read = try #require(TestPattern.read(image))
            #expect(read.frame == frame)
            #expect(read.captureMicros == micros)
        }
    }

    @Test func renderIntoReusesTheFrameAndMatchesRender() {
        let pattern = TestPattern(width: 320, height: 240)
        var frame = I420Frame(width: 320, height: 240)
        for n in UInt64(0)..<5 {
            pattern.render(into: &frame, frame: n, captureMicros: n * 1000)
            #expect(frame == pattern.render(frame: n, captureMicros: n * 1000))
        }
        // A frame of the wrong size is replaced.
        var wrong = I420Frame(width: 100, height: 100)
        pattern.render(into: &wrong, frame: 9, captureMicros: 9)
        #expect(wrong.width == 320 && wrong.height == 240)
        #expect(TestPattern.read(wrong)?.frame == 9)
    }

    @Test func pictureMovesBelowTheBandAndBandIsStableForEqualValues() {
        let pattern = TestPattern(width: 320, height: 240)
        let a = pattern.render(frame: 10, captureMicros: 5)
        let b = pattern.render(frame: 11, captureMicros: 5)
        let band = pattern.layout.bandHeight * 320
        #expect(a.y[band...] != b.y[band...], "the moving area must change between frames")
        #expect(a.u != b.u)
        // Frame 11's moving area is frame 10's shifted left by 4 px.
        let row = 200 * 320
        #expect(Array(a.y[(row + 4)..<(row + 320)]) == Array(b.y[row..<(row + 316)]))
    }

    @Test func framesWithoutAPatternReadAsNil() {
        #expect(TestPattern.read(I420Frame(width: 320, height: 240)) == nil)
        var rng = SplitMix64(seed: 7)
        for _ in 0..<50 {
            var noise = I420Frame(width: 320, height: 240)
            noise.y = rng.bytes(noise.y.count)
            #expect(TestPattern.read(noise) == nil)
        }
        var white = I420Frame(width: 640, height: 480)
        white.y = [UInt8](repeating: 235, count: white.y.count)
        #expect(TestPattern.read(white) == nil)
        // Malformed frames (planes not matching the size) and tiny frames never trap.
        var broken = I420Frame(width: 320, height: 240)
        broken.y = [1, 2, 3]
        #expect(TestPattern.read(broken) == nil)
        #expect(TestPattern.read(I420Frame(width: 2, height: 2)) == nil)
    }

    /// Flipping any one cell is corrected (CRC-16 single-bit correction on the weakest cell);
    /// flipping two cells hard never yields a wrong number.
    @Test func damagedCellsAreCorrectedOrRejectedNeverMisread() {
        let pattern = TestPattern(width: 320, height: 240)
        let layout = pattern.layout
        let original = pattern.render(frame: 123_456_789, captureMicros: 987_654_321)
        func invert(_ frame: inout I420Frame, cell index: Int, to level: UInt8? = nil) {
            let x0 = (index % layout.cellsPerRow) * layout.cell, y0 = (index / layout.cellsPerRow) * layout.cell
            for y in y0..<(y0 + layout.cell) {
                for x in x0..<(x0 + layout.cell) {
                    frame.y[y * 320 + x] = level ?? (frame.y[y * 320 + x] > 128 ? 110 : 146) // barely flipped
                }
            }
        }
        for index in 0..<TestPattern.bitCount {
            var damaged = original
            invert(&damaged, cell: index)
            let read = TestPattern.read(damaged)
            #expect(read?.frame == 123_456_789 && read?.captureMicros == 987_654_321, "cell \(index)")
        }
        var rng = SplitMix64(seed: 3)
        var rejected = 0
        for _ in 0..<300 {
            var damaged = original
            let a = Int.random(in: 0..<TestPattern.bitCount, using: &rng)
            var b = Int.random(in: 0..<TestPattern.bitCount, using: &rng)
            if b == a { b = (a + 1) % TestPattern.bitCount }
            for index in [a, b] {
                let white = damaged.y[((index / layout.cellsPerRow) * layout.cell + layout.cell / 2) * 320 + (index % layout.cellsPerRow) * layout.cell + layout.cell / 2] > 128
                invert(&damaged, cell: index, to: white ? 30 : 225)
            }
            if let read = TestPattern.read(damaged) {
                #expect(read.frame == 123_456_789 && read.captureMicros == 987_654_321)
            } else {
                rejected += 1
            }
        }
        #expect(rejected == 300, "two confidently wrong cells must be rejected")
    }

    @Test func crc16MatchesTheCCITTFalseCheckValue() {
        #expect(TestPattern.crc16(Array("123456789".utf8)[...]) == 0x29B1)
    }
}
