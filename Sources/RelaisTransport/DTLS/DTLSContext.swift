internal import COpenSSL

/// One OpenSSL `SSL_CTX` for DTLS-SRTP: the certificate and key, DTLS 1.2 only, the cipher suites
/// and the `use_srtp` profiles (RFC 5764 §4.1.1). Every association made from it shares them.
///
/// A relay builds one per server and hands it to every transport: building a context copies the
/// certificate and key and sets up the cipher and profile lists, which per transport cost an
/// allocation storm and memory for each of thousands of peers (a `POST /v1/echo` flood made one
/// per request). OpenSSL documents an `SSL_CTX` as safe to share between threads once configured
/// (`SSL_new` only takes a reference), and nothing here changes it after `init`, so one context
/// serves every media loop. Each `DTLSEndpoint` made from it keeps it alive.
public final class DTLSContext: @unchecked Sendable {
    let context: OpaquePointer  // SSL_CTX*
    /// The profiles offered in `use_srtp`, most preferred first.
    public let profiles: [SRTPProfile]

    /// Cipher suites for ECDSA certificates, AEAD first; CBC kept for older embedded stacks.
    static let cipherList = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA"

    public init(certificate: DTLSCertificate, profiles: [SRTPProfile] = [.aeadAES128GCM, .aes128CMSHA1_80]) throws(DTLSError) {
        ERR_clear_error()
        guard let context = SSL_CTX_new(DTLS_method()) else { throw .context("SSL_CTX_new: \(openSSLErrors())") }
        var ok = relais_ssl_ctx_set_dtls12_only(context) == 1
        ok = ok && SSL_CTX_use_certificate(context, certificate.x509) == 1
        ok = ok && SSL_CTX_use_PrivateKey(context, certificate.key) == 1
        ok = ok && SSL_CTX_set_cipher_list(context, Self.cipherList) == 1
        // SSL_CTX_set_tlsext_use_srtp returns 0 on success.
        ok = ok && SSL_CTX_set_tlsext_use_srtp(context, profiles.map(\.openSSLName).joined(separator: ":")) == 0
        guard ok else {
            let why = openSSLErrors()
            SSL_CTX_free(context)
            throw .context(why)
        }
        // Peers present self-signed certificates; they are authenticated by fingerprint after the
        // handshake (RFC 8827 §6.5), so chain verification accepts anything but a certificate
        // must be presented.
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT) { _, _ in 1 }
        // No session tickets, no session cache: WebRTC never resumes, and one association's
        // ticket must not be offered to resume another's.
        relais_ssl_ctx_no_resumption(context)
        self.context = context
        self.profiles = profiles
    }

    deinit {
        SSL_CTX_free(context)
    }
}
