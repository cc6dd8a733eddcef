#ifndef RELAIS_COPENSSL_SHIM_H
#define RELAIS_COPENSSL_SHIM_H
#include <openssl/opensslv.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
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

#endif
