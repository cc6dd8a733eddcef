/// VISCA and VISCA-over-IP (Sony), sans-IO: framing, the commands and inquiries the cart uses,
/// reply parsing, and the mapping between the relay's units and the camera's.
///
/// VISCA-over-IP frames one VISCA packet per UDP datagram (camera port 52381) behind an 8-byte
/// big-endian header:
///
///     payload type (2) | payload length (2) | sequence number (4) | payload (1...16)
///
/// The VISCA packet is `8x ... FF`: an address byte (0x81: controller to camera 1, the only
/// address over IP), the message, and the 0xFF terminator, which appears nowhere else (numeric
/// values are spread over nibbles `0p 0q 0r 0s`). Replies start with `z0`, z = address + 8
/// (0x90 for camera 1); their second byte is `4y` (ACK), `5y` (completion, inquiry data
/// follows) or `6y` (error, code follows), y being the camera's command socket (1 or 2; 0 when
/// none was assigned).
///
/// Parsers treat their input as hostile: every malformation is a typed `VISCAParseError`, and
/// nothing traps.

// MARK: Framing

public enum VISCAPayloadType: UInt16, Sendable, CaseIterable {
    case command = 0x0100
    case inquiry = 0x0110
    case reply = 0x0111
    case deviceSettingCommand = 0x0120
    case controlCommand = 0x0200
    case controlReply = 0x0201
}

public enum VISCAParseError: Error, Sendable, Equatable {
    /// Fewer than 8 bytes: no complete VISCA-over-IP header.
    case truncatedHeader(length: Int)
    case unknownPayloadType(UInt16)
    /// The header's payload length disagrees with the bytes that follow it.
    case lengthMismatch(declared: Int, actual: Int)
    /// A payload that is empty or longer than VISCA's 16 bytes.
    case payloadLength(Int)
    /// A VISCA packet shorter than 3 bytes, or whose last byte is not 0xFF.
    case missingTerminator
    /// A 0xFF before the end of the packet.
    case embeddedTerminator(index: Int)
    /// A first byte that is not a reply header `z0` (z = 9...F).
    case invalidReplyHeader(UInt8)
    /// A second byte that is not `4y`, `5y` or `6y`, or a reply too long or short for its kind.
    case invalidReply
    /// Inquiry data of the wrong length for the inquiry.
    case inquiryDataLength(expected: Int, actual: Int)
    /// A byte of nibble-encoded data whose upper nibble is not 0.
    case invalidNibble(index: Int, byte: UInt8)
    /// A control reply other than `01`, `0F 01` or `0F 02`.
    case invalidControlReply
}

/// One VISCA-over-IP datagram.
public struct VISCAMessage: Sendable, Equatable {
    public static let headerLength = 8
    public static let maximumPayload = 16
    public static let defaultPort = 52381

    public var payloadType: VISCAPayloadType
    public var sequence: UInt32
    public var payload: [UInt8]

    public init(payloadType: VISCAPayloadType, sequence: UInt32, payload: [UInt8]) {
        self.payloadType = payloadType
        self.sequence = sequence
        self.payload = payload
    }

    /// Header then payload, big endian.
    public func encoded() -> [UInt8] {
        let type = payloadType.rawValue
        let length = UInt16(truncatingIfNeeded: payload.count)
        var bytes: [UInt8] = [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(length >> 8), UInt8(length & 0xFF),
                              UInt8(sequence >> 24), UInt8((sequence >> 16) & 0xFF), UInt8((sequence >> 8) & 0xFF), UInt8(sequence & 0xFF)]
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// Parses one datagram: a known payload type, a length matching the datagram, 1...16 bytes
    /// of payload (whose content is the payload type's parser's business).
    public init(parsing datagram: some Collection<UInt8>) throws(VISCAParseError) {
        let bytes = Array(datagram.prefix(Self.headerLength + Self.maximumPayload + 1))
        let total = datagram.count
        guard total >= Self.headerLength else { throw .truncatedHeader(length: total) }
        let rawType = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        guard let type = VISCAPayloadType(rawValue: rawType) else { throw .unknownPayloadType(rawType) }
        let declared = Int(bytes[2]) << 8 | Int(bytes[3])
        let actual = total - Self.headerLength
        guard declared == actual else { throw .lengthMismatch(declared: declared, actual: actual) }
        guard (1...Self.maximumPayload).contains(actual) else { throw .payloadLength(actual) }
        self.payloadType = type
        self.sequence = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
        self.payload = Array(bytes[Self.headerLength...])
    }
}

// MARK: Commands and inquiries

public enum VISCAPanDirection: UInt8, Sendable, CaseIterable {
    case left = 0x01, right = 0x02, stop = 0x03
}

public enum VISCATiltDirection: UInt8, Sendable, CaseIterable {
    case up = 0x01, down = 0x02, stop = 0x03
}

/// The VISCA commands the cart sends (payload type `command`). Encoding clamps every parameter
/// to its documented range, so no parameter byte can ever be 0xFF.
public enum VISCACommand: Sendable, Equatable {
    public static let panSpeeds: ClosedRange<UInt8> = 0x01...0x18
    public static let tiltSpeeds: ClosedRange<UInt8> = 0x01...0x17
    public static let zoomSpeeds: ClosedRange<UInt8> = 0...7
    public static let presets: ClosedRange<UInt8> = 0...0x7F

