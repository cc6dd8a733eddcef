import CVPX

/// One compressed VP8 frame as produced by ``VP8Encoder``.
public struct EncodedFrame: Sendable, Equatable {
    public var data: [UInt8]
    public var isKeyframe: Bool
    /// The frame's temporal layer (TID of RFC 7741 §4.2: 0 is the base layer), or nil when the
    /// encoder sends a single layer (the payload descriptor then carries no temporal fields).
    public var temporalLayer: UInt8?
    /// The layer sync bit (Y of RFC 7741 §4.2): the frame references only base layer (TL0) frames or
    /// the latest keyframe, so a receiver may switch up to `temporalLayer` at this frame. True for
    /// keyframes and TL0 frames; meaningful only with a `temporalLayer`.
    public var layerSync: Bool

    public init(data: [UInt8], isKeyframe: Bool, temporalLayer: UInt8? = nil, layerSync: Bool = false) {
        self.data = data
        self.isKeyframe = isKeyframe
        self.temporalLayer = temporalLayer
        self.layerSync = layerSync
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
/// With ``temporalLayers`` 2 or 3 the stream is temporally scalable as browsers send it under
/// simulcast (L1T2, L1T3): libvpx's per-layer rate control (`ts_*` in the configuration, layer
/// targets split as libwebrtc does: 60/100% of the total for two layers, 40/60/100% for three,
/// cumulative) and per-frame reference and update flags, so that dropping the top layer, or the
/// top two, leaves a decodable stream. The repeating patterns, from each keyframe:
///
/// ```
///  position       0     1     2     3
///  L1T3 layer    TL0   TL2   TL1   TL2
///   references   LAST  LAST  LAST  LAST+GOLDEN
///   updates      LAST  -     GOLDEN  -
///   sync (Y)     yes   yes   yes   no (depends on the TL1 frame in GOLDEN)
///  L1T2 layer    TL0   TL1
///   references   LAST  LAST
///   updates      LAST  -
///   sync (Y)     yes   yes
/// ```
///
/// LAST only ever holds TL0 frames (or the keyframe) and GOLDEN only TL1 frames (or the keyframe);
/// the alternate reference is never used. Frames above TL0 also leave the entropy context alone.
/// A keyframe (the first frame, a forced one, or one libvpx decides on) restarts the pattern: it
/// is reported as TL0 and the next frame takes position 1.
///
/// Not thread-safe and not `Sendable`: own it from one task or actor.
public final class VP8Encoder {
    public let width: Int
    public let height: Int
    public let fps: Int
    public private(set) var bitrateKbps: Int
    /// Temporal layers: 1 (no temporal scalability), 2 (L1T2) or 3 (L1T3).
    public let temporalLayers: Int
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
    /// The temporal pattern's frames (empty with one layer).
    private let pattern: [TemporalFrameConfig]
    /// Position in `pattern` of the next frame.
    private var patternPosition = 0
    /// No frame encoded yet: the next one will be a keyframe.
    private var atStart = true

    /// - Parameters:
    ///   - cpuUsed: `VP8E_SET_CPUUSED`, -16...16; larger magnitude is faster and lower quality
    ///     (WebRTC uses -6 on desktop, -12 on slow devices).
    ///   - threads: `g_threads`; 1 suits a load generator running many encoders.
    ///   - congestionControlled: the sender follows a congestion controller, so rate control may
    ///     skip frames to hold a falling target (`rc_dropframe_thresh` 30) and keyframes are capped
    ///     at three frames' budget (libwebrtc's floor) instead of nine: a shallow queue on the path
    ///     drops the tail of a larger one.
    ///   - temporalLayers: 1, 2 or 3 (see the type's documentation); anything else throws.
    public init(
        width: Int, height: Int, fps: Int, bitrateKbps: Int, cpuUsed: Int = -8, threads: Int = 1, temporalLayers: Int = 1,
        congestionControlled: Bool = false
    ) throws(CodecError) {
        guard (16...16384).contains(width), (16...16384).contains(height) else {
            throw .invalidArgument("size \(width)x\(height) outside 16...16384")
        }
        guard (1...240).contains(fps) else { throw .invalidArgument("fps \(fps) outside 1...240") }
        guard (10...100_000).contains(bitrateKbps) else { throw .invalidArgument("bitrate \(bitrateKbps) kbps outside 10...100000") }
        guard (-16...16).contains(cpuUsed), (1...16).contains(threads) else {
            throw .invalidArgument("cpuUsed \(cpuUsed) or threads \(threads) out of range")
        }
        guard (1...3).contains(temporalLayers) else {
            throw .invalidArgument("temporalLayers \(temporalLayers) outside 1...3")
        }
        self.width = width
        self.height = height
        self.fps = fps
        self.bitrateKbps = bitrateKbps
        self.frameDuration = UInt(Self.clockRate) / UInt(fps)
        self.temporalLayers = temporalLayers
        self.pattern = TemporalFrameConfig.pattern(layers: temporalLayers)

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
        // Under congestion control the encoder may drop a frame rather than overshoot a lowered
        // target (libwebrtc's 30); otherwise every captured frame is sent.
        cfg.pointee.rc_dropframe_thresh = congestionControlled ? 30 : 0
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
        if temporalLayers > 1 {
            Self.configureTemporalLayers(cfg, pattern: pattern, layers: temporalLayers, kbps: bitrateKbps)
        }

        err = vpx_codec_enc_init_ver(ctx, vpx_codec_vp8_cx(), cfg, 0, Self.encoderABIVersion)
        guard err == VPX_CODEC_OK else {
            let error = CodecError.vpx("vpx_codec_enc_init", err, ctx)
            cfg.deallocate(); ctx.deallocate()
            throw error
        }
        // From here deinit owns ctx/cfg.
        // A keyframe may use up to optimal buffer (600 ms) x 0.5 x fps / 10 percent of the per-frame
        // budget, at least 300% (WebRTC's MaxIntraTarget): 900% at 30 fps.
        let maxIntraPct = congestionControlled ? 300 : UInt32(max(300, 600 * fps / 20))
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

    /// Changes the target bitrate for the following frames (`vpx_codec_enc_config_set`); with
    /// temporal layers the per-layer targets follow in the same proportions.
    public func setBitrate(kbps: Int) throws(CodecError) {
        guard (10...100_000).contains(kbps) else { throw .invalidArgument("bitrate \(kbps) kbps outside 10...100000") }
        cfg.pointee.rc_target_bitrate = UInt32(kbps)
        if temporalLayers > 1 {
            Self.setLayerTargets(cfg, layers: temporalLayers, kbps: kbps)
        }
        let err = vpx_codec_enc_config_set(ctx, cfg)
        guard err == VPX_CODEC_OK else { throw .vpx("vpx_codec_enc_config_set", err, ctx) }
        bitrateKbps = kbps
    }

    /// Encodes one frame. With no lag and no frame dropping this returns exactly one frame in
    /// practice; the array form follows libvpx's packet API. With temporal layers each frame
    /// carries its ``EncodedFrame/temporalLayer`` and ``EncodedFrame/layerSync``.
    /// - Parameter pts: presentation time in 90 kHz ticks, increasing.
    public func encode(_ frame: I420Frame, pts: Int64, forceKeyframe: Bool = false) throws(CodecError) -> [EncodedFrame] {
        guard frame.width == width, frame.height == height, frame.isWellFormed else {
            throw .invalidArgument("frame \(frame.width)x\(frame.height) does not match encoder \(width)x\(height) or has wrong plane sizes")
        }
        var flags: vpx_enc_frame_flags_t = forceKeyframe ? vpx_enc_frame_flags_t(VPX_EFLAG_FORCE_KF) : 0
        let ctx = self.ctx
        // The pattern entry this frame is encoded with: a keyframe restarts the pattern, and a
        // keyframe refreshes every buffer whatever the flags, so it takes none.
        var config: TemporalFrameConfig? = nil
        if !pattern.isEmpty {
            let keyframe = forceKeyframe || atStart
            if keyframe { patternPosition = 0 }
            let entry = pattern[patternPosition]
            config = entry
            if !keyframe { flags |= entry.flags }
            let code = vpx_codec_control_VP8E_SET_TEMPORAL_LAYER_ID(
                ctx, Int32(VP8E_SET_TEMPORAL_LAYER_ID.rawValue), Int32(entry.layer))
            guard code == VPX_CODEC_OK else { throw .vpx("VP8E_SET_TEMPORAL_LAYER_ID", code, ctx) }
        }
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
            let isKeyframe = f.flags & vpx_codec_frame_flags_t(VPX_FRAME_IS_KEY) != 0
            if let config {
                // A keyframe libvpx chose on its own is still a fresh start, hence TL0 and sync.
                out.append(EncodedFrame(
                    data: bytes, isKeyframe: isKeyframe, temporalLayer: isKeyframe ? 0 : config.layer,
                    layerSync: isKeyframe || config.sync))
                if isKeyframe { patternPosition = 0 }
            } else {
                out.append(EncodedFrame(data: bytes, isKeyframe: isKeyframe))
            }
        }
        atStart = false
        if !pattern.isEmpty { patternPosition = (patternPosition + 1) % pattern.count }
        return out
    }

    // MARK: Temporal layers

    /// libwebrtc's split of the total bitrate between temporal layers, as cumulative targets in
    /// kbps (layer `i`'s entry is the rate of layers 0...i together): 60/100% for two layers,
    /// 40/60/100% for three, `[kbps]` for one.
    static func cumulativeLayerBitrates(kbps: Int, layers: Int) -> [Int] {
        switch layers {
        case 2: [max(1, kbps * 60 / 100), kbps]
        case 3: [max(1, kbps * 40 / 100), max(1, kbps * 60 / 100), kbps]
        default: [kbps]
        }
    }

    private static func configureTemporalLayers(
        _ cfg: UnsafeMutablePointer<vpx_codec_enc_cfg_t>, pattern: [TemporalFrameConfig], layers: Int, kbps: Int
    ) {
        cfg.pointee.ts_number_layers = UInt32(layers)
        cfg.pointee.ts_periodicity = UInt32(pattern.count)
        withUnsafeMutableBytes(of: &cfg.pointee.ts_layer_id) { raw in
            let ids = raw.bindMemory(to: UInt32.self)
            for index in ids.indices { ids[index] = 0 }
            for (index, entry) in pattern.enumerated() { ids[index] = UInt32(entry.layer) }
        }
        withUnsafeMutableBytes(of: &cfg.pointee.ts_rate_decimator) { raw in
            let decimators = raw.bindMemory(to: UInt32.self)
            for index in decimators.indices { decimators[index] = 1 }
            // Layer i runs at fps / 2^(layers - 1 - i): {2, 1} or {4, 2, 1}.
            for layer in 0..<layers { decimators[layer] = 1 << UInt32(layers - 1 - layer) }
        }
        setLayerTargets(cfg, layers: layers, kbps: kbps)
    }

    private static func setLayerTargets(_ cfg: UnsafeMutablePointer<vpx_codec_enc_cfg_t>, layers: Int, kbps: Int) {
        let targets = cumulativeLayerBitrates(kbps: kbps, layers: layers)
        withUnsafeMutableBytes(of: &cfg.pointee.ts_target_bitrate) { raw in
            let rates = raw.bindMemory(to: UInt32.self)
            for index in rates.indices { rates[index] = 0 }
            for (layer, rate) in targets.enumerated() { rates[layer] = UInt32(rate) }
        }
    }
}

/// One position of a temporal layer pattern: the layer, the libvpx reference/update flags and
/// whether the frame is a layer sync point (references nothing above TL0 but the keyframe).
struct TemporalFrameConfig: Equatable {
    var layer: UInt8
    var flags: vpx_enc_frame_flags_t
    var sync: Bool

    private static func flag(_ value: Int32) -> vpx_enc_frame_flags_t { vpx_enc_frame_flags_t(value) }

    /// TL0: references LAST only and updates LAST only.
    static let base = TemporalFrameConfig(
        layer: 0,
        flags: flag(VP8_EFLAG_NO_REF_GF) | flag(VP8_EFLAG_NO_REF_ARF) | flag(VP8_EFLAG_NO_UPD_GF)
            | flag(VP8_EFLAG_NO_UPD_ARF),
        sync: true)

    /// The frames of one period for `layers` temporal layers (empty for one layer).
    static func pattern(layers: Int) -> [TemporalFrameConfig] {
        let noUpdate = flag(VP8_EFLAG_NO_UPD_LAST) | flag(VP8_EFLAG_NO_UPD_GF) | flag(VP8_EFLAG_NO_UPD_ARF)
            | flag(VP8_EFLAG_NO_UPD_ENTROPY)
        // References LAST (the latest TL0 frame) only, updates nothing: droppable, and a sync point.
        func droppableOnBase(_ layer: UInt8) -> TemporalFrameConfig {
            TemporalFrameConfig(
                layer: layer, flags: flag(VP8_EFLAG_NO_REF_GF) | flag(VP8_EFLAG_NO_REF_ARF) | noUpdate, sync: true)
        }
        switch layers {
        case 2:
            return [base, droppableOnBase(1)]
        case 3:
            // TL1: references LAST only, updates GOLDEN only (what the following TL2 frame uses).
            let tl1 = TemporalFrameConfig(
                layer: 1,
                flags: flag(VP8_EFLAG_NO_REF_GF) | flag(VP8_EFLAG_NO_REF_ARF) | flag(VP8_EFLAG_NO_UPD_LAST)
                    | flag(VP8_EFLAG_NO_UPD_ARF) | flag(VP8_EFLAG_NO_UPD_ENTROPY),
                sync: true)
            // The second TL2 frame references LAST and GOLDEN (the TL1 frame): not a sync point.
            let tl2 = TemporalFrameConfig(layer: 2, flags: flag(VP8_EFLAG_NO_REF_ARF) | noUpdate, sync: false)
            return [base, droppableOnBase(2), tl1, tl2]
        default:
            return []
        }
    }
}
