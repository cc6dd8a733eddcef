internal import COpenSSL
public import RelaisWire

/// Setup errors of the DTLS layer, with OpenSSL's own message.
public enum DTLSError: Error, Equatable, Sendable, CustomStringConvertible {
    case certificate(String)
    case context(String)

    public var description: String {
        switch self {
        case .certificate(let why): "DTLS certificate: \(why)"
        case .context(let why): "DTLS context: \(why)"
        }
    }
}

/// Drains OpenSSL's per-thread error queue into one line (oldest error first).
func openSSLErrors() -> String {
    var messages: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        messages.append(String(decoding: text, as: UTF8.self))
    }
    return messages.isEmpty ? "unknown OpenSSL error" : messages.joined(separator: "; ")
}

/// The relay's (or client's) DTLS identity: an ECDSA P-256 key and a self-signed certificate.
///
/// WebRTC authenticates DTLS peers by the certificate fingerprint exchanged in signaling, not by a
/// CA, so a fresh self-signed certificate per process is the norm; operators may pin one from PEM
/// files instead. Immutable after creation, so it is shared across event loops.
public final class DTLSCertificate: @unchecked Sendable {
    let key: OpaquePointer  // EVP_PKEY*
    let x509: OpaquePointer  // X509*
    public let fingerprintSHA256: DTLSFingerprint

    private init(key: OpaquePointer, x509: OpaquePointer) throws(DTLSError) {
        self.key = key
        self.x509 = x509
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(x509, EVP_sha256(), &digest, &length) == 1 else {
            EVP_PKEY_free(key)
            X509_free(x509)
            throw .certificate("digest: \(openSSLErrors())")
        }
        self.fingerprintSHA256 = DTLSFingerprint(algorithm: "sha-256", bytes: Array(digest.prefix(Int(length))))
    }

    deinit {
        EVP_PKEY_free(key)
        X509_free(x509)
    }

    /// Generates an ECDSA P-256 key and a certificate valid from yesterday for 30 days, signed
    /// with SHA-256, with a random serial number.
    public static func generateSelfSigned(commonName: String = "relais") throws(DTLSError) -> DTLSCertificate {
        ERR_clear_error()
        guard let key = relais_ec_p256_generate() else { throw .certificate("key generation: \(openSSLErrors())") }
        guard let x509 = X509_new() else {
            EVP_PKEY_free(key)
            throw .certificate("X509_new: \(openSSLErrors())")
        }
        var ok = X509_set_version(x509, 2) == 1
        var serial: Int64 = 0
        withUnsafeMutableBytes(of: &serial) { _ = RAND_bytes($0.baseAddress?.assumingMemoryBound(to: UInt8.self), 8) }
        ok = ok && ASN1_INTEGER_set_int64(X509_get_serialNumber(x509), serial & Int64.max) == 1
        ok = ok && X509_gmtime_adj(X509_getm_notBefore(x509), -86_400) != nil
        ok = ok && X509_gmtime_adj(X509_getm_notAfter(x509), 30 * 86_400) != nil
        ok = ok && X509_set_pubkey(x509, key) == 1
        if ok, let name = X509_get_subject_name(x509) {
            ok = X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, commonName, -1, -1, 0) == 1
            ok = ok && X509_set_issuer_name(x509, name) == 1
        }
        ok = ok && X509_sign(x509, key, EVP_sha256()) > 0
        guard ok else {
            let why = openSSLErrors()
            EVP_PKEY_free(key)
            X509_free(x509)
            throw .certificate("self-signing: \(why)")
        }
        return try DTLSCertificate(key: key, x509: x509)
    }

    /// Loads a certificate and its private key from PEM text.
    public convenience init(pemCertificate: String, pemPrivateKey: String) throws(DTLSError) {
        ERR_clear_error()
        func readBIO<T>(_ text: String, _ read: (OpaquePointer?) -> T?) -> T? {
            var bytes = Array(text.utf8)
            return bytes.withUnsafeMutableBytes { raw -> T? in
                guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
                defer { BIO_free(bio) }
                return read(bio)
            }
        }
        guard let x509 = readBIO(pemCertificate, { PEM_read_bio_X509($0, nil, nil, nil) }) else {
            throw .certificate("PEM certificate: \(openSSLErrors())")
        }
        guard let key = readBIO(pemPrivateKey, { PEM_read_bio_PrivateKey($0, nil, nil, nil) }) else {
            X509_free(x509)
            throw .certificate("PEM private key: \(openSSLErrors())")
        }
        guard X509_check_private_key(x509, key) == 1 else {
            X509_free(x509)
            EVP_PKEY_free(key)
            throw .certificate("private key does not match certificate")
        }
        try self.init(key: key, x509: x509)
    }

    /// The certificate and private key as PEM text (to pin the identity across restarts).
    public func pem() -> (certificate: String, privateKey: String) {
        func write(_ body: (OpaquePointer) -> Int32) -> String {
            guard let bio = BIO_new(BIO_s_mem()) else { return "" }
            defer { BIO_free(bio) }
            guard body(bio) == 1 else { return "" }
            var data: UnsafeMutablePointer<CChar>?
            let length = relais_bio_get_mem_data(bio, &data)
            guard let data, length > 0 else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: data, count: Int(length)), as: UTF8.self)
        }
        return (
            write { PEM_write_bio_X509($0, x509) },
            write { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
        )
    }
}