    /// Pan-tiltDrive: `81 01 06 01 VV WW 0p 0t FF`.
    case panTiltDrive(panSpeed: UInt8, tiltSpeed: UInt8, pan: VISCAPanDirection, tilt: VISCATiltDirection)
    /// Pan-tiltDrive AbsolutePosition: `81 01 06 02 VV WW 0Y 0Y 0Y 0Y 0Z 0Z 0Z 0Z FF`
    /// (positions signed 16-bit, two's complement over four nibbles).
    case panTiltAbsolute(panSpeed: UInt8, tiltSpeed: UInt8, pan: Int16, tilt: Int16)
    /// Pan-tiltDrive Home: `81 01 06 04 FF`.
    case panTiltHome
    /// Zoom Stop: `81 01 04 07 00 FF`.
    case zoomStop
    /// Zoom Tele (variable): `81 01 04 07 2p FF`, p = 0 (low) ... 7 (high).
    case zoomTele(speed: UInt8)
    /// Zoom Wide (variable): `81 01 04 07 3p FF`.
    case zoomWide(speed: UInt8)
    /// Zoom Direct: `81 01 04 47 0p 0q 0r 0s FF`.
    case zoomDirect(position: UInt16)
    /// Focus Auto / Manual: `81 01 04 38 02 FF` / `81 01 04 38 03 FF`.
    case focusAuto
    case focusManual
    /// Focus Direct: `81 01 04 48 0p 0q 0r 0s FF`.
    case focusDirect(position: UInt16)
    /// Memory Set / Recall: `81 01 04 3F 01 pp FF` / `81 01 04 3F 02 pp FF`.
    case presetSet(UInt8)
    case presetRecall(UInt8)

    /// The VISCA packet for camera `address` (1...7; 1 over IP).
    public func encoded(address: UInt8 = 1) -> [UInt8] {
        let header = 0x80 | (min(7, max(1, address)))
        let body: [UInt8]
        switch self {
        case .panTiltDrive(let vv, let ww, let pan, let tilt):
            body = [0x01, 0x06, 0x01, Self.clamp(vv, Self.panSpeeds), Self.clamp(ww, Self.tiltSpeeds), pan.rawValue, tilt.rawValue]
        case .panTiltAbsolute(let vv, let ww, let pan, let tilt):
            body = [0x01, 0x06, 0x02, Self.clamp(vv, Self.panSpeeds), Self.clamp(ww, Self.tiltSpeeds)]
                + VISCANibbles.encode(UInt16(bitPattern: pan)) + VISCANibbles.encode(UInt16(bitPattern: tilt))
        case .panTiltHome:
            body = [0x01, 0x06, 0x04]
        case .zoomStop:
            body = [0x01, 0x04, 0x07, 0x00]
        case .zoomTele(let p):
            body = [0x01, 0x04, 0x07, 0x20 | Self.clamp(p, Self.zoomSpeeds)]
        case .zoomWide(let p):
            body = [0x01, 0x04, 0x07, 0x30 | Self.clamp(p, Self.zoomSpeeds)]
        case .zoomDirect(let position):
            body = [0x01, 0x04, 0x47] + VISCANibbles.encode(position)
        case .focusAuto:
            body = [0x01, 0x04, 0x38, 0x02]
        case .focusManual:
            body = [0x01, 0x04, 0x38, 0x03]
        case .focusDirect(let position):
            body = [0x01, 0x04, 0x48] + VISCANibbles.encode(position)
        case .presetSet(let preset):
            body = [0x01, 0x04, 0x3F, 0x01, Self.clamp(preset, Self.presets)]
        case .presetRecall(let preset):
            body = [0x01, 0x04, 0x3F, 0x02, Self.clamp(preset, Self.presets)]
        }
        return [header] + body + [0xFF]
    }

