@testable import RelaisWire

/// Parses a compound into owned packets, keeping the typed error for `#expect(... == .failure(...))`.
func parseRTCP(_ bytes: [UInt8]) -> Result<[RTCPPacket], RTCPError> {
    do throws(RTCPError) {
        return .success(try RTCPPacket.parseCompound(bytes))
    } catch {
        return .failure(error)
    }
}

/// Parses the first packet's header in `bytes` and hands it to `body`, which builds a view.
func withRTCPHeader<R>(
    _ bytes: [UInt8], _ body: (RTCPHeaderView) throws(RTCPError) -> R
) -> Result<R, RTCPError> {
    bytes.withUnsafeBytes { raw in
        do throws(RTCPError) {
            return .success(try body(try RTCPHeaderView(parsing: raw)))
        } catch {
            return .failure(error)
        }
    }
}

/// Serializes packets back to back (`serializeCompound` traps if `serializedLength` lied).
func serializeRTCP(_ packets: RTCPPacket...) -> [UInt8] {
    RTCPPacket.serializeCompound(packets)
}
