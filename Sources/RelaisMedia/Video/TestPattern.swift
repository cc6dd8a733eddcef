/// A synthetic moving camera image that carries a 64-bit frame counter and a 64-bit capture
/// timestamp (microseconds) which a receiver can read back after lossy VP8 compression.
///
/// Layout (a pure function of width and height, so ``read(_:)`` needs nothing but the frame):
/// - A band at the top holds ``bitCount`` = 152 square luma cells, row-major from the top-left:
///   an 8-bit start marker (`0xB2`), the frame counter (64 bits, most significant first), the
///   capture time (64 bits), then a CRC-16/CCITT-FALSE over those 16 payload bytes. A 1 bit is
///   luma 225, a 0 bit luma 30; chroma in the band is neutral (128). Unused cells at the end of the
///   last band row, and the rest of the band's width, are mid-grey.
/// - The cell edge is `width / 40` rounded down to a multiple of 8 (at least 8: 32 px at 1280
///   wide, 8 px at 320), shrunk (down to 4) only when the band would take more than half the
///   height. Edges on multiples of 4/8 keep every cell flat inside VP8's 4x4 transform blocks.
/// - Below the band a diagonal luma sawtooth with bars and coloured chroma bars translates 4 px
///   (2 chroma px) left per frame, so an encoder produces genuine motion-compensated inter frames.
/// - With ``noise``, fresh pseudo-random luma noise (uniform, ±24 levels) covers the moving area
///   of every frame, a picture hard enough that VP8's CBR rate control spends any realistic
///   target bitrate (an encoder that is not application-limited, for congestion control tests).
///   The band stays noise-free, so the counter still reads back after compression. Each row takes
///   a window of a precomputed noise table at an offset hashed from the frame number and the row,
///   so rows and frames never repeat one another in a way motion search could exploit.
///
/// Reading averages the centre half of each cell, thresholds at 127.5, checks the marker and the
/// CRC, and if the CRC fails retries once with the least certain bit flipped. A frame that does not
/// verify reads as nil, never as a wrong number (up to the CRC-16's 2^-16 chance with the marker).
public struct TestPattern: Sendable {
    public let width: Int
    public let height: Int
    /// Whether the moving area carries per-frame luma noise.
    public let noise: Bool

    /// Start marker + 64 + 64 payload bits + 16 CRC bits.
    public static let bitCount = 8 + 64 + 64 + 16
    static let marker: UInt8 = 0xB2
    static let blackLevel: UInt8 = 30
    static let whiteLevel: UInt8 = 225
    static let greyLevel: UInt8 = 128
    /// Luma pixels the moving area shifts per frame (even, so chroma moves a whole pixel too).
    static let shiftPerFrame = 4
    static let lumaPeriod = 256
    /// Noise amplitude in luma levels: the noise is uniform in -amplitude...amplitude.
    static let noiseAmplitude = 24
    /// Distinct row offsets into the noise table (a power of two).
    static let noisePeriod = 1 << 15

    let layout: Layout
    private let baseY: [UInt8]
    private let baseU: [UInt8]
    private let baseV: [UInt8]
    /// With noise: `baseY` minus the amplitude (16...199), and the noise table biased by the
    /// amplitude (0...48), so that a pixel is their sum (16...247) and eight pixels add as one
    /// UInt64 without carries between bytes. Both empty without noise.
    private let lowBaseY: [UInt8]
    private let noiseTable: [UInt8]

    /// A pattern for frames of this size. Sizes below 160x120 are accepted but not guaranteed to
    /// survive compression (the band gets small); sizes below 16x16 are clamped up.
    /// - Parameter noise: fresh luma noise in the moving area of every frame (see the type's
    ///   documentation); the band is never noisy.
    public init(width: Int, height: Int, noise: Bool = false) {
        self.width = max(16, width)
        self.height = max(16, height)
        self.noise = noise
        self.layout = Layout(width: self.width, height: self.height)
        let period = Self.lumaPeriod
        let baseY = (0..<(self.width + period)).map { i in
            // Sawtooth 40...199 plus 32-px bars of +24: smooth areas and sharp edges to track.
            let saw = 40 + (i % period) * 160 / period
            let bar = ((i / 32) % 2) * 24
            return UInt8(saw + bar)
        }
        self.baseY = baseY
        if noise {
            let amplitude = UInt8(Self.noiseAmplitude)
            lowBaseY = baseY.map { $0 - amplitude }
            var state: UInt32 = 0x9E37_79B9
            noiseTable = (0..<(Self.noisePeriod + self.width)).map { _ in
                // xorshift32; the high bits are the better ones.
                state ^= state << 13
                state ^= state >> 17
                state ^= state << 5
                return UInt8((UInt64(state) * UInt64(2 * Self.noiseAmplitude + 1)) >> 32)
            }
        } else {
            lowBaseY = []
            noiseTable = []
        }
        let cw = (self.width + 1) / 2, cperiod = period / 2
        baseU = (0..<(cw + cperiod)).map { (i: Int) -> UInt8 in UInt8(80 + ((i / 16) % 4) * 32) }
        baseV = (0..<(cw + cperiod)).map { (i: Int) -> UInt8 in
            let bars: Int = ((i / 32) % 2) * 64 + ((i / 8) % 2) * 16
            return UInt8(176 - bars)
        }
    }

