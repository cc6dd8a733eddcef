/// Synchronization source identifier (RFC 3550 §3): names one RTP stream on the wire.
public struct SSRC: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
}

/// RTP payload type, 7 bits (RFC 3550 §5.1). Values 64...95 collide with RTCP packet types when
/// RTP and RTCP share a port (RFC 5761 §4), so negotiated payload types avoid them.
public struct PayloadType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue & 0x7F }
    @inlinable public init(_ rawValue: UInt8) { self.rawValue = rawValue & 0x7F }
    public var description: String { String(rawValue) }
}

/// 16-bit RTP sequence number with wrap-around comparisons (RFC 3550 §A.1).
public struct SequenceNumber: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt16) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }

    /// Signed distance from `other` to `self` in the shorter direction around the 16-bit circle.
    @inlinable public func distance(from other: SequenceNumber) -> Int16 {
        Int16(bitPattern: rawValue &- other.rawValue)
    }

    /// True when `self` comes after `other` (modulo 2^16, within half the space).
    @inlinable public func isNewer(than other: SequenceNumber) -> Bool {
        distance(from: other) > 0
    }

    @inlinable public func advanced(by n: Int) -> SequenceNumber {
        SequenceNumber(UInt16(truncatingIfNeeded: Int(rawValue) &+ n))
    }
}

/// Extends 16-bit sequence numbers to 64 bits by counting rollovers (RFC 3550 §A.1), so that every
/// layer above compares and indexes packets without caring about wrap-around again.
public struct SequenceNumberUnwrapper: Sendable {
    private var last: Int64?

    public init() {}

    /// The extended sequence number of `seq`. Late (reordered) packets just before a rollover map to
    /// the previous cycle; the extended value never goes below zero.
    public mutating func unwrap(_ seq: SequenceNumber) -> Int64 {
        guard let last else {
            let value = Int64(seq.rawValue)
            self.last = value
            return value
        }
        let delta = Int64(Int16(bitPattern: seq.rawValue &- UInt16(truncatingIfNeeded: last)))
        let value = max(0, last + delta)
        if value > last { self.last = value }
        return value
    }
}

/// Extends 32-bit RTP timestamps the same way.
public struct TimestampUnwrapper: Sendable {
    private var last: Int64?

    public init() {}

    public mutating func unwrap(_ timestamp: UInt32) -> Int64 {
        guard let last else {
            let value = Int64(timestamp)
            self.last = value
            return value
        }
        let delta = Int64(Int32(bitPattern: timestamp &- UInt32(truncatingIfNeeded: last)))
        let value = last + delta
        if value > last { self.last = value }
        return value
    }
}