    private static func clamp(_ value: UInt8, _ range: ClosedRange<UInt8>) -> UInt8 {
        min(range.upperBound, max(range.lowerBound, value))
    }
}

/// The inquiries the cart sends (payload type `inquiry`).
public enum VISCAInquiry: Sendable, Equatable, CaseIterable {
    /// Pan-tiltPosInq: `81 09 06 12 FF` -> `90 50 0w 0w 0w 0w 0z 0z 0z 0z FF`.
    case panTiltPosition
    /// CAM_ZoomPosInq: `81 09 04 47 FF` -> `90 50 0p 0q 0r 0s FF`.
    case zoomPosition

    public func encoded(address: UInt8 = 1) -> [UInt8] {
        let header = 0x80 | (min(7, max(1, address)))
        switch self {
        case .panTiltPosition: return [header, 0x09, 0x06, 0x12, 0xFF]
        case .zoomPosition: return [header, 0x09, 0x04, 0x47, 0xFF]
        }
    }

    /// Pan and tilt positions (signed) from a `panTiltPosition` completion's data.
    public static func panTilt(fromCompletionData data: [UInt8]) throws(VISCAParseError) -> (pan: Int16, tilt: Int16) {
        guard data.count == 8 else { throw .inquiryDataLength(expected: 8, actual: data.count) }
        let pan = try VISCANibbles.decode(data, at: 0)
        let tilt = try VISCANibbles.decode(data, at: 4)
        return (Int16(bitPattern: pan), Int16(bitPattern: tilt))
    }

    /// The zoom position from a `zoomPosition` completion's data.
    public static func zoom(fromCompletionData data: [UInt8]) throws(VISCAParseError) -> UInt16 {
        guard data.count == 4 else { throw .inquiryDataLength(expected: 4, actual: data.count) }
        return try VISCANibbles.decode(data, at: 0)
    }
}

/// 16-bit values over four bytes `0p 0q 0r 0s`, most significant nibble first.
public enum VISCANibbles {
    public static func encode(_ value: UInt16) -> [UInt8] {
        [UInt8(value >> 12), UInt8((value >> 8) & 0x0F), UInt8((value >> 4) & 0x0F), UInt8(value & 0x0F)]
    }

    public static func decode(_ bytes: [UInt8], at offset: Int) throws(VISCAParseError) -> UInt16 {
        guard offset >= 0, offset + 4 <= bytes.count else { throw .inquiryDataLength(expected: offset + 4, actual: bytes.count) }
        var value: UInt16 = 0
        for index in offset..<offset + 4 {
            let byte = bytes[index]
            guard byte & 0xF0 == 0 else { throw .invalidNibble(index: index, byte: byte) }
            value = value << 4 | UInt16(byte)
        }
        return value
    }
}

// MARK: Replies

/// VISCA error codes (`z0 6y ee FF`).
public enum VISCAErrorCode: Sendable, Equatable, Hashable {
    /// 01: message length error.
    case messageLength
    /// 02: syntax error.
    case syntax
    /// 03: command buffer full.
    case commandBufferFull
    /// 04: command canceled.
    case commandCanceled
    /// 05: no socket (to be canceled).
    case noSocket
    /// 41: command not executable.
    case notExecutable
    case other(UInt8)

    public init(code: UInt8) {
        switch code {
        case 0x01: self = .messageLength
        case 0x02: self = .syntax
        case 0x03: self = .commandBufferFull
        case 0x04: self = .commandCanceled
        case 0x05: self = .noSocket
        case 0x41: self = .notExecutable
        default: self = .other(code)
        }
    }

    public var code: UInt8 {
        switch self {
        case .messageLength: 0x01
        case .syntax: 0x02
        case .commandBufferFull: 0x03
        case .commandCanceled: 0x04
        case .noSocket: 0x05
        case .notExecutable: 0x41
        case .other(let code): code
        }
    }
}

/// A VISCA reply packet (payload type `reply`).
public enum VISCAReply: Sendable, Equatable {
    /// `z0 4y FF`: the command was accepted into socket y.
    case ack(socket: UInt8)
    /// `z0 5y FF` for a command; `z0 50 data... FF` for an inquiry.
    case completion(socket: UInt8, data: [UInt8])
    /// `z0 6y ee FF`.
    case error(socket: UInt8, VISCAErrorCode)

