// The terminal side of `watch`: the alternate screen like `top`, frames redrawn in place, and the
// promise that whatever happens the operator gets their shell back as it was.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public enum Terminal {
    /// Switch to the alternate screen and hide the cursor (xterm private modes 1049 and 25).
    public static let enter = "\u{1B}[?1049h\u{1B}[?25l"
    /// Show the cursor and leave the alternate screen: the operator's scrollback comes back.
    public static let restore = "\u{1B}[?25h\u{1B}[?1049l"
    static let home = "\u{1B}[H"
    static let clearToEndOfLine = "\u{1B}[K"
    static let clearToEndOfScreen = "\u{1B}[J"

    public static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// Columns and rows of the terminal on `fd`, nil when it is not one.
    public static func size(_ fd: Int32 = 1) -> (columns: Int, rows: Int)? {
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return (Int(size.ws_col), Int(size.ws_row))
    }

    /// A frame redrawn in place: cursor home, each line cut to the width and cleared to its end,
    /// rows past the frame cleared; lines beyond the screen's height are left out (no scrolling).
    public static func frame(_ text: String, columns: Int?, rows: Int?) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        if let rows, rows > 0, lines.count > rows { lines = Array(lines.prefix(rows)) }
        var out = home
        for (index, line) in lines.enumerated() {
            out += columns.map { line.count > $0 ? String(line.prefix($0)) : line } ?? line
            out += clearToEndOfLine
            if index < lines.count - 1 { out += "\n" }  // OPOST stays on: the tty adds the CR
        }
        return out + clearToEndOfScreen
    }

    /// Writes all of `text` to `fd`, retrying short writes and EINTR. Safe from a signal handler
    /// when `text` was built beforehand (it only calls write(2)).
    public static func write(_ text: String, to fd: Int32 = 1) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { buffer in
                Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}

/// Keyboard input without line buffering or echo, so `q` quits `watch` at once. Ctrl-C still
/// raises SIGINT (ISIG stays on). The saved settings come back with `restore()`.
public final class RawKeyboard: @unchecked Sendable {
    // Written once in `init`, read by `restore()`; @unchecked because termios is a C struct.
    private let saved: termios?
    private let fd: Int32

    public init(fd: Int32 = 0) {
        self.fd = fd
        var settings = termios()
        guard isatty(fd) == 1, tcgetattr(fd, &settings) == 0 else {
            saved = nil
            return
        }
        saved = settings
        settings.c_lflag &= ~tcflag_t(ICANON | ECHO)
        withUnsafeMutableBytes(of: &settings.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        tcsetattr(fd, TCSANOW, &settings)
    }

    public var isActive: Bool { saved != nil }

    public func restore() {
        guard var settings = saved else { return }
        tcsetattr(fd, TCSANOW, &settings)
    }

    /// Blocks until a byte arrives; nil at end of input or on error.
    public func readByte() -> UInt8? {
        var byte: UInt8 = 0
        while true {
            let count = read(fd, &byte, 1)
            if count == 1 { return byte }
            if count < 0, errno == EINTR { continue }
            return nil
        }
    }
}
