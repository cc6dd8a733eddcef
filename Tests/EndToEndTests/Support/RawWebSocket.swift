import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A deliberately bare WebSocket client (RFC 6455) over a blocking POSIX socket, for tests that
/// must misbehave in ways a real client library will not: bind a chosen source address, shrink
/// its receive buffer and never read, or just sit there without joining.
///
/// Every blocking call runs on a Dispatch thread (never on the cooperative pool, which the
/// in-process server needs) and has a receive timeout, so a test fails instead of hanging.
final class RawWebSocket: @unchecked Sendable {
    // The descriptor is only used from one test task at a time.
    private let fd: Int32
    private var pending: [UInt8] = []

    enum Failure: Error, CustomStringConvertible {
        case system(String)
        case handshake(String)
        case closedBeforeFrame
        var description: String {
            switch self {
            case .system(let why): "socket: \(why)"
            case .handshake(let response): "handshake refused: \(response)"
            case .closedBeforeFrame: "connection ended before a whole frame"
            }
        }
    }

    /// What a read found: a frame, or the end of the TCP connection.
    enum Event: Equatable {
        case text(String)
        case close(code: Int?, reason: String)
        case other(opcode: UInt8)
        case ended
    }

    /// Connects to 127.0.0.1:`port` from `source` (any 127.x address on Linux loopback) and
    /// upgrades `path`. `receiveBuffer` shrinks the socket's receive buffer before connecting,
    /// which bounds the TCP window the server may fill.
    static func connect(port: Int, path: String = "/v1/signaling", source: String = "127.0.0.1", receiveBuffer: Int? = nil,
                        timeout: TimeInterval = 30) async throws -> RawWebSocket {
        try await blocking {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw Failure.system("socket: \(errno)") }
            let client = RawWebSocket(fd: fd)
            var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            if var size = receiveBuffer.map({ Int32(clamping: $0) }) {
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw Failure.system("bind \(source): \(errno)") }
            var remote = sockaddr_in()
            remote.sin_family = sa_family_t(AF_INET)
            remote.sin_port = UInt16(port).bigEndian
            inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
            let connected = withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw Failure.system("connect: \(errno)") }
            let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            try client.write(Array((
                "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8))
            // The response head, byte by byte up to the blank line (what follows is frames).
            var head: [UInt8] = []
            while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
                guard let byte = try client.readBytes(1).first else { throw Failure.handshake(String(decoding: head, as: UTF8.self)) }
                head.append(byte)
            }
            let response = String(decoding: head, as: UTF8.self)
            guard response.hasPrefix("HTTP/1.1 101") else { throw Failure.handshake(response) }
            return client
        }
    }

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit { close(fd) }

    /// Sends one masked text frame.
    func send(_ text: String) async throws {
        let frame = Self.frame(opcode: 0x1, payload: Array(text.utf8))
        try await Self.blocking { try self.write(frame) }
    }

    /// Sends `count` text frames in as few system calls as possible; returns how many left
    /// before the server closed the connection (MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE).
    func sendMany(_ text: String, count: Int) async -> Int {
        let frame = Self.frame(opcode: 0x1, payload: Array(text.utf8))
        return (try? await Self.blocking { () -> Int in
            let batch = 64
            var sent = 0
            while sent < count {
                let n = min(batch, count - sent)
                let bytes = Array([[UInt8]](repeating: frame, count: n).joined())
                do { try self.write(bytes) } catch { return sent }
                sent += n
            }
            return sent
        }) ?? 0
    }

    /// The next frame or the end of the connection (a read timeout throws).
    func next() async throws -> Event {
        try await Self.blocking { try self.readFrame() }
    }

    /// Reads until the server's close frame or the end of the connection, skipping other frames.
    /// A connection the server cut in the middle of a frame (its reaper closing a socket that could
    /// not take the close frame) ends like one cut between frames.
    func untilClose() async throws -> Event {
        try await Self.blocking {
            while true {
                let event: Event
                do {
                    event = try self.readFrame()
                } catch Failure.closedBeforeFrame {
                    return .ended
                }
                switch event {
                case .close, .ended: return event
                case .text, .other: continue
                }
            }
        }
    }

    /// Reads until a text frame containing `needle` (skipping others); nil if the connection ends first.
    func text(containing needle: String) async throws -> String? {
        try await Self.blocking {
            while true {
                switch try self.readFrame() {
                case .text(let text) where text.contains(needle): return text
                case .close, .ended: return nil
                default: continue
                }
            }
        }
    }

    func shutdown() {
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    // MARK: Framing (RFC 6455 §5.2)

    static func frame(opcode: UInt8, payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = [0x80 | opcode]
        let mask: [UInt8] = (0..<4).map { _ in UInt8.random(in: 0...255) }
        switch payload.count {
        case ..<126: frame.append(0x80 | UInt8(payload.count))
        case ..<65_536: frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default: frame += [0x80 | 127] + (0..<8).reversed().map { UInt8((payload.count >> ($0 * 8)) & 0xFF) }
        }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return frame
    }

    private func readFrame() throws -> Event {
        let header = try readBytes(2)
        guard header.count == 2 else { return .ended }
        let opcode = header[0] & 0x0F
        var length = Int(header[1] & 0x7F)
        if length == 126 {
            let b = try readBytes(2)
            guard b.count == 2 else { throw Failure.closedBeforeFrame }
            length = Int(b[0]) << 8 | Int(b[1])
        } else if length == 127 {
            let b = try readBytes(8)
            guard b.count == 8 else { throw Failure.closedBeforeFrame }
            length = b.reduce(0) { $0 << 8 | Int($1) }
        }
        let payload = try readBytes(length)
        guard payload.count == length else { throw Failure.closedBeforeFrame }
        switch opcode {
        case 0x1:
            return .text(String(decoding: payload, as: UTF8.self))
        case 0x8:
            let code = payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : nil
            return .close(code: code, reason: String(decoding: payload.dropFirst(2), as: UTF8.self))
        default:
            return .other(opcode: opcode)
        }
    }

    /// Up to `count` bytes: fewer only when the connection ended (EOF or reset).
    private func readBytes(_ count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count {
            if !pending.isEmpty {
                let take = min(count - out.count, pending.count)
                out += pending.prefix(take)
                pending.removeFirst(take)
                continue
            }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return out }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { return out }
                throw Failure.system("recv: \(errno == EAGAIN ? "timed out" : "\(errno)")")
            }
            pending = Array(buffer[0..<n])
        }
        return out
    }

    private func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure.system("send: \(errno)")
            }
            offset += n
        }
    }

    /// Runs a blocking call on a Dispatch thread.
    private static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }
}
