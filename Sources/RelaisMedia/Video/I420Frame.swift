/// A planar YUV 4:2:0 picture (the layout libvpx calls `VPX_IMG_FMT_I420`).
///
/// Planes are tightly packed: `y` is `width * height` bytes with stride `width`; `u` and `v` are
/// `chromaWidth * chromaHeight` bytes with stride `chromaWidth`, where the chroma size rounds up
/// (`(width + 1) / 2` by `(height + 1) / 2`) so odd sizes are representable.
///
/// Values are stored as-is (no range conversion). ``init(width:height:)`` fills studio-range black:
/// Y = 16, U = V = 128.
public struct I420Frame: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var y: [UInt8]
    public var u: [UInt8]
    public var v: [UInt8]

    public var chromaWidth: Int { (width + 1) / 2 }
    public var chromaHeight: Int { (height + 1) / 2 }

    /// A black frame (Y = 16, U = V = 128). Sizes below 1 are clamped to 1.
    public init(width: Int, height: Int) {
        let w = max(1, width), h = max(1, height)
        self.width = w
        self.height = h
        let chroma = ((w + 1) / 2) * ((h + 1) / 2)
        self.y = [UInt8](repeating: 16, count: w * h)
        self.u = [UInt8](repeating: 128, count: chroma)
        self.v = [UInt8](repeating: 128, count: chroma)
    }

    /// Wraps existing planes. Returns nil when a plane's size does not match the dimensions.
    public init?(width: Int, height: Int, y: [UInt8], u: [UInt8], v: [UInt8]) {
        guard width > 0, height > 0 else { return nil }
        let chroma = ((width + 1) / 2) * ((height + 1) / 2)
        guard y.count == width * height, u.count == chroma, v.count == chroma else { return nil }
        self.width = width
        self.height = height
        self.y = y
        self.u = u
        self.v = v
    }

    /// Whether the plane sizes still match the dimensions (planes are `var` and can be replaced).
    public var isWellFormed: Bool {
        y.count == width * height && u.count == chromaWidth * chromaHeight && v.count == chromaWidth * chromaHeight
    }
}
