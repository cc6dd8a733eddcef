/// Character classes of the SDP grammar (RFC 8866 §9), used to refuse what a parser downstream
/// could read differently: whatever the relay copies from one peer's SDP into another's must match
/// these before it is written.
public enum SDPGrammar {
    /// Line types whose values are `text` or `byte-string` in RFC 8866 §9 (session name,
    /// information, e-mail, phone, key, attributes), the only places a horizontal tab may appear.
    public static let textLineTypes: Set<Character> = ["s", "i", "e", "p", "k", "a"]

    /// Whether a scalar may appear inside an SDP line. RFC 8866 §9 `byte-string` excludes NUL, CR
    /// and LF; the relay also refuses the other C0 controls (HTAB only where `tab`), DEL, the C1
    /// controls and the Unicode line and paragraph separators, which some parsers treat as line ends.
    public static func isAllowed(_ scalar: Unicode.Scalar, tab: Bool) -> Bool {
        switch scalar.value {
        case 0x09: tab
        case 0x00..<0x20, 0x7F, 0x80...0x9F, 0x2028, 0x2029: false
        default: true
        }
    }

    /// `isAllowed` for every scalar of a line, read from its UTF-8 (valid, as every Swift String's
    /// is): C0 controls and DEL are single bytes, the C1 controls are 0xC2 0x80-0x9F and U+2028/9
    /// are 0xE2 0x80 0xA8/0xA9, so no scalar needs decoding.
    public static func isAllowed(utf8 bytes: some Sequence<UInt8>, tab: Bool) -> Bool {
        var previous: UInt8 = 0
        var beforePrevious: UInt8 = 0
        for byte in bytes {
            switch byte {
            case 0x09: if !tab { return false }
            case 0x00..<0x20, 0x7F: return false
            case 0x80...0x9F where previous == 0xC2: return false
            case 0xA8...0xA9 where previous == 0x80 && beforePrevious == 0xE2: return false
            default: break
            }
            beforePrevious = previous
            previous = byte
        }
        return true
    }

    /// RFC 8866 §9 token-char: `%x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E`.
    public static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x21, 0x23...0x27, 0x2A...0x2B, 0x2D...0x2E, 0x30...0x39, 0x41...0x5A, 0x5E...0x7E: true
        default: false
        }
    }

    /// A non-empty RFC 8866 token.
    public static func isToken(_ text: some StringProtocol) -> Bool {
        !text.utf8.isEmpty && text.utf8.allSatisfy(isTokenByte)
    }

    /// Printable ASCII and spaces only (no tab): what the relay accepts in a value it copies verbatim
    /// into another peer's SDP, such as a codec's `a=fmtp` parameters.
    public static func isVisibleText(_ text: some StringProtocol) -> Bool {
        text.utf8.allSatisfy { (0x20...0x7E).contains($0) }
    }

    /// RFC 8839 §5.4 ice-char: ALPHA / DIGIT / "+" / "/".
    public static func isICEString(_ text: some StringProtocol) -> Bool {
        text.utf8.allSatisfy { b in
            (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) || (0x30...0x39).contains(b) || b == 0x2B || b == 0x2F
        }
    }
}