    /// A new frame showing `frame` and `captureMicros`.
    public func render(frame: UInt64, captureMicros: UInt64) -> I420Frame {
        var out = I420Frame(width: width, height: height)
        render(into: &out, frame: frame, captureMicros: captureMicros)
        return out
    }

    /// Draws into an existing frame without allocating when it already has this pattern's size
    /// (otherwise it is replaced by a frame of the right size).
    public func render(into out: inout I420Frame, frame: UInt64, captureMicros: UInt64) {
        if out.width != width || out.height != height || !out.isWellFormed {
            out = I420Frame(width: width, height: height)
        }
        let bits = Self.encodeBits(frame: frame, captureMicros: captureMicros)
        let cell = layout.cell, perRow = layout.cellsPerRow
        let bandHeight = min(layout.bandHeight, out.height) // only below 160x120 can the band not fit
        let w = width, h = height, cw = out.chromaWidth, ch = out.chromaHeight
        let shift = Int((frame % UInt64(Self.lumaPeriod)) &* UInt64(Self.shiftPerFrame)) % Self.lumaPeriod

        baseY.withUnsafeBufferPointer { base in
            out.y.withUnsafeMutableBufferPointer { y in
                // Band: one memset per cell per pixel row.
                for row in 0..<bandHeight {
                    let line = UnsafeMutableBufferPointer(rebasing: y[(row * w)..<(row * w + w)])
                    line.update(repeating: Self.greyLevel)
                    let cellRow = row / cell
                    for col in 0..<perRow {
                        let index = cellRow * perRow + col
                        guard index < bits.count else { break }
                        let level = bits[index] ? Self.whiteLevel : Self.blackLevel
                        UnsafeMutableBufferPointer(rebasing: line[(col * cell)..<(col * cell + cell)]).update(repeating: level)
                    }
                }
                // Moving area: each row is a shifted window of the base row (with noise: below).
                if !noise {
                    for row in bandHeight..<h {
                        let start = (shift + (row - bandHeight) / 2) % Self.lumaPeriod
                        let dst = y.baseAddress! + row * w
                        dst.update(from: base.baseAddress! + start, count: w)
                    }
                }
            }
        }
        if noise {
            renderNoisyArea(into: &out.y, frame: frame, bandHeight: bandHeight, shift: shift)
        }
        let chromaBand = min(ch, (bandHeight + 1) / 2)
        let cshift = shift / 2
        Self.fillChroma(&out.u, base: baseU, width: cw, height: ch, band: chromaBand, shift: cshift)
        Self.fillChroma(&out.v, base: baseV, width: cw, height: ch, band: chromaBand, shift: cshift)
    }

    /// The moving area with noise: each row is the shifted window of `lowBaseY` plus a window of
    /// the noise table, added eight bytes at a time (no byte overflows: 199 + 48 < 256).
    private func renderNoisyArea(into plane: inout [UInt8], frame: UInt64, bandHeight: Int, shift: Int) {
        let w = width
        let frameSeed = (frame &+ 1) &* 0x9E37_79B9_7F4A_7C15
        lowBaseY.withUnsafeBytes { base in
            noiseTable.withUnsafeBytes { table in
                plane.withUnsafeMutableBytes { y in
                    for row in bandHeight..<height {
                        let start = (shift + (row - bandHeight) / 2) % Self.lumaPeriod
                        // SplitMix64's finaliser over (frame, row): an unrelated offset per row and frame.
                        var z = frameSeed ^ (UInt64(row) &* 0xBF58_476D_1CE4_E5B9)
                        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                        z ^= z >> 31
                        let noiseStart = Int(truncatingIfNeeded: z) & (Self.noisePeriod - 1)
                        let src = base.baseAddress! + start
                        let add = table.baseAddress! + noiseStart
                        let dst = y.baseAddress! + row * w
                        var x = 0
                        while x + 8 <= w {
                            let sum = src.loadUnaligned(fromByteOffset: x, as: UInt64.self)
                                &+ add.loadUnaligned(fromByteOffset: x, as: UInt64.self)
                            dst.storeBytes(of: sum, toByteOffset: x, as: UInt64.self)
                            x += 8
                        }
                        while x < w {
                            dst.storeBytes(
                                of: src.load(fromByteOffset: x, as: UInt8.self) &+ add.load(fromByteOffset: x, as: UInt8.self),
                                toByteOffset: x, as: UInt8.self)
                            x += 1
                        }
                    }
                }
            }
        }
    }

