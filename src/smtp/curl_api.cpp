#include "smtp/curl_api.hpp"

#include <dlfcn.h>
#include <string>

#include "build_config.hpp"
#include "log/log.hpp"
#include "util/dl.hpp"
#include "util/error.hpp"

namespace relay::smtp {
namespace {

using util::resolve;

struct Loaded {
    CurlApi api{};
    std::string error;  // empty = loaded
};

Loaded do_load(const char *soname) {
    Loaded out;
    // RTLD_LOCAL: curl's symbols stay out of the global namespace.
    void *lib = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = ::dlerror();
        out.error = std::string("cannot load ") + soname + ": " +
                    (why ? why : "unknown error") +
                    " (install libcurl4 to deliver mail)";
        return out;
    }
    CurlApi &a = out.api;
    std::string &e = out.error;
    bool ok = resolve(lib, "libcurl", "curl_global_init", a.global_init, e) &&
              resolve(lib, "libcurl", "curl_version_info", a.version_info, e) &&
              resolve(lib, "libcurl", "curl_easy_init", a.easy_init, e) &&
              resolve(lib, "libcurl", "curl_easy_setopt", a.easy_setopt, e) &&
              resolve(lib, "libcurl", "curl_easy_perform", a.easy_perform, e) &&
              resolve(lib, "libcurl", "curl_easy_getinfo", a.easy_getinfo, e) &&
              resolve(lib, "libcurl", "curl_easy_send", a.easy_send, e) &&
              resolve(lib, "libcurl", "curl_easy_recv", a.easy_recv, e) &&
              resolve(lib, "libcurl", "curl_easy_cleanup", a.easy_cleanup, e) &&
              resolve(lib, "libcurl", "curl_easy_reset", a.easy_reset, e) &&
              resolve(lib, "libcurl", "curl_easy_strerror", a.easy_strerror, e) &&
              resolve(lib, "libcurl", "curl_easy_escape", a.easy_escape, e) &&
              resolve(lib, "libcurl", "curl_free", a.free, e) &&
              resolve(lib, "libcurl", "curl_slist_append", a.slist_append, e) &&
              resolve(lib, "libcurl", "curl_slist_free_all", a.slist_free_all, e);
    if (!ok) return out;  // the library stays mapped; harmless, and we give up anyway

    if (CURLcode rc = a.global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
        out.error = std::string(soname) + ": curl_global_init failed: " +
                    a.easy_strerror(rc);
        return out;
    }
    curl_version_info_data *info = a.version_info(CURLVERSION_NOW);
    if (info) {
        a.version = info->version ? info->version : "";
        a.has_ssl = (info->features & CURL_VERSION_SSL) != 0;
        // CURLOPT_PROTOCOLS_STR came with 7.85.
        if (info->version_num < 0x075500) {
            out.error = std::string(soname) + " is version " + a.version +
                        "; relay needs libcurl 7.85 or newer";
            return out;
        }
    }
    return out;
}

const Loaded &loaded() {
    static const Loaded l = do_load(build::curl_soname);
    return l;
}

}  // namespace

Result<void> probe_curl(const char *soname) {
    Loaded l = do_load(soname);
    if (!l.error.empty()) return make_error(l.error);
    return {};
}

Result<const CurlApi *> load_curl() {
    const Loaded &l = loaded();
    if (!l.error.empty()) return make_error(l.error);
    return &l.api;
}

const CurlApi &curl_api() {
    auto r = load_curl();
    if (!r) {
        log::error(r.error().message);
        throw Fatal(Exit::Config, r.error().message);
    }
    return **r;
}

void EasyDeleter::operator()(CURL *h) const {
    if (h) (*load_curl())->easy_cleanup(h);
}

void SlistDeleter::operator()(curl_slist *l) const {
    if (l) (*load_curl())->slist_free_all(l);
}

bool slist_append(SlistPtr &list, const char *s) {
    curl_slist *head = curl_api().slist_append(list.get(), s);
    if (!head) return false;
    if (!list) list.reset(head);  // first element: the head changes only then
    return true;
}

}  // namespace relay::smtp
