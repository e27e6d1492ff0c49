#include "smtp/idna.hpp"

#include <cstdlib>
#include <dlfcn.h>

#include "smtp/esmtp.hpp"
#include "util/dl.hpp"
#include "util/error.hpp"

namespace relay::smtp {
namespace {

// libidn2's ABI (idn2.h, stable since libidn2 2.0): the flags and codes used.
constexpr int kIdn2Ok = 0;
constexpr int kIdn2NfcInput = 1;
constexpr int kIdn2Transitional = 4;
constexpr int kIdn2NonTransitional = 8;
using ToAscii = int (*)(const char *input, char **output, int flags);
using Free = void (*)(void *p);

struct Idn2 {
    ToAscii to_ascii = nullptr;
    Free free = nullptr;
    std::string error;
};

const Idn2 &idn2() {
    static const Idn2 lib = [] {
        Idn2 l;
        void *h = ::dlopen("libidn2.so.0", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *why = ::dlerror();
            l.error = std::string("cannot load libidn2.so.0: ") + (why ? why : "unknown error");
            return l;
        }
        if (!util::resolve(h, "libidn2.so.0", "idn2_to_ascii_8z", l.to_ascii, l.error) ||
            !util::resolve(h, "libidn2.so.0", "idn2_free", l.free, l.error)) {
            l.to_ascii = nullptr;
            l.free = nullptr;
        }
        return l;
    }();
    return lib;
}

}  // namespace

Result<std::string> domain_to_ascii(std::string_view domain) {
    if (is_ascii(domain)) return std::string(domain);
    const Idn2 &lib = idn2();
    if (!lib.error.empty()) return make_error(lib.error);
    std::string in(domain);
    char *out = nullptr;
    int rc = lib.to_ascii(in.c_str(), &out, kIdn2NfcInput | kIdn2NonTransitional);
    if (rc != kIdn2Ok) {
        out = nullptr;
        rc = lib.to_ascii(in.c_str(), &out, kIdn2NfcInput | kIdn2Transitional);
    }
    if (rc != kIdn2Ok || !out) return make_error("not a valid internationalized domain name");
    std::string r(out);
    lib.free(out);
    return r;
}

Result<std::string> address_to_ascii(std::string_view address) {
    size_t at = address.rfind('@');
    if (at == std::string_view::npos || !is_ascii(address.substr(0, at)))
        return make_error("the local part is not ASCII");
    auto d = domain_to_ascii(address.substr(at + 1));
    if (!d) return d.error();
    return std::string(address.substr(0, at + 1)) + *d;
}

}  // namespace relay::smtp
