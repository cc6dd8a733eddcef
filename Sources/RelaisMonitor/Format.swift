// Text formatting for the renderers, written out by hand: Foundation's number and date
// formatters depend on the platform's locale data and differ between Linux and Darwin, and the
// operators' screens (and our tests) must read the same everywhere.
public import Foundation

/// UTC calendar arithmetic (Howard Hinnant's `days_from_civil` / `civil_from_days`).
public enum CivilTime {
    /// Days since 1970-01-01 of a proleptic Gregorian date.
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

public enum Format {
    /// `2026-11-25 14:27:27` (UTC).
    public static func dateTime(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let (y, m, d) = CivilTime.civil(days: days)
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2)) \(clock(secondsOfDay: seconds - days * 86_400))"
    }

    /// `14:27:27` (UTC).
    public static func time(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        return clock(secondsOfDay: seconds - days * 86_400)
    }

    static func clock(secondsOfDay s: Int) -> String {
        "\(pad(s / 3600, 2)):\(pad(s / 60 % 60, 2)):\(pad(s % 60, 2))"
    }

    /// A span as an operator reads it: `12s`, `3m05s`, `1h02m`, `2d03h`. Negative spans (clock
    /// skew between relay and operator) read as `0s`.
    public static func duration(_ interval: TimeInterval) -> String {
        let s = max(0, Int(interval.rounded(.down)))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(pad(s % 60, 2))s" }
        if s < 86_400 { return "\(s / 3600)h\(pad(s / 60 % 60, 2))m" }
        return "\(s / 86_400)d\(pad(s / 3600 % 24, 2))h"
    }

    /// `value` with exactly `digits` decimals, rounded half away from zero: `fixed(2.345, 1)` is `2.3`,
    /// `fixed(-0.04, 1)` is `0.0`.
    public static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "-" : (value > 0 ? "inf" : "-inf") }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded(.toNearestOrAwayFromZero)
        guard scaled < 9e15 else { return value > 0 ? "inf" : "-inf" }
        let units = Int(scaled)
        let sign = value < 0 && units != 0 ? "-" : ""
        let whole = units / Int(scale)
        guard digits > 0 else { return "\(sign)\(whole)" }
        return "\(sign)\(whole).\(pad(units % Int(scale), digits))"
    }

    /// A fraction 0...1 as a percentage with one decimal: `0.0512` is `5.1%`.
    public static func percent(_ fraction: Double) -> String { fixed(fraction * 100, 1) + "%" }

    /// kbit/s: whole numbers from 100 up, one decimal below.
    public static func kbps(_ value: Double) -> String { value >= 100 ? fixed(value, 0) : fixed(value, 1) }

    /// Optional milliseconds: `12.3` or `-`.
    public static func millis(_ value: Double?) -> String { value.map { fixed($0, 1) } ?? "-" }

    static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}

/// A text table: columns as wide as their widest cell, two spaces apart, numbers right-aligned.
public struct TextTable: Sendable {
    public enum Alignment: Sendable { case left, right }

    public struct Column: Sendable {
        public var title: String
        public var alignment: Alignment
        public init(_ title: String, _ alignment: Alignment = .left) {
            self.title = title
            self.alignment = alignment
        }
    }

    public var columns: [Column]
    public var rows: [[String]] = []
    public var indent = ""

    public init(_ columns: [Column], indent: String = "") {
        self.columns = columns
        self.indent = indent
    }

    public mutating func append(_ row: [String]) {
        precondition(row.count == columns.count, "a row has one cell per column")  // programmer error
        rows.append(row)
    }

    /// Header and rows, one line each, no trailing spaces, every line ending in `\n`.
    public func render() -> String {
        var widths = columns.map { $0.title.count }
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        var output = ""
        for row in [columns.map(\.title)] + rows {
            var line = indent
            for (index, cell) in row.enumerated() {
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                let isLast = index == row.count - 1
                switch columns[index].alignment {
                case .left: line += cell + (isLast ? "" : padding)
                case .right: line += padding + cell
                }
                if !isLast { line += "  " }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            output += line + "\n"
        }
        return output
    }
}
