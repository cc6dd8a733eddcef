#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A sine tone in 20 ms frames of interleaved 16-bit PCM at 48 kHz, phase-continuous across frames
/// (no clicks at frame boundaries), the same signal on every channel.
public struct ToneGenerator: Sendable {
    public static let sampleRate = 48_000
    public static let samplesPerFrame = 960

    public let frequency: Double
    /// Peak level as a fraction of full scale (0...1).
    public let amplitude: Double
    public let channels: Int
    private var phase: Double = 0

    public init(frequency: Double = 440, amplitude: Double = 0.25, channels: Int = 1) {
        self.frequency = frequency
        self.amplitude = min(1, max(0, amplitude))
        self.channels = max(1, channels)
    }

    /// The next 20 ms: 960 x channels samples.
    public mutating func nextFrame() -> [Int16] {
        var out = [Int16](repeating: 0, count: Self.samplesPerFrame * channels)
        let step = 2 * Double.pi * frequency / Double(Self.sampleRate)
        let peak = amplitude * Double(Int16.max)
        for i in 0..<Self.samplesPerFrame {
            let sample = Int16((sin(phase) * peak).rounded())
            for c in 0..<channels { out[i * channels + c] = sample }
            phase += step
            if phase >= 2 * Double.pi { phase -= 2 * Double.pi }
        }
        return out
    }
}
