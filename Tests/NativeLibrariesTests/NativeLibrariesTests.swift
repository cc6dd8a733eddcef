import CSRTP
import COpenSSL
import COpus
import CVPX
import Testing

/// Each system library links and answers a version query; these fail if pkg-config finds a
/// header without its library, or a library too old for what later modules call.
@Suite struct NativeLibrariesTests {
    @Test func libsrtpReportsVersion2WithAESGCM() throws {
        // srtp_init is not called here: it is not thread-safe, and the transport tests running in
        // parallel initialise libsrtp once through RelaisTransport.
        #expect(srtp_get_version() >> 24 == 2)
        let version = String(cString: srtp_get_version_string())
        #expect(version.hasPrefix("libsrtp2 2."), "got \(version)")
        // AES-GCM must be available: the relay prefers it whenever the peer offers it.
        var policy = srtp_crypto_policy_t()
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy)
        #expect(policy.cipher_type == SRTP_AES_GCM_128)
    }

    @Test func openSSLIsVersion3() {
        let number = OpenSSL_version_num()
        #expect(number >> 28 == 3, "OpenSSL major version \(number >> 28)")
        let text = String(cString: OpenSSL_version(Int32(OPENSSL_VERSION)))
        #expect(text.hasPrefix("OpenSSL 3."), "got \(text)")
    }

    @Test func opusReportsVersion() {
        let text = String(cString: opus_get_version_string())
        #expect(text.hasPrefix("libopus 1."), "got \(text)")
        var error: Int32 = 0
        let encoder = opus_encoder_create(48_000, 2, OPUS_APPLICATION_VOIP, &error)
        #expect(error == OPUS_OK)
        #expect(encoder != nil)
        opus_encoder_destroy(encoder)
    }

    @Test func vpxReportsVersionAndVP8() {
        let text = String(cString: vpx_codec_version_str())
        #expect(text.hasPrefix("v1.") || text.hasPrefix("1."), "got \(text)")
        let encoderName = String(cString: vpx_codec_iface_name(vpx_codec_vp8_cx()))
        #expect(encoderName.contains("VP8"), "got \(encoderName)")
    }
}
