/// The SRTP step of `DTLSSRTPSession` (the core of the relay's and the client's transports):
/// decrypt or encrypt in place, count what passes, and count each failure by kind so none goes
/// unnoticed.
extension SRTPContext {
    /// Decrypts an SRTP packet (`rtcp` false) or SRTCP compound in place.
    func unprotect(_ buffer: UnsafeMutableRawBufferPointer, length: Int, rtcp: Bool, stats: inout DTLSSRTPSession.Stats) -> TransportReceive {
        do {
            if rtcp {
                let n = try inbound.unprotectRTCP(buffer, length: length)
                stats.rtcpIn += 1
                return .rtcp(length: n)
            }
            let n = try inbound.unprotectRTP(buffer, length: length)
            stats.rtpIn += 1
            stats.bytesIn += n
            return .rtp(length: n)
        } catch {
            counters.count(error)
            return .dropped(.srtp(error))
        }
    }

    /// Encrypts in place; the protected length, or nil (counted) when libsrtp refuses.
    func protect(_ buffer: UnsafeMutableRawBufferPointer, length: Int, rtcp: Bool, stats: inout DTLSSRTPSession.Stats) -> Int? {
        do {
            if rtcp {
                let n = try outbound.protectRTCP(buffer, length: length)
                stats.rtcpOut += 1
                return n
            }
            let n = try outbound.protectRTP(buffer, length: length)
            stats.rtpOut += 1
            stats.bytesOut += length
            return n
        } catch {
            counters.count(error)
            return nil
        }
    }
}
