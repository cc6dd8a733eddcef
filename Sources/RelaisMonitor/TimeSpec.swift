// `--since 24h`, `--since 7d`, `--since 2026-11-25T08:00:00Z`: a point in time relative to now or
// absolute, resolved against an explicit `now` so it is testable.
public import Foundation
import RelaisAdmin

/// A `--since` value: a span back from now (`90s`, `30m`, `24h`, `7d`, `2w`) or an ISO 8601 time
/// (`2026-11-25T08:00:00Z`, with or without milliseconds, or a bare date `2026-11-25`, midnight UTC).
public enum TimeSpec: Sendable, Equatable {
    case ago(seconds: Int)
    case at(Date)

    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let spanSeconds = Self.parseSpan(trimmed) {
            self = .ago(seconds: spanSeconds)
        } else if Self.fieldsInRange(trimmed), let date = AdminTime.parse(trimmed) {
            self = .at(date)
        } else if let date = Self.parseDate(trimmed) {
            self = .at(date)
        } else {
            return nil
        }
    }

    public func resolve(now: Date) -> Date {
        switch self {
        case .ago(let seconds): now.addingTimeInterval(-Double(seconds))
        case .at(let date): date
        }
    }

    /// `<digits><unit>` with unit s, m, h, d or w; several may follow each other (`1d12h`).
    static func parseSpan(_ text: String) -> Int? {
        guard !text.isEmpty else { return nil }
        var total = 0
        var digits = 0
        var sawDigit = false
        for scalar in text.unicodeScalars {
            if let value = Int(String(scalar)), scalar.isASCII {
                let (next, overflow) = digits.multipliedReportingOverflow(by: 10)
                guard !overflow, next <= 100_000_000 else { return nil }
                digits = next + value
                sawDigit = true
                continue
            }
            let unit: Int
            switch scalar {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86_400
            case "w": unit = 7 * 86_400
            default: return nil
            }
            guard sawDigit else { return nil }
            total += digits * unit
            digits = 0
            sawDigit = false
        }
        // A trailing number without a unit (`24`) is ambiguous: refuse it rather than guess.
        guard !sawDigit else { return nil }
        return total
    }

    /// Foundation's ISO 8601 parser rolls `25:00:00` over into the next day; an operator who typed
    /// that made a mistake, so the fields of `YYYY-MM-DDTHH:MM:SS` are checked first.
    static func fieldsInRange(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19 else { return false }
        func number(_ range: Range<Int>) -> Int? { Int(String(decoding: bytes[range], as: UTF8.self)) }
        guard let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19) else { return false }
        return (1...12).contains(month) && (1...31).contains(day) && hour <= 23 && minute <= 59 && second <= 60
    }

    /// `YYYY-MM-DD`, midnight UTC.
    static func parseDate(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        return Date(timeIntervalSince1970: Double(CivilTime.days(year: year, month: month, day: day) * 86_400))
    }
}
