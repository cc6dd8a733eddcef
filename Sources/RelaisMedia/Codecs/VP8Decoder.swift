import CVPX

/// A libvpx VP8 decoder producing ``I420Frame``s (planes copied out of libvpx's buffers, so the
/// result outlives the next decode).
///
/// Corrupt or truncated input throws ``CodecError`` (libvpx validates the bitstream; nothing here
/// traps on input). After an error the decoder keeps going; the next keyframe resynchronises it.
/// Not thread-safe and not `Sendable`: own it from one task or actor.
public final class VP8Decoder {
    /// Compressed frames larger than this are rejected before reaching libvpx.
    public static let maxFrameBytes = 16 << 20

    /// Keyframes announcing a larger picture are rejected before libvpx allocates for them
    /// (VP8's 14-bit sizes would otherwise allow 16383x16383 from a few hostile bytes).
    public let maxWidth: Int
    public let maxHeight: Int

    private let ctx: UnsafeMutablePointer<vpx_codec_ctx_t>

    public init(maxWidth: Int = 4096, maxHeight: Int = 4096) throws(CodecError) {
        self.maxWidth = maxWidth
        self.maxHeight = maxHeight
        ctx = .allocate(capacity: 1)
        ctx.initialize(to: vpx_codec_ctx_t())
        var cfg = vpx_codec_dec_cfg_t(threads: 1, w: 0, h: 0)
        let err = vpx_codec_dec_init_ver(ctx, vpx_codec_vp8_dx(), &cfg, 0, VPX_DECODER_ABI_VERSION)
        guard err == VPX_CODEC_OK else {
            let error = CodecError.vpx("vpx_codec_dec_init", err, ctx)
            ctx.deallocate()
            throw error
        }
    }

    deinit {
        vpx_codec_destroy(ctx)
        ctx.deinitialize(count: 1)
        ctx.deallocate()
    }

    /// Decodes one compressed frame. Returns nil when libvpx accepted the data but produced no
    /// picture (VP8 always shows a picture per frame, except for frames marked not shown).
    public func decode(_ data: [UInt8]) throws(CodecError) -> I420Frame? {
        guard !data.isEmpty else { throw .invalidArgument("empty VP8 frame") }
        guard data.count <= Self.maxFrameBytes else {
            throw .invalidArgument("VP8 frame of \(data.count) bytes exceeds \(Self.maxFrameBytes)")
        }
        // VP8 keyframe: 3-byte frame tag with bit 0 clear, start code 9d 01 2a, then 14-bit width and height.
        if data.count >= 10, data[0] & 1 == 0, data[3] == 0x9D, data[4] == 0x01, data[5] == 0x2A {
            let width = Int(data[6]) | Int(data[7] & 0x3F) << 8
            let height = Int(data[8]) | Int(data[9] & 0x3F) << 8
            guard width <= maxWidth, height <= maxHeight else {
                throw .invalidArgument("VP8 keyframe of \(width)x\(height) exceeds the decoder's \(maxWidth)x\(maxHeight) limit")
            }
        }
        let ctx = self.ctx
        let err = data.withUnsafeBufferPointer { buffer in
            vpx_codec_decode(ctx, buffer.baseAddress, UInt32(buffer.count), nil, 0)
        }
        guard err == VPX_CODEC_OK else {
            // Drain whatever might be queued so the next call starts clean.
            var iter: vpx_codec_iter_t? = nil
            while vpx_codec_get_frame(ctx, &iter) != nil {}
            throw .vpx("vpx_codec_decode", err, ctx)
        }
        var iter: vpx_codec_iter_t? = nil
        var result: I420Frame? = nil
        while let image = vpx_codec_get_frame(ctx, &iter) {
            result = try Self.copy(image.pointee)
        }
        return result
    }

    /// Copies a decoded picture into tightly packed planes, honouring libvpx's strides.
    static func copy(_ image: vpx_image_t) throws(CodecError) -> I420Frame {
        let width = Int(image.d_w), height = Int(image.d_h)
        guard image.fmt == VPX_IMG_FMT_I420, width > 0, height > 0,
              image.x_chroma_shift == 1, image.y_chroma_shift == 1,
              let py = image.planes.0, let pu = image.planes.1, let pv = image.planes.2
        else {
            throw .invalidArgument("unexpected decoded image format \(image.fmt.rawValue) \(width)x\(height)")
        }
        var frame = I420Frame(width: width, height: height)
        let cw = frame.chromaWidth, ch = frame.chromaHeight
        let sy = Int(image.stride.0), su = Int(image.stride.1), sv = Int(image.stride.2)
        guard sy >= width, su >= cw, sv >= cw else {
            throw .invalidArgument("decoded image strides \(sy)/\(su)/\(sv) narrower than \(width)x\(height)")
        }
        func copyPlane(_ src: UnsafeMutablePointer<UInt8>, stride: Int, into dst: inout [UInt8], width: Int, height: Int) {
            dst.withUnsafeMutableBufferPointer { d in
                for row in 0..<height {
                    (d.baseAddress! + row * width).update(from: src + row * stride, count: width)
                }
            }
        }
        copyPlane(py, stride: sy, into: &frame.y, width: width, height: height)
        copyPlane(pu, stride: su, into: &frame.u, width: cw, height: ch)
        copyPlane(pv, stride: sv, into: &frame.v, width: cw, height: ch)
        return frame
    }
}
