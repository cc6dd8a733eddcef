import Foundation
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

    @Test(arguments: sizes)
    func noisyPatternKeepsTheBandAndNoisesTheMovingArea(width: Int, height: Int) throws {
        let plain = TestPattern(width: width, height: height)
        let noisy = TestPattern(width: width, height: height, noise: true)
        #expect(noisy.noise && !plain.noise)
        let band = min(plain.layout.bandHeight, height) * width
        var previous: I420Frame?
        for n in UInt64(0)..<4 {
            let a = plain.render(frame: n, captureMicros: n * 7)
            let b = noisy.render(frame: n, captureMicros: n * 7)
            #expect(TestPattern.read(b)?.frame == n)
            // The band and the chroma are untouched; below the band every pixel is within ±24 of
            // the plain picture, and on average about 12 away.
            #expect(a.y[..<band] == b.y[..<band])
            #expect(a.u == b.u && a.v == b.v)
            var total = 0, worst = 0
            for i in band..<a.y.count {
                let d = abs(Int(a.y[i]) - Int(b.y[i]))
                total += d
                worst = max(worst, d)
            }
            let mean = Double(total) / Double(a.y.count - band)
            #expect(worst <= TestPattern.noiseAmplitude)
            #expect(mean > 10 && mean < 14, "mean deviation \(mean)")
            // Deterministic, and render(into:) agrees.
            #expect(noisy.render(frame: n, captureMicros: n * 7) == b)
            var reused = previous ?? I420Frame(width: width, height: height)
            noisy.render(into: &reused, frame: n, captureMicros: n * 7)
            #expect(reused == b)
            previous = b
        }
    }

    /// The noise is fresh every frame: the next frame's moving area is not this one's shifted by
    /// the pattern's motion (which would let the encoder predict it).
    @Test func noiseChangesEveryFrame() {
        let noisy = TestPattern(width: 320, height: 240, noise: true)
        let a = noisy.render(frame: 10, captureMicros: 0)
        let b = noisy.render(frame: 11, captureMicros: 0)
        var same = 0, shiftedSame = 0, count = 0
        for row in 120..<240 {
            for x in 0..<300 {
                count += 1
                if a.y[row * 320 + x] == b.y[row * 320 + x] { same += 1 }
                if a.y[row * 320 + x + 4] == b.y[row * 320 + x] { shiftedSame += 1 }
            }
        }
        // Independent uniform noise of 49 values: about 2% equal by chance.
        #expect(Double(same) / Double(count) < 0.06)
        #expect(Double(shiftedSame) / Double(count) < 0.06)
    }

    @Test func noisyRenderingIsFast() {
        let noisy = TestPattern(width: 1280, height: 720, noise: true)
        let plain = TestPattern(width: 1280, height: 720)
        var frame = I420Frame(width: 1280, height: 720)
        func time(_ pattern: TestPattern) -> Double {
            let clock = ContinuousClock()
            let start = clock.now
            for n in UInt64(0)..<30 { pattern.render(into: &frame, frame: n, captureMicros: n) }
            let elapsed = clock.now - start
            return Double(elapsed.components.seconds) * 1000 / 30 + Double(elapsed.components.attoseconds) / 1e15 / 30
        }
        let plainMs = time(plain), noisyMs = time(noisy)
        print("TestPattern 1280x720 render: plain \(String(format: "%.2f", plainMs)) ms, noisy \(String(format: "%.2f", noisyMs)) ms per frame")
        // Generous even for a debug build on a slow machine: 30 fps needs well under 33 ms.
        #expect(noisyMs < 30, "\(noisyMs) ms per noisy 1280x720 frame")
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
