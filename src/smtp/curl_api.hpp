// curl_api.hpp - libcurl, loaded at run time by the delivery path only.
//
// relay is not linked against libcurl. Loading it (and the ~30 libraries it
// pulls in: OpenSSL, nghttp2, libssh2, krb5, ...) costs ~4 ms, which the
// sendmail submission path, run once per cron mail, must not pay. Only the
// flush path calls curl_api(): on first use it dlopen()s build::curl_soname
// ("libcurl.so.4"), resolves the handful of functions relay needs into one
// table, and calls curl_global_init() once. The headers are used for types
// and constants only; no curl symbol is ever referenced directly (the link
// would fail if one were: libcurl is not on the link line).
//
// Guarantees: the table is complete or not returned at all; the library
// stays loaded for the life of the process (never dlclose()d: curl keeps
// global state). Not thread-safe on the first call (relay is single-threaded).
//
// Errors: load_curl() reports a missing library or symbol as a value
// ("cannot load libcurl.so.4: ..."); curl_api() turns that into a logged
// relay::Fatal with EX_CONFIG, which leaves every queued message untouched
// (a deferral of the whole run).
#pragma once

#include <memory>

#include <curl/curl.h>

#include "util/result.hpp"

namespace relay::smtp {

struct CurlApi {
    CURLcode (*global_init)(long flags);
    curl_version_info_data *(*version_info)(CURLversion age);
    CURL *(*easy_init)();
    CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
    CURLcode (*easy_perform)(CURL *h);
    CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
    CURLcode (*easy_send)(CURL *h, const void *buf, size_t len, size_t *sent);
    CURLcode (*easy_recv)(CURL *h, void *buf, size_t len, size_t *got);
    void (*easy_cleanup)(CURL *h);
    void (*easy_reset)(CURL *h);
    const char *(*easy_strerror)(CURLcode code);
    char *(*easy_escape)(CURL *h, const char *s, int len);
    void (*free)(void *p);
    curl_slist *(*slist_append)(curl_slist *list, const char *s);
    void (*slist_free_all)(curl_slist *list);

    // "7.88.1" and whether this build has the features relay needs.
    const char *version = "";
    bool has_ssl = false;
};

// Loads libcurl once; later calls return the same table (or the same error).
Result<const CurlApi *> load_curl();

// Loads SONAME afresh, uncached (for tests and `relay check`): says whether
// the delivery path would work with it.
Result<void> probe_curl(const char *soname);

// load_curl() or give up the invocation: logs the reason and throws
// relay::Fatal(Exit::Config).
const CurlApi &curl_api();

// RAII owners for curl's C handles. The deleters go through the table, so
// they are only ever instantiated after a successful load.
struct EasyDeleter {
    void operator()(CURL *h) const;
};
struct SlistDeleter {
    void operator()(curl_slist *l) const;
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// Appends S to LIST (which may be empty); false when out of memory.
bool slist_append(SlistPtr &list, const char *s);

}  // namespace relay::smtp
