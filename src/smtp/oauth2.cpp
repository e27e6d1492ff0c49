#include "smtp/oauth2.hpp"

#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include "log/log.hpp"
#include "smtp/curl_api.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/strings.hpp"
#include "util/sys.hpp"

namespace relay::smtp {
namespace {

constexpr size_t max_response = 64 * 1024;

std::string cache_path(const config::Config &cfg) { return cfg.queue.directory + "/oauth2.token"; }

void skip_ws(std::string_view s, size_t &i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
}

void put_utf8(std::string &o, unsigned cp) {
    if (cp < 0x80) {
        o += static_cast<char>(cp);
    } else if (cp < 0x800) {
        o += static_cast<char>(0xC0 | (cp >> 6));
        o += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        o += static_cast<char>(0xE0 | (cp >> 12));
        o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        o += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Parses a JSON string starting at s[i] == '"'; false on a syntax error.
bool parse_string(std::string_view s, size_t &i, std::string &out) {
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
    out.clear();
    while (i < s.size()) {
        char c = s[i++];
        if (c == '"') return true;
        if (c != '\\') {
            out += c;
            continue;
        }
        if (i >= s.size()) return false;
        char e = s[i++];
        switch (e) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
            if (i + 4 > s.size()) return false;
            unsigned cp = 0;
            for (int k = 0; k < 4; ++k) {
                char h = s[i++];
                cp <<= 4;
                if (h >= '0' && h <= '9') cp |= static_cast<unsigned>(h - '0');
                else if (h >= 'a' && h <= 'f') cp |= static_cast<unsigned>(h - 'a' + 10);
                else if (h >= 'A' && h <= 'F') cp |= static_cast<unsigned>(h - 'A' + 10);
                else return false;
            }
            put_utf8(out, cp);
            break;
        }
        default: return false;
        }
    }
    return false;
}

// Skips any JSON value at s[i]; RAW gets scalars as written.
bool skip_value(std::string_view s, size_t &i, std::string *raw) {
    skip_ws(s, i);
    if (i >= s.size()) return false;
    if (s[i] == '"') {
        std::string tmp;
        if (!parse_string(s, i, tmp)) return false;
        if (raw) *raw = std::move(tmp);
        return true;
    }
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        while (i < s.size()) {
            char c = s[i];
            if (c == '"') {
                std::string tmp;
                if (!parse_string(s, i, tmp)) return false;
                continue;
            }
            if (c == '{' || c == '[') ++depth;
            if (c == '}' || c == ']') {
                if (--depth == 0) {
                    ++i;
                    return true;
                }
            }
            ++i;
        }
        return false;
    }
    size_t b = i;
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ' ' && s[i] != '\n' &&
           s[i] != '\r' && s[i] != '\t')
        ++i;
    if (raw) *raw = std::string(s.substr(b, i - b));
    return i > b;
}

Result<void> write_private(const std::string &path, const std::string &text) {
    std::string tmp = path + ".tmp";
    ::unlink(tmp.c_str());
    util::UniqueFd fd(util::sys::openat(AT_FDCWD, tmp.c_str(),
                                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return make_error(tmp + ": " + errno_text(errno), errno);
    if (util::sys::write_all(fd.get(), text.data(), text.size()) < 0 ||
        util::sys::fsync(fd.get()) < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return make_error(tmp + ": " + errno_text(err), err);
    }
    fd.reset();
    if (util::sys::renameat(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str()) < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return make_error(path + ": " + errno_text(err), err);
    }
    return {};
}

size_t on_body(char *data, size_t size, size_t n, void *userp) {
    auto *out = static_cast<std::string *>(userp);
    size_t len = size * n;
    if (out->size() + len > max_response) return 0;  // abort: far too big for a token answer
    out->append(data, len);
    return len;
}

std::string form_escape(const CurlApi &api, CURL *h, std::string_view v) {
    char *e = api.easy_escape(h, v.data(), static_cast<int>(v.size()));
    if (!e) throw std::bad_alloc();
    std::string r(e);
    sodium_memzero(e, r.size());
    api.free(e);
    return r;
}

std::string_view secret_line(const Secret &s) { return first_line(s.str()); }

}  // namespace

bool json_field(std::string_view s, std::string_view key, std::string &out) {
    size_t i = 0;
    skip_ws(s, i);
    if (i >= s.size() || s[i] != '{') return false;
    ++i;
    for (;;) {
        skip_ws(s, i);
        if (i < s.size() && s[i] == '}') return false;
        std::string k;
        if (!parse_string(s, i, k)) return false;
        skip_ws(s, i);
        if (i >= s.size() || s[i] != ':') return false;
        ++i;
        std::string v;
        if (!skip_value(s, i, &v)) return false;
        if (k == key) {
            out = std::move(v);
            return true;
        }
        skip_ws(s, i);
        if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
        }
        return false;
    }
}

void oauth2_forget_token(const config::Config &cfg) { ::unlink(cache_path(cfg).c_str()); }