    public init(parsing packet: some Collection<UInt8>) throws(VISCAParseError) {
        let count = packet.count
        guard count <= VISCAMessage.maximumPayload else { throw .payloadLength(count) }
        let bytes = Array(packet)
        guard bytes.count >= 3, bytes[bytes.count - 1] == 0xFF else { throw .missingTerminator }
        if let index = bytes.dropLast().firstIndex(of: 0xFF) { throw .embeddedTerminator(index: index) }
        let header = bytes[0]
        guard header & 0x0F == 0, (0x9...0xF).contains(header >> 4) else { throw .invalidReplyHeader(header) }
        let socket = bytes[1] & 0x0F
        switch bytes[1] >> 4 {
        case 0x4:
            guard bytes.count == 3 else { throw .invalidReply }
            self = .ack(socket: socket)
        case 0x5:
            self = .completion(socket: socket, data: Array(bytes[2..<bytes.count - 1]))
        case 0x6:
            guard bytes.count == 4 else { throw .invalidReply }
            self = .error(socket: socket, VISCAErrorCode(code: bytes[2]))
        default:
            throw .invalidReply
        }
    }

    /// The reply's bytes for camera 1 (for tests and simulators).
    public func encoded(address: UInt8 = 1) -> [UInt8] {
        let header = UInt8((8 + min(7, max(1, address))) << 4)
        switch self {
        case .ack(let socket): return [header, 0x40 | (socket & 0x0F), 0xFF]
        case .completion(let socket, let data): return [header, 0x50 | (socket & 0x0F)] + data + [0xFF]
        case .error(let socket, let code): return [header, 0x60 | (socket & 0x0F), code.code, 0xFF]
        }
    }
}

/// VISCA-over-IP control messages (payload types `controlCommand` / `controlReply`).
public enum VISCAControl {
    /// RESET (`01`): resets the camera's expected sequence number.
    public static let reset: [UInt8] = [0x01]

    public enum Reply: Sendable, Equatable {
        /// `01`: acknowledges RESET.
        case ack
        /// `0F 01`: abnormality in the sequence number.
        case sequenceNumberError
        /// `0F 02`: abnormality in the message (payload type or length).
        case messageError

        public init(parsing payload: some Collection<UInt8>) throws(VISCAParseError) {
            switch Array(payload.prefix(3)) {
            case [0x01]: self = .ack
            case [0x0F, 0x01]: self = .sequenceNumberError
            case [0x0F, 0x02]: self = .messageError
            default: throw .invalidControlReply
            }
        }
    }
}

// MARK: Units

/// The mapping between the relay's units (degrees, magnification, velocities in [-1, 1]) and a
/// camera's VISCA units. MODEL-SPECIFIC: position units per degree, the zoom position for a
/// magnification (a nonlinear lens curve on real cameras), the focus range and the top speeds
/// differ between models; take them from the model's technical manual.
///
/// Defaults (Sony EVI-H100S-like): pan ±170° is ±0x0990 (2448) units, i.e. 14.4 units per
/// degree, for pan and tilt alike (-30° = 0xFE50, +90° = 0x0510); zoom 1x...12x spread
/// linearly over 0x0000...0x4000 (the optical range; replace with the model's lens table);
/// focus 0 (far) ... 1 (near) is 0x1000...0xF000; speeds 0x01...0x18 (pan), 0x01...0x17 (tilt),
/// 0...7 (zoom).
public struct VISCAUnits: Sendable, Equatable {
    /// A point of the zoom curve: `factor`x is VISCA zoom position `position`.
    public struct ZoomPoint: Sendable, Equatable {
        public var factor: Double
        public var position: UInt16
        public init(factor: Double, position: UInt16) {
            self.factor = factor
            self.position = position
        }
    }

    public var panUnitsPerDegree: Double
    public var tiltUnitsPerDegree: Double
    /// Piecewise linear, at least two points, increasing in factor and position.
    public var zoomCurve: [ZoomPoint]
    public var focusFar: UInt16
    public var focusNear: UInt16
    public var maxPanSpeed: UInt8
    public var maxTiltSpeed: UInt8
    public var maxZoomSpeed: UInt8

    public init(panUnitsPerDegree: Double = 2448.0 / 170.0, tiltUnitsPerDegree: Double = 2448.0 / 170.0,
                zoomCurve: [ZoomPoint] = [ZoomPoint(factor: 1, position: 0x0000), ZoomPoint(factor: 12, position: 0x4000)],
                focusFar: UInt16 = 0x1000, focusNear: UInt16 = 0xF000,
                maxPanSpeed: UInt8 = 0x18, maxTiltSpeed: UInt8 = 0x17, maxZoomSpeed: UInt8 = 7) {
        self.panUnitsPerDegree = panUnitsPerDegree
        self.tiltUnitsPerDegree = tiltUnitsPerDegree
        self.zoomCurve = zoomCurve.count >= 2 ? zoomCurve : [ZoomPoint(factor: 1, position: 0), ZoomPoint(factor: 12, position: 0x4000)]
        self.focusFar = focusFar
        self.focusNear = focusNear
        self.maxPanSpeed = min(maxPanSpeed, 0x18)
        self.maxTiltSpeed = min(maxTiltSpeed, 0x17)
        self.maxZoomSpeed = min(maxZoomSpeed, 7)
    }

