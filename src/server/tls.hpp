// tls.hpp - server-side TLS with OpenSSL, for non-blocking sockets.
//
// TlsContext holds the certificate chain and key (PEM files named by
// [server] tls_cert_file/tls_key_file), TLS 1.2 or later only (1.3 with
// tls_min_version = "1.3"), the library's default cipher list without
// the anonymous and export suites, no compression, no renegotiation, and
// server cipher preference. It is loaded at start and again on SIGHUP;
// a connection keeps the context it started with.
//
// TlsStream runs the handshake and the record layer on a socket the event
// loop owns: every call returns at once, saying whether it made progress
// or must wait until the socket is readable or writable. It never reads
// from the socket before the handshake starts, so bytes a client sent
// after STARTTLS but before its ClientHello make the handshake fail; they
// are never taken as SMTP commands (RFC 3207 section 4.2, CVE-2011-0411).
//
// OpenSSL is loaded at run time, by the first load() (openssl_api.hpp).
//
// Errors: load() reports a missing libssl, unreadable files, a key that
// does not match the certificate, and OpenSSL's own reason; a failed
// handshake is an Error status with the reason in error_text().
#pragma once

#include <memory>
#include <string>

#include "util/result.hpp"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace relay::server {

struct SslApi;

class TlsContext {
public:
    static Result<std::shared_ptr<TlsContext>> load(const std::string &cert, const std::string &key,
                                                    const std::string &min_version);
    ~TlsContext();
    TlsContext(const TlsContext &) = delete;
    TlsContext &operator=(const TlsContext &) = delete;
    SSL_CTX *get() const { return ctx_; }
    const SslApi &api() const { return api_; }

private:
    TlsContext(const SslApi &api, SSL_CTX *ctx) : api_(api), ctx_(ctx) {}
    const SslApi &api_;
    SSL_CTX *ctx_;
};

enum class TlsIo { Ok, WantRead, WantWrite, Eof, Error };

class TlsStream {
public:
    TlsStream(std::shared_ptr<TlsContext> ctx, int fd);
    ~TlsStream();
    TlsStream(const TlsStream &) = delete;
    TlsStream &operator=(const TlsStream &) = delete;

    TlsIo handshake();
    TlsIo read(char *buf, size_t len, size_t &got);
    TlsIo write(const char *buf, size_t len, size_t &put);
    void shutdown();
    // "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
    std::string info() const;
    const std::string &error_text() const { return error_; }

private:
    TlsIo status(int ret);
    std::shared_ptr<TlsContext> ctx_;
    const SslApi &api_;
    SSL *ssl_ = nullptr;
    std::string error_;
};

}  // namespace relay::server
