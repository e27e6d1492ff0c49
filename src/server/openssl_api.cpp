#include "server/openssl_api.hpp"

#include <dlfcn.h>
#include <string>

#include "build_config.hpp"
#include "util/dl.hpp"
#include "util/error.hpp"

namespace relay::server {
namespace {

struct Loaded {
    SslApi api{};
    std::string error;  // empty = loaded
};

Loaded do_load() {
    Loaded out;
    void *lib = ::dlopen(build::ssl_soname, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = ::dlerror();
        out.error = std::string("cannot load ") + build::ssl_soname + ": " +
                    (why ? why : "unknown error") + " (install libssl3 to offer TLS)";
        return out;
    }
    SslApi &a = out.api;
    std::string &e = out.error;
#define RELAY_SSL_SYMBOL(name) util::resolve(lib, build::ssl_soname, #name, a.name, e)
    bool ok = RELAY_SSL_SYMBOL(TLS_server_method) && RELAY_SSL_SYMBOL(SSL_CTX_new) &&
              RELAY_SSL_SYMBOL(SSL_CTX_free) && RELAY_SSL_SYMBOL(SSL_CTX_ctrl) &&
              RELAY_SSL_SYMBOL(SSL_CTX_set_options) &&
              RELAY_SSL_SYMBOL(SSL_CTX_use_certificate_chain_file) &&
              RELAY_SSL_SYMBOL(SSL_CTX_use_PrivateKey_file) &&
              RELAY_SSL_SYMBOL(SSL_CTX_check_private_key) && RELAY_SSL_SYMBOL(SSL_new) &&
              RELAY_SSL_SYMBOL(SSL_free) && RELAY_SSL_SYMBOL(SSL_set_fd) &&
              RELAY_SSL_SYMBOL(SSL_set_accept_state) && RELAY_SSL_SYMBOL(SSL_do_handshake) &&
              RELAY_SSL_SYMBOL(SSL_read_ex) && RELAY_SSL_SYMBOL(SSL_write_ex) &&
              RELAY_SSL_SYMBOL(SSL_shutdown) && RELAY_SSL_SYMBOL(SSL_get_error) &&
              RELAY_SSL_SYMBOL(SSL_get_version) && RELAY_SSL_SYMBOL(SSL_get_current_cipher) &&
              RELAY_SSL_SYMBOL(SSL_CIPHER_get_name) && RELAY_SSL_SYMBOL(SSL_CIPHER_get_bits) &&
              RELAY_SSL_SYMBOL(ERR_clear_error) && RELAY_SSL_SYMBOL(ERR_get_error) &&
              RELAY_SSL_SYMBOL(ERR_peek_error) && RELAY_SSL_SYMBOL(ERR_error_string_n);
#undef RELAY_SSL_SYMBOL
    if (!ok) return out;  // the library stays mapped; harmless
    return out;
}

}  // namespace

Result<const SslApi *> load_ssl() {
    static const Loaded l = do_load();
    if (!l.error.empty()) return make_error(l.error);
    return &l.api;
}

}  // namespace relay::server
