import Foundation

/// Times are stored as integer milliseconds since 1970: cheap to index and compare, and exact
/// on the way back (a `Date` read back equals one built from the same millisecond count).
enum StoredTime {
    /// 2^53: beyond it doubles no longer hold every integer; also keeps `Int64(_:)` from trapping.
    static let bound: Double = 9_007_199_254_740_992

    /// Rounds to the nearest millisecond, so a date written as a decimal literal with three
    /// fractional digits reads back equal. Non-finite dates (never produced by a clock, but the
    /// API cannot rule them out) are clamped instead of trapping.
    static func milliseconds(_ date: Date) -> Int64 {
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        if ms.isNaN { return 0 }
        return Int64(min(max(ms, -bound), bound))
    }

    static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    static func date(_ milliseconds: Int64?) -> Date? {
        milliseconds.map { date($0) }
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let ms = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        return Int64(min(max(ms.rounded(), -bound), bound))
    }
}

/// Bounds untrusted strings before they reach the database.
enum StoredText {
    /// Cuts `text` to at most `maxBytes` UTF-8 bytes at a Unicode scalar boundary (the result is
    /// always valid UTF-8) and replaces NUL, which SQLite's C string accessors would read as the
    /// end of the text. Work is proportional to the bound, not to the input.
    static func bounded(_ text: String, maxBytes: Int) -> String {
        var out = String.UnicodeScalarView()
        var used = 0
        var clean = true
        for scalar in text.unicodeScalars {
            let replaced: Unicode.Scalar = scalar == "\0" ? "\u{FFFD}" : scalar
            let size = UTF8.width(replaced)
            if used + size > maxBytes {
                clean = false
                break
            }
            if replaced != scalar { clean = false }
            used += size
            out.append(replaced)
        }
        return clean ? text : String(out)
    }

    static func short(_ text: String) -> String { bounded(text, maxBytes: HistoryLimits.shortText) }
    static func long(_ text: String) -> String { bounded(text, maxBytes: HistoryLimits.longText) }
    static func short(_ text: String?) -> String? { text.map { short($0) } }
    static func long(_ text: String?) -> String? { text.map { long($0) } }
}

/// Keeps a caller's limit in a range SQLite and memory can take.
enum StoredLimit {
    static let maximum = 100_000

    static func clamped(_ limit: Int) -> Int { min(max(limit, 0), maximum) }
}
