#ifndef RELAIS_COPENSSL_SHIM_H
#define RELAIS_COPENSSL_SHIM_H
#include <openssl/opensslv.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <string.h>
#include <openssl/ssl.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/tls1.h>
#include <openssl/dtls1.h>
#include <sys/time.h>

/* Function-like macros of OpenSSL that Swift cannot import, as inline functions. */

static inline EVP_PKEY *relais_ec_p256_generate(void) { return EVP_EC_gen("P-256"); }

static inline long relais_ssl_ctx_set_dtls12_only(SSL_CTX *ctx) {
    if (SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1) return 0;
    return SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
}

/* A context shared by every association issues no session tickets and keeps no session cache:
   WebRTC never resumes (each peer connection makes a fresh handshake authenticated by its SDP
   fingerprint), and no association's ticket may be offered to resume another's. */
static inline void relais_ssl_ctx_no_resumption(SSL_CTX *ctx) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
}

static inline void relais_ssl_no_query_mtu(SSL *ssl) { SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU); }

static inline long relais_ssl_set_mtu(SSL *ssl, long mtu) {
    DTLS_set_link_mtu(ssl, mtu);
    return SSL_set_mtu(ssl, mtu);
}

/* Returns 1 and fills *microseconds when a DTLS retransmission timer is running. */
static inline int relais_dtls_get_timeout(SSL *ssl, long long *microseconds) {
    struct timeval tv;
    if (DTLSv1_get_timeout(ssl, &tv) != 1) return 0;
    *microseconds = (long long)tv.tv_sec * 1000000LL + (long long)tv.tv_usec;
    return 1;
}

static inline long relais_dtls_handle_timeout(SSL *ssl) { return DTLSv1_handle_timeout(ssl); }

static inline long relais_bio_set_mem_eof_return(BIO *bio, long value) { return BIO_set_mem_eof_return(bio, value); }

static inline long relais_bio_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

/* HMAC-SHA1 (RFC 2104) with its key schedule done once: the SHA-1 states after absorbing the
   inner and outer padded keys. A MAC then copies two plain structs and hashes the message, with
   no allocation (OpenSSL 3's EVP_MAC and HMAC_CTX duplicate a provider context per message).
   SRTP's AES_CM_128_HMAC_SHA1 profiles (RFC 3711 §4.2.1) authenticate every packet this way.
   The SHA1_* functions are deprecated in OpenSSL 3 in favour of EVP, which cannot do this
   without allocating; they remain the library's own assembly block function. */
typedef struct { SHA_CTX inner; SHA_CTX outer; } relais_hmac_sha1_key;

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
static inline int relais_hmac_sha1_set_key(relais_hmac_sha1_key *h, const unsigned char *key, size_t length) {
    unsigned char pad[64];
    if (length > sizeof pad) return 0;
    memset(pad, 0x36, sizeof pad);
    for (size_t i = 0; i < length; i++) pad[i] ^= key[i];
    if (SHA1_Init(&h->inner) != 1 || SHA1_Update(&h->inner, pad, sizeof pad) != 1) return 0;
    memset(pad, 0x5c, sizeof pad);
    for (size_t i = 0; i < length; i++) pad[i] ^= key[i];
    int ok = SHA1_Init(&h->outer) == 1 && SHA1_Update(&h->outer, pad, sizeof pad) == 1;
    OPENSSL_cleanse(pad, sizeof pad);
    return ok;
}

/* out[0..<20] = HMAC-SHA1(key, a[0..<a_length] || b[0..<b_length]). */
static inline int relais_hmac_sha1(const relais_hmac_sha1_key *h, const void *a, size_t a_length,
                                   const void *b, size_t b_length, unsigned char *out) {
    SHA_CTX c = h->inner;
    unsigned char inner[SHA_DIGEST_LENGTH];
    if (SHA1_Update(&c, a, a_length) != 1) return 0;
    if (b_length > 0 && SHA1_Update(&c, b, b_length) != 1) return 0;
    if (SHA1_Final(inner, &c) != 1) return 0;
    c = h->outer;
    if (SHA1_Update(&c, inner, sizeof inner) != 1) return 0;
    return SHA1_Final(out, &c);
}
#pragma clang diagnostic pop

#endif
