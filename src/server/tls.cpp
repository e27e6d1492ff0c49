#include "server/tls.hpp"

#include "server/openssl_api.hpp"

namespace relay::server {
namespace {

std::string openssl_error(const SslApi &api) {
    unsigned long e = api.ERR_get_error();
    std::string out;
    while (e) {
        char buf[256];
        api.ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
        e = api.ERR_get_error();
    }
    return out.empty() ? "unknown TLS error" : out;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::load(const std::string &cert, const std::string &key,
                                                     const std::string &min_version) {
    auto loaded = load_ssl();
    if (!loaded) return make_error("TLS: " + loaded.error().message);
    const SslApi &api = **loaded;
    api.ERR_clear_error();
    SSL_CTX *ctx = api.SSL_CTX_new(api.TLS_server_method());
    if (!ctx) return make_error("TLS: " + openssl_error(api));
    std::shared_ptr<TlsContext> holder(new TlsContext(api, ctx));
    // SSL_CTX_set_min_proto_version(), SSL_CTX_set_mode() and
    // SSL_CTX_set_session_cache_mode() are these SSL_CTX_ctrl() calls.
    api.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION,
                     min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION, nullptr);
    api.SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    api.SSL_CTX_ctrl(ctx, SSL_CTRL_MODE,
                     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                         SSL_MODE_RELEASE_BUFFERS,
                     nullptr);
    api.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE, SSL_SESS_CACHE_OFF, nullptr);
    if (api.SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1)
        return make_error("TLS: cannot load certificate " + cert + ": " + openssl_error(api));
    if (api.SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
        return make_error("TLS: cannot load private key " + key + ": " + openssl_error(api));
    if (api.SSL_CTX_check_private_key(ctx) != 1)
        return make_error("TLS: " + key + " does not match " + cert + ": " + openssl_error(api));
    return holder;
}

TlsContext::~TlsContext() { api_.SSL_CTX_free(ctx_); }

TlsStream::TlsStream(std::shared_ptr<TlsContext> ctx, int fd)
    : ctx_(std::move(ctx)), api_(ctx_->api()) {
    ssl_ = api_.SSL_new(ctx_->get());
    if (ssl_) {
        api_.SSL_set_fd(ssl_, fd);
        api_.SSL_set_accept_state(ssl_);
    }
}

TlsStream::~TlsStream() {
    if (ssl_) api_.SSL_free(ssl_);
}

TlsIo TlsStream::status(int ret) {
    int e = api_.SSL_get_error(ssl_, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ: return TlsIo::WantRead;
    case SSL_ERROR_WANT_WRITE: return TlsIo::WantWrite;
    case SSL_ERROR_ZERO_RETURN: return TlsIo::Eof;
    case SSL_ERROR_SYSCALL:
        if (api_.ERR_peek_error() == 0) {
            error_ = "connection closed";
            return TlsIo::Eof;
        }
        [[fallthrough]];
    default: error_ = openssl_error(api_); return TlsIo::Error;
    }
}

TlsIo TlsStream::handshake() {
    if (!ssl_) return TlsIo::Error;
    api_.ERR_clear_error();
    int r = api_.SSL_do_handshake(ssl_);
    return r == 1 ? TlsIo::Ok : status(r);
}

TlsIo TlsStream::read(char *buf, size_t len, size_t &got) {
    api_.ERR_clear_error();
    got = 0;
    int r = api_.SSL_read_ex(ssl_, buf, len, &got);
    return r == 1 ? TlsIo::Ok : status(r);
}

TlsIo TlsStream::write(const char *buf, size_t len, size_t &put) {
    api_.ERR_clear_error();
    put = 0;
    int r = api_.SSL_write_ex(ssl_, buf, len, &put);
    return r == 1 ? TlsIo::Ok : status(r);
}

void TlsStream::shutdown() {
    if (ssl_) {
        api_.ERR_clear_error();
        api_.SSL_shutdown(ssl_);
    }
}

std::string TlsStream::info() const {
    if (!ssl_) return "";
    const SSL_CIPHER *c = api_.SSL_get_current_cipher(ssl_);
    int alg = 0;
    int bits = c ? api_.SSL_CIPHER_get_bits(c, &alg) : 0;
    return std::string(api_.SSL_get_version(ssl_)) + " with cipher " +
           (c ? api_.SSL_CIPHER_get_name(c) : "?") +
           " (" + std::to_string(bits) + "/" + std::to_string(alg) + " bits)";
}

}  // namespace relay::server