    public func panUnits(degrees: Double) -> Int16 { Self.units(degrees * panUnitsPerDegree) }
    public func tiltUnits(degrees: Double) -> Int16 { Self.units(degrees * tiltUnitsPerDegree) }
    public func panDegrees(units: Int16) -> Double { Double(units) / panUnitsPerDegree }
    public func tiltDegrees(units: Int16) -> Double { Double(units) / tiltUnitsPerDegree }

    private static func units(_ value: Double) -> Int16 {
        guard value.isFinite else { return 0 }
        return Int16(min(Double(Int16.max), max(Double(Int16.min), value.rounded())))
    }

    /// The zoom position for a magnification (clamped to the curve's ends).
    public func zoomPosition(factor: Double) -> UInt16 {
        let first = zoomCurve[0], last = zoomCurve[zoomCurve.count - 1]
        guard factor.isFinite, factor > first.factor else { return first.position }
        guard factor < last.factor else { return last.position }
        for (a, b) in zip(zoomCurve, zoomCurve.dropFirst()) where factor <= b.factor && b.factor > a.factor {
            let t = (factor - a.factor) / (b.factor - a.factor)
            let value = Double(a.position) + t * (Double(b.position) - Double(a.position))
            return UInt16(min(65535, max(0, value.rounded())))
        }
        return last.position
    }

    /// The magnification for a zoom position (clamped to the curve's ends).
    public func zoomFactor(position: UInt16) -> Double {
        let first = zoomCurve[0], last = zoomCurve[zoomCurve.count - 1]
        guard position > first.position else { return first.factor }
        guard position < last.position else { return last.factor }
        for (a, b) in zip(zoomCurve, zoomCurve.dropFirst()) where position <= b.position && b.position > a.position {
            let t = (Double(position) - Double(a.position)) / (Double(b.position) - Double(a.position))
            return a.factor + t * (b.factor - a.factor)
        }
        return last.factor
    }

    /// The focus position for 0 (far) ... 1 (near).
    public func focusPosition(_ fraction: Double) -> UInt16 {
        let f = fraction.isFinite ? min(1, max(0, fraction)) : 0
        return UInt16((Double(focusFar) + f * (Double(focusNear) - Double(focusFar))).rounded())
    }

    /// A speed for |velocity| in (0, 1]: the velocity range is cut into `maxSpeed` equal
    /// buckets, so any nonzero velocity moves at least at speed 1 and 1.0 is the top speed.
    private static func speed(_ velocity: Double, buckets: UInt8) -> UInt8 {
        let magnitude = velocity.isFinite ? min(1, abs(velocity)) : 0
        return UInt8(min(Double(buckets), max(1, (magnitude * Double(buckets)).rounded(.up))))
    }

    /// Pan-tiltDrive for velocities in [-1, 1] (positive pan = right, positive tilt = up; 0 or
    /// non-finite = stop on that axis, whose speed byte is then the minimum, 0x01).
    public func drive(pan: Double, tilt: Double) -> VISCACommand {
        let panDirection: VISCAPanDirection = pan.isFinite && pan > 0 ? .right : pan.isFinite && pan < 0 ? .left : .stop
        let tiltDirection: VISCATiltDirection = tilt.isFinite && tilt > 0 ? .up : tilt.isFinite && tilt < 0 ? .down : .stop
        return .panTiltDrive(panSpeed: panDirection == .stop ? 1 : Self.speed(pan, buckets: maxPanSpeed),
                             tiltSpeed: tiltDirection == .stop ? 1 : Self.speed(tilt, buckets: maxTiltSpeed),
                             pan: panDirection, tilt: tiltDirection)
    }

    /// Zoom for a velocity in [-1, 1] (positive = tele): p = 0...maxZoomSpeed in equal buckets.
    public func zoom(_ velocity: Double) -> VISCACommand {
        guard velocity.isFinite, velocity != 0 else { return .zoomStop }
        let p = Self.speed(velocity, buckets: maxZoomSpeed + 1) - 1
        return velocity > 0 ? .zoomTele(speed: p) : .zoomWide(speed: p)
    }
}