    private static func fillChroma(_ plane: inout [UInt8], base: [UInt8], width: Int, height: Int, band: Int, shift: Int) {
        let period = lumaPeriod / 2
        base.withUnsafeBufferPointer { base in
            plane.withUnsafeMutableBufferPointer { p in
                UnsafeMutableBufferPointer(rebasing: p[0..<(band * width)]).update(repeating: greyLevel)
                for row in band..<height {
                    let start = (shift + (row - band) / 2) % period
                    (p.baseAddress! + row * width).update(from: base.baseAddress! + start, count: width)
                }
            }
        }
    }

    /// Reads back the frame counter and capture time, or nil when the frame carries no pattern
    /// or the read does not verify.
    public static func read(_ frame: I420Frame) -> (frame: UInt64, captureMicros: UInt64)? {
        guard let result = readDetailed(frame) else { return nil }
        return (result.frame, result.captureMicros)
    }

    /// The read plus its weakest cell's distance from the threshold (in luma levels; 97.5 means
    /// perfect) and whether a single-bit correction was needed.
    static func readDetailed(_ frame: I420Frame) -> (frame: UInt64, captureMicros: UInt64, margin: Double, corrected: Bool)? {
        guard frame.width >= 16, frame.height >= 16, frame.isWellFormed else { return nil }
        let layout = Layout(width: frame.width, height: frame.height)
        let cell = layout.cell, perRow = layout.cellsPerRow, w = frame.width
        guard layout.bandHeight <= frame.height else { return nil }
        let inset = cell / 4, inner = cell - 2 * inset
        let threshold = (Double(whiteLevel) + Double(blackLevel)) / 2
        var bits = [Bool](repeating: false, count: bitCount)
        var margins = [Double](repeating: 0, count: bitCount)
        frame.y.withUnsafeBufferPointer { y in
            for index in 0..<bitCount {
                let x0 = (index % perRow) * cell + inset, y0 = (index / perRow) * cell + inset
                var sum = 0
                for row in y0..<(y0 + inner) {
                    let base = row * w + x0
                    for x in 0..<inner { sum += Int(y[base + x]) }
                }
                let mean = Double(sum) / Double(inner * inner)
                bits[index] = mean > threshold
                margins[index] = abs(mean - threshold)
            }
        }
        let margin = margins.min() ?? 0
        if let decoded = decodeBits(bits) {
            return (decoded.0, decoded.1, margin, false)
        }
        // One retry with the least certain bit flipped (CRC-16/CCITT has Hamming distance 4 here).
        guard let weakest = margins.indices.min(by: { margins[$0] < margins[$1] }) else { return nil }
        bits[weakest].toggle()
        if let decoded = decodeBits(bits) {
            return (decoded.0, decoded.1, margins.filter { $0 != margins[weakest] }.min() ?? 0, true)
        }
        return nil
    }

    // MARK: Bits

    static func encodeBits(frame: UInt64, captureMicros: UInt64) -> [Bool] {
        var bytes: [UInt8] = [marker]
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: frame >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: captureMicros >> UInt64(shift))) }
        let crc = crc16(bytes[1...])
        bytes.append(UInt8(crc >> 8))
        bytes.append(UInt8(crc & 0xFF))
        var bits: [Bool] = []
        bits.reserveCapacity(bitCount)
        for byte in bytes {
            for bit in stride(from: 7, through: 0, by: -1) { bits.append((byte >> UInt8(bit)) & 1 == 1) }
        }
        return bits
    }

    static func decodeBits(_ bits: [Bool]) -> (UInt64, UInt64)? {
        guard bits.count == bitCount else { return nil }
        var bytes = [UInt8](repeating: 0, count: bitCount / 8)
        for (i, bit) in bits.enumerated() where bit { bytes[i / 8] |= 0x80 >> UInt8(i % 8) }
        guard bytes[0] == marker else { return nil }
        let crc = UInt16(bytes[17]) << 8 | UInt16(bytes[18])
        guard crc16(bytes[1..<17]) == crc else { return nil }
        var frame: UInt64 = 0, micros: UInt64 = 0
        for i in 1...8 { frame = frame << 8 | UInt64(bytes[i]) }
        for i in 9...16 { micros = micros << 8 | UInt64(bytes[i]) }
        return (frame, micros)
    }

    /// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor).
    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0xFFFF
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }

    // MARK: Layout

    struct Layout: Sendable, Equatable {
        let cell: Int
        let cellsPerRow: Int
        let rows: Int
        var bandHeight: Int { rows * cell }

        init(width: Int, height: Int) {
            var cell = max(8, (width / 40) / 8 * 8)
            while true {
                let perRow = max(1, width / cell)
                let rows = (TestPattern.bitCount + perRow - 1) / perRow
                if rows * cell <= height / 2 || cell <= 4 {
                    self.cell = cell
                    self.cellsPerRow = perRow
                    self.rows = rows
                    return
                }
                cell -= 4
            }
        }
    }
}
