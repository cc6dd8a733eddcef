public import RelaisWire

extension DownTrack {
    /// Rewrites a packet taken from the publisher stream's `RetransmissionBuffer` to answer this
    /// subscriber's NACK for `outputSequence`: the same mapping as when it was first forwarded, and
    /// no change to the down track's state or counters (RFC 4585 §6.2.1 retransmission on the
    /// original SSRC, as negotiated when RTX is not).
    ///
    /// The retransmission reuses the SRTP index of the original, so it must be the same bytes
    /// (RFC 3711 §9.1, RFC 7714 §14: one index, one plaintext). It is refused unless the packet is
    /// from the current source (SSRC and epoch), maps to exactly `outputSequence`, and that output
    /// was forwarded; the cache holds the first copy of each input sequence number the relay let
    /// through (duplicates are dropped before it), so the rewrite reproduces what was sent.
    ///
    /// - Returns: the packet length to protect and send, or nil when the packet does not belong to
    ///   the current source epoch (it would carry the wrong offsets) or was never forwarded.
    public func rewriteRetransmission(_ packet: UnsafeMutableRawBufferPointer, length: Int, outputSequence: SequenceNumber) -> Int? {
        guard let input = inputSequence(forOutput: outputSequence) else { return nil }
        guard let view = try? RTPPacketView(parsing: UnsafeRawBufferPointer(rebasing: packet[0..<min(length, packet.count)])),
              view.sequenceNumber == input, view.ssrc == currentInputSSRC
        else { return nil }
        // A throwaway copy runs the rewrite: its arrays are shared, not copied (no allocation), and
        // the scalars it updates are discarded. In retransmission mode it keeps the epoch (the
        // SSRC matched) and requires the output number to have been sent.
        var scratch = self
        guard case .forward(let n) = scratch.rewrite(packet, length: length, now: .zero, retransmission: true) else { return nil }
        return n
    }
}
