// openssl_api.hpp - OpenSSL, loaded at run time by relay serve only.
//
// relay-server's binary is also its set-gid sendmail. Linking libssl would
// map it (and libcrypto) into every cron mail's submission; loading it
// only where TLS is served keeps that path what it is in the null client
// (curl_api.hpp does the same for libcurl). On first use, ssl_api()
// dlopen()s build::ssl_soname ("libssl.so.3") and resolves the functions
// tls.cpp calls into one table; libcrypto's (ERR_*) come through libssl's
// own dependency. The headers give types and constants only: no OpenSSL
// symbol is referenced directly (the link would fail, OpenSSL is not on
// the link line). Macros such as SSL_CTX_set_mode() are SSL_CTX_ctrl()
// calls, made through the table.
//
// Guarantees: the table is complete or not returned at all; the library
// stays loaded for the life of the process. The first call is made from
// the server's start-up, before any thread exists.
//
// Errors: a missing library or symbol comes back as a value ("cannot load
// libssl.so.3: ... (install libssl3 to offer TLS)").
#pragma once

#include <cstddef>
#include <cstdint>

#include <openssl/ssl.h>

#include "util/result.hpp"

namespace relay::server {

struct SslApi {
    const SSL_METHOD *(*TLS_server_method)();
    SSL_CTX *(*SSL_CTX_new)(const SSL_METHOD *method);
    void (*SSL_CTX_free)(SSL_CTX *ctx);
    long (*SSL_CTX_ctrl)(SSL_CTX *ctx, int cmd, long larg, void *parg);
    uint64_t (*SSL_CTX_set_options)(SSL_CTX *ctx, uint64_t op);
    int (*SSL_CTX_use_certificate_chain_file)(SSL_CTX *ctx, const char *file);
    int (*SSL_CTX_use_PrivateKey_file)(SSL_CTX *ctx, const char *file, int type);
    int (*SSL_CTX_check_private_key)(const SSL_CTX *ctx);
    SSL *(*SSL_new)(SSL_CTX *ctx);
    void (*SSL_free)(SSL *ssl);
    int (*SSL_set_fd)(SSL *ssl, int fd);
    void (*SSL_set_accept_state)(SSL *ssl);
    int (*SSL_do_handshake)(SSL *ssl);
    int (*SSL_read_ex)(SSL *ssl, void *buf, size_t num, size_t *readbytes);
    int (*SSL_write_ex)(SSL *ssl, const void *buf, size_t num, size_t *written);
    int (*SSL_shutdown)(SSL *ssl);
    int (*SSL_get_error)(const SSL *ssl, int ret);
    const char *(*SSL_get_version)(const SSL *ssl);
    const SSL_CIPHER *(*SSL_get_current_cipher)(const SSL *ssl);
    const char *(*SSL_CIPHER_get_name)(const SSL_CIPHER *c);
    int (*SSL_CIPHER_get_bits)(const SSL_CIPHER *c, int *alg_bits);
    void (*ERR_clear_error)();
    unsigned long (*ERR_get_error)();
    unsigned long (*ERR_peek_error)();
    void (*ERR_error_string_n)(unsigned long e, char *buf, size_t len);
};

// Loads OpenSSL once; later calls return the same table (or the same error).
Result<const SslApi *> load_ssl();

}  // namespace relay::server
