import RelaisWire

/// Shorthand for fake-clock instants in tests.
func ms(_ milliseconds: UInt64) -> Instant { Instant(nanoseconds: milliseconds * 1_000_000) }