Result<Secret> oauth2_access_token(const config::Config &cfg) {
    const auto &sc = cfg.smtp;
    const std::string &endpoint = sc.oauth2_token_endpoint;
    if (!util::istarts_with(endpoint, "https://"))
        return make_error("[smtp] oauth2_token_endpoint must be an https:// URL");
    if (sc.oauth2_client_id.empty()) return make_error("[smtp] oauth2_client_id is not set");
    const int64_t now = static_cast<int64_t>(::time(nullptr));

    // The cache: "endpoint URL", "client_id ID", "expires EPOCH", "token T".
    const std::string cache = cache_path(cfg);
    if (::access(cache.c_str(), F_OK) == 0) {
        auto c = read_secret_file(cache, "oauth2 token cache");
        if (c) {
            std::string ep, id, token;
            int64_t expires = 0;
            auto lines = util::split(c->str(), '\n');
            for (auto &line : lines) {
                auto sp = line.find(' ');
                if (sp == std::string::npos) continue;
                std::string k = line.substr(0, sp), v = line.substr(sp + 1);
                if (k == "endpoint") ep = v;
                else if (k == "client_id") id = v;
                else if (k == "expires") expires = std::atoll(v.c_str());
                else if (k == "token") token = v;
                Secret wipe_v(std::move(v));
            }
            for (auto &line : lines) Secret wipe_line(std::move(line));
            if (ep == endpoint && id == sc.oauth2_client_id && !token.empty() && expires > now + 60)
                return Secret(std::move(token));
            Secret wipe_t(std::move(token));
        } else {
            log::warning(c.error().message + "; asking for a new token");
        }
    }

    auto api_r = load_curl();
    if (!api_r) return api_r.error();
    const CurlApi &api = **api_r;
    EasyPtr h(api.easy_init());
    if (!h) return make_error("curl_easy_init failed");

    Secret client_secret, refresh;
    if (!sc.oauth2_client_secret_file.empty()) {
        auto s = read_secret_file(sc.oauth2_client_secret_file, "oauth2_client_secret_file");
        if (!s) return s.error();
        client_secret = Secret(std::string(secret_line(*s)));
    }
    if (!sc.oauth2_refresh_token_file.empty()) {
        auto s = read_secret_file(sc.oauth2_refresh_token_file, "oauth2_refresh_token_file");
        if (!s) return s.error();
        refresh = Secret(std::string(secret_line(*s)));
        if (refresh.empty()) return make_error("oauth2_refresh_token_file is empty");
    }
    std::string body_s;
    if (!refresh.empty())
        body_s = "grant_type=refresh_token&refresh_token=" + form_escape(api, h.get(), refresh.str());
    else
        body_s = "grant_type=client_credentials";
    body_s += "&client_id=" + form_escape(api, h.get(), sc.oauth2_client_id);
    if (!client_secret.empty())
        body_s += "&client_secret=" + form_escape(api, h.get(), client_secret.str());
    if (!sc.oauth2_scope.empty()) body_s += "&scope=" + form_escape(api, h.get(), sc.oauth2_scope);
    Secret body(std::move(body_s));

    std::string response;
    response.reserve(max_response);
    char errbuf[CURL_ERROR_SIZE] = {};
    CURL *e = h.get();
    api.easy_setopt(e, CURLOPT_URL, endpoint.c_str());
    api.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
    api.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    api.easy_setopt(e, CURLOPT_TIMEOUT, 30L);
    api.easy_setopt(e, CURLOPT_CONNECTTIMEOUT, static_cast<long>(sc.connect_timeout.count()));
    api.easy_setopt(e, CURLOPT_POSTFIELDS, body.c_str());
    api.easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
    api.easy_setopt(e, CURLOPT_WRITEDATA, &response);
    api.easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    api.easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    api.easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!sc.oauth2_ca_file.empty()) api.easy_setopt(e, CURLOPT_CAINFO, sc.oauth2_ca_file.c_str());
    CURLcode rc = api.easy_perform(e);
    long status = 0;
    api.easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    h.reset();
    Secret wipe_response(std::move(response));
    const std::string &resp = wipe_response.str();
    const std::string where = "oauth2 token request to " + endpoint;
    if (rc != CURLE_OK)
        return make_error(where + " failed: " + (errbuf[0] ? errbuf : api.easy_strerror(rc)));
    std::string token, expires_in, err, desc, new_refresh;
    if (status != 200 || !json_field(resp, "access_token", token)) {
        json_field(resp, "error", err);
        json_field(resp, "error_description", desc);
        std::string what = err.empty() ? "no access_token in the answer" : err;
        if (!desc.empty()) what += " (" + desc.substr(0, 200) + ")";
        return make_error(where + ": HTTP " + std::to_string(status) + ": " + what);
    }
    Secret tok(std::move(token));
    int64_t lifetime = 3600;
    if (json_field(resp, "expires_in", expires_in) && !expires_in.empty())
        lifetime = std::atoll(expires_in.c_str());
    if (json_field(resp, "refresh_token", new_refresh) && !new_refresh.empty() &&
        !sc.oauth2_refresh_token_file.empty() && new_refresh != refresh.str()) {
        Secret nr(std::move(new_refresh));
        if (auto w = write_private(sc.oauth2_refresh_token_file, nr.str() + "\n"); !w)
            log::warning("cannot store the rotated refresh token: " + w.error().message);
    }
    Secret cached("endpoint " + endpoint + "\nclient_id " + sc.oauth2_client_id + "\nexpires " +
                  std::to_string(now + lifetime) + "\ntoken " + tok.str() + "\n");
    if (auto w = write_private(cache, cached.str()); !w)
        log::warning("cannot cache the oauth2 token: " + w.error().message);
    return tok;
}

}  // namespace relay::smtp
