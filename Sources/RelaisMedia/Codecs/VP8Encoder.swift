import CVPX

/// One compressed VP8 frame as produced by ``VP8Encoder``.
public struct EncodedFrame: Sendable, Equatable {
    public var data: [UInt8]
    public var isKeyframe: Bool

    public init(data: [UInt8], isKeyframe: Bool) {
        self.data = data
        self.isKeyframe = isKeyframe
    }
}

/// A libvpx VP8 encoder configured for real-time WebRTC sending: one pass, CBR, no lag (every
/// input frame comes out immediately), error resilient, keyframes only on the first frame, on
/// request, or after ``maxKeyframeInterval`` frames, and no frame dropping (so every captured frame
/// reaches the receiver and a frame counter in the picture stays contiguous).
///
/// Timestamps (`pts`) are in 90 kHz ticks, the RTP clock for video: frame `n` at 30 fps is
/// `n * 3000`. Rate control uses them, so they must advance at the real frame rate.
///
/// Not thread-safe and not `Sendable`: own it from one task or actor.
public final class VP8Encoder {
    public let width: Int
    public let height: Int
    public let fps: Int
    public private(set) var bitrateKbps: Int
    /// Frames between automatic keyframes (`kf_max_dist`).
    public static let maxKeyframeInterval: UInt32 = 3000
    /// The 90 kHz RTP clock used for `pts`.
    public static let clockRate: Int32 = 90_000
    /// `VPX_ENCODER_ABI_VERSION` is `(15 + VPX_CODEC_ABI_VERSION + VPX_EXT_RATECTRL_ABI_VERSION)`;
    /// Swift cannot import a macro summing three terms, so it is recomputed here from the two
    /// importable macros, exactly as vpx_encoder.h defines it (25 for libvpx 1.12).
    static let encoderABIVersion: Int32 = 15 + Int32(VPX_CODEC_ABI_VERSION) + Int32(VPX_EXT_RATECTRL_ABI_VERSION)

    private let ctx: UnsafeMutablePointer<vpx_codec_ctx_t>
    private let cfg: UnsafeMutablePointer<vpx_codec_enc_cfg_t>
    private var image = vpx_image_t()
    private let frameDuration: UInt

    /// - Parameters:
    ///   - cpuUsed: `VP8E_SET_CPUUSED`, -16...16; larger magnitude is faster and lower quality
    ///     (WebRTC uses -6 on desktop, -12 on slow devices).
    ///   - threads: `g_threads`; 1 suits a load generator running many encoders.
    public init(width: Int, height: Int, fps: Int, bitrateKbps: Int, cpuUsed: Int = -8, threads: Int = 1) throws(CodecError) {
        guard (16...16384).contains(width), (16...16384).contains(height) else {
            throw .invalidArgument("size \(width)x\(height) outside 16...16384")
        }
        guard (1...240).contains(fps) else { throw .invalidArgument("fps \(fps) outside 1...240") }
        guard (10...100_000).contains(bitrateKbps) else { throw .invalidArgument("bitrate \(bitrateKbps) kbps outside 10...100000") }
        guard (-16...16).contains(cpuUsed), (1...16).contains(threads) else {
            throw .invalidArgument("cpuUsed \(cpuUsed) or threads \(threads) out of range")
        }
        self.width = width
        self.height = height
        self.fps = fps
        self.bitrateKbps = bitrateKbps
        self.frameDuration = UInt(Self.clockRate) / UInt(fps)

        cfg = .allocate(capacity: 1)
        cfg.initialize(to: vpx_codec_enc_cfg_t())
        ctx = .allocate(capacity: 1)
        ctx.initialize(to: vpx_codec_ctx_t())

        var err = vpx_codec_enc_config_default(vpx_codec_vp8_cx(), cfg, 0)
        guard err == VPX_CODEC_OK else {
            let error = CodecError.vpx("vpx_codec_enc_config_default", err, nil)
            cfg.deallocate(); ctx.deallocate()
            throw error
        }
        cfg.pointee.g_w = UInt32(width)
        cfg.pointee.g_h = UInt32(height)
        cfg.pointee.g_timebase = vpx_rational(num: 1, den: Self.clockRate)
        cfg.pointee.g_threads = UInt32(threads)
        cfg.pointee.g_pass = VPX_RC_ONE_PASS
        cfg.pointee.g_lag_in_frames = 0
        cfg.pointee.g_error_resilient = vpx_codec_er_flags_t(VPX_ERROR_RESILIENT_DEFAULT)
        cfg.pointee.rc_end_usage = VPX_CBR
        cfg.pointee.rc_target_bitrate = UInt32(bitrateKbps)
        cfg.pointee.rc_dropframe_thresh = 0
        cfg.pointee.rc_resize_allowed = 0
        // WebRTC's libvpx_vp8_encoder values.
        cfg.pointee.rc_min_quantizer = 2
        cfg.pointee.rc_max_quantizer = 56
        cfg.pointee.rc_undershoot_pct = 100
        cfg.pointee.rc_overshoot_pct = 15
        cfg.pointee.rc_buf_initial_sz = 500
        cfg.pointee.rc_buf_optimal_sz = 600
        cfg.pointee.rc_buf_sz = 1000
        cfg.pointee.kf_mode = VPX_KF_AUTO
        cfg.pointee.kf_min_dist = 0
        cfg.pointee.kf_max_dist = Self.maxKeyframeInterval

        err = vpx_codec_enc_init_ver(ctx, vpx_codec_vp8_cx(), cfg, 0, Self.encoderABIVersion)
        guard err == VPX_CODEC_OK else {
            let error = CodecError.vpx("vpx_codec_enc_init", err, ctx)
            cfg.deallocate(); ctx.deallocate()
            throw error
        }
        // From here deinit owns ctx/cfg.
        // A keyframe may use up to optimal buffer (600 ms) x 0.5 x fps / 10 percent of the per-frame
        // budget, at least 300% (WebRTC's MaxIntraTarget): 900% at 30 fps.
        let maxIntraPct = UInt32(max(300, 600 * fps / 20))
        let controls: [(String, vpx_codec_err_t)] = [
            ("VP8E_SET_CPUUSED", vpx_codec_control_VP8E_SET_CPUUSED(ctx, Int32(VP8E_SET_CPUUSED.rawValue), Int32(cpuUsed))),
            ("VP8E_SET_NOISE_SENSITIVITY", vpx_codec_control_VP8E_SET_NOISE_SENSITIVITY(ctx, Int32(VP8E_SET_NOISE_SENSITIVITY.rawValue), 0)),
            ("VP8E_SET_STATIC_THRESHOLD", vpx_codec_control_VP8E_SET_STATIC_THRESHOLD(ctx, Int32(VP8E_SET_STATIC_THRESHOLD.rawValue), 1)),
            ("VP8E_SET_TOKEN_PARTITIONS", vpx_codec_control_VP8E_SET_TOKEN_PARTITIONS(ctx, Int32(VP8E_SET_TOKEN_PARTITIONS.rawValue), threads > 1 ? 1 : 0)),
            ("VP8E_SET_MAX_INTRA_BITRATE_PCT", vpx_codec_control_VP8E_SET_MAX_INTRA_BITRATE_PCT(ctx, Int32(VP8E_SET_MAX_INTRA_BITRATE_PCT.rawValue), maxIntraPct)),
        ]
        for (name, code) in controls where code != VPX_CODEC_OK {
            throw .vpx(name, code, ctx)
        }
        // vpx_img_wrap fills format, sizes, bit depth and chroma shifts without allocating when given
        // a non-null buffer; the placeholder plane pointers it derives are replaced by the frame's own
        // planes (and strides) around each vpx_codec_encode call, then cleared.
        _ = vpx_img_wrap(&image, VPX_IMG_FMT_I420, UInt32(width), UInt32(height), 1, UnsafeMutablePointer(bitPattern: 1))
        image.planes = (nil, nil, nil, nil)
    }

