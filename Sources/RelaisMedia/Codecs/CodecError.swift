import CVPX
import COpus

/// An error from a codec wrapper. libvpx and libopus failures carry the library's own error
/// string (`vpx_codec_err_to_string` / `vpx_codec_error_detail`, `opus_strerror`).
public enum CodecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Arguments rejected before reaching the library (size, bitrate, PCM length, ...).
    case invalidArgument(String)
    /// libvpx returned an error. `code` is the `vpx_codec_err_t` raw value.
    case vpx(operation: String, code: Int32, message: String)
    /// libopus returned an error. `code` is the negative `OPUS_*` error code.
    case opus(operation: String, code: Int32, message: String)

    public var description: String {
        switch self {
        case .invalidArgument(let why):
            return "invalid argument: \(why)"
        case .vpx(let operation, let code, let message):
            return "libvpx \(operation) failed (\(code)): \(message)"
        case .opus(let operation, let code, let message):
            return "libopus \(operation) failed (\(code)): \(message)"
        }
    }

    /// Builds a `.vpx` error from a return code, adding the context's detail string when there is one.
    static func vpx(_ operation: String, _ err: vpx_codec_err_t, _ ctx: UnsafeMutablePointer<vpx_codec_ctx_t>?) -> CodecError {
        var message = String(cString: vpx_codec_err_to_string(err))
        if let ctx, let detail = vpx_codec_error_detail(ctx) {
            message += ": " + String(cString: detail)
        }
        return .vpx(operation: operation, code: Int32(bitPattern: err.rawValue), message: message)
    }

    static func opus(_ operation: String, _ code: Int32) -> CodecError {
        .opus(operation: operation, code: code, message: String(cString: opus_strerror(code)))
    }
}
