public import RelaisWire

extension DownTrack {
    /// Rewrites a packet taken from the publisher stream's `RetransmissionBuffer` to answer this
    /// subscriber's NACK for `outputSequence`: the same mapping as when it was first forwarded, and
    /// no change to the down track's state or counters (RFC 4585 §6.2.1 retransmission on the
    /// original SSRC, as negotiated when RTX is not).
    ///
    /// - Returns: the packet length to protect and send, or nil when the packet does not belong to
    ///   the current source epoch (it would carry the wrong offsets).
    public func rewriteRetransmission(_ packet: UnsafeMutableRawBufferPointer, length: Int, outputSequence: SequenceNumber) -> Int? {
        guard let input = inputSequence(forOutput: outputSequence) else { return nil }
        guard let view = try? RTPPacketView(parsing: UnsafeRawBufferPointer(rebasing: packet[0..<min(length, packet.count)])),
              view.sequenceNumber == input
        else { return nil }
        // A throwaway copy runs the normal rewrite: its arrays are shared, not copied (no allocation),
        // and the scalars it updates are discarded.
        var scratch = self
        guard case .forward(let n) = scratch.rewrite(packet, length: length, now: .zero) else { return nil }
        return n
    }
}