    deinit {
        vpx_codec_destroy(ctx)
        ctx.deinitialize(count: 1)
        ctx.deallocate()
        cfg.deinitialize(count: 1)
        cfg.deallocate()
    }

    /// Changes the target bitrate for the following frames (`vpx_codec_enc_config_set`).
    public func setBitrate(kbps: Int) throws(CodecError) {
        guard (10...100_000).contains(kbps) else { throw .invalidArgument("bitrate \(kbps) kbps outside 10...100000") }
        cfg.pointee.rc_target_bitrate = UInt32(kbps)
        let err = vpx_codec_enc_config_set(ctx, cfg)
        guard err == VPX_CODEC_OK else { throw .vpx("vpx_codec_enc_config_set", err, ctx) }
        bitrateKbps = kbps
    }

    /// Encodes one frame. With no lag and no frame dropping this returns exactly one frame in
    /// practice; the array form follows libvpx's packet API.
    /// - Parameter pts: presentation time in 90 kHz ticks, increasing.
    public func encode(_ frame: I420Frame, pts: Int64, forceKeyframe: Bool = false) throws(CodecError) -> [EncodedFrame] {
        guard frame.width == width, frame.height == height, frame.isWellFormed else {
            throw .invalidArgument("frame \(frame.width)x\(frame.height) does not match encoder \(width)x\(height) or has wrong plane sizes")
        }
        let flags: vpx_enc_frame_flags_t = forceKeyframe ? vpx_enc_frame_flags_t(VPX_EFLAG_FORCE_KF) : 0
        let ctx = self.ctx
        let duration = frameDuration
        let chromaStride = Int32(frame.chromaWidth)
        let lumaStride = Int32(width)
        // The planes are only borrowed for the duration of vpx_codec_encode: with g_lag_in_frames = 0
        // libvpx copies the picture into its own buffers before returning.
        let err: vpx_codec_err_t = frame.y.withUnsafeBufferPointer { y in
            frame.u.withUnsafeBufferPointer { u in
                frame.v.withUnsafeBufferPointer { v in
                    image.planes.0 = UnsafeMutablePointer(mutating: y.baseAddress)
                    image.planes.1 = UnsafeMutablePointer(mutating: u.baseAddress)
                    image.planes.2 = UnsafeMutablePointer(mutating: v.baseAddress)
                    image.stride.0 = lumaStride
                    image.stride.1 = chromaStride
                    image.stride.2 = chromaStride
                    let result = vpx_codec_encode(ctx, &image, pts, duration, flags, UInt(VPX_DL_REALTIME))
                    image.planes = (nil, nil, nil, nil)
                    return result
                }
            }
        }
        guard err == VPX_CODEC_OK else { throw .vpx("vpx_codec_encode", err, ctx) }

        var out: [EncodedFrame] = []
        var iter: vpx_codec_iter_t? = nil
        while let packet = vpx_codec_get_cx_data(ctx, &iter) {
            guard packet.pointee.kind == VPX_CODEC_CX_FRAME_PKT else { continue }
            let f = packet.pointee.data.frame
            guard let buf = f.buf, f.sz > 0 else { continue }
            let bytes = [UInt8](UnsafeRawBufferPointer(start: buf, count: f.sz))
            out.append(EncodedFrame(data: bytes, isKeyframe: f.flags & vpx_codec_frame_flags_t(VPX_FRAME_IS_KEY) != 0))
        }
        return out
    }
}
