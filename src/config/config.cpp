#include "config/config.hpp"

#include <cctype>
#include <fstream>
#include <functional>
#include <sstream>
#include <arpa/inet.h>
#include <unistd.h>

#include <toml++/toml.h>

#include "build_config.hpp"
#include "config/toml_text.hpp"
#include "util/strings.hpp"

namespace relay::config {
namespace {

// Each key has one setter: it validates the node and stores the value, or
// returns the reason it cannot.
using Setter = std::function<std::optional<std::string>(const toml::node &)>;
struct Key {
    const char *name;
    Setter set;
};

std::optional<std::string> set_string(const toml::node &n, std::string &out) {
    auto v = n.value<std::string>();
    if (!v || !n.is_string()) return "expected a string";
    if (util::has_ctl_line_break(*v)) return "must not contain CR, LF or NUL";
    out = *v;
    return std::nullopt;
}

std::optional<std::string> set_bool(const toml::node &n, bool &out) {
    if (!n.is_boolean()) return "expected true or false";
    out = *n.value<bool>();
    return std::nullopt;
}

// A list of strings; a single string is accepted as a list of one.
// Each string follows set_string()'s rule (no CR, LF or NUL).
std::optional<std::string> set_list(const toml::node &n, std::vector<std::string> &out) {
    out.clear();
    if (n.is_string()) {
        out.emplace_back();
        return set_string(n, out.back());
    }
    auto *arr = n.as_array();
    if (!arr) return "expected a string or a list of strings";
    for (auto &e : *arr) {
        if (!e.is_string()) return "expected a list of strings";
        out.emplace_back();
        if (auto err = set_string(e, out.back())) return err;
    }
    return std::nullopt;
}

// Sizes: an integer (bytes) or "10M", "512k", "1G".
std::optional<std::string> set_size(const toml::node &n, uint64_t &out) {
    if (n.is_integer()) {
        auto v = *n.value<int64_t>();
        if (v < 0) return "must not be negative";
        out = static_cast<uint64_t>(v);
        return std::nullopt;
    }
    if (!n.is_string()) return "expected a size (bytes, or a number with k, M or G)";
    std::string s = *n.value<std::string>();
    size_t pos = 0;
    uint64_t num = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])))
        num = num * 10 + static_cast<uint64_t>(s[pos++] - '0');
    if (pos == 0 || pos + 1 < s.size()) return "expected a size (bytes, or a number with k, M or G)";
    uint64_t mult = 1;
    if (pos < s.size()) {
        switch (std::tolower(static_cast<unsigned char>(s[pos]))) {
        case 'k': mult = 1024; break;
        case 'm': mult = 1024 * 1024; break;
        case 'g': mult = 1024ull * 1024 * 1024; break;
        default: return "unknown size unit '" + s.substr(pos) + "' (use k, M or G)";
        }
    }
    out = num * mult;
    return std::nullopt;
}

// Durations as Postfix writes them: an integer (seconds) or "300s", "5m",
// "1h", "5d", "1w".
std::optional<std::string> set_duration(const toml::node &n, Seconds &out) {
    if (n.is_integer()) {
        auto v = *n.value<int64_t>();
        if (v < 0) return "must not be negative";
        out = Seconds(v);
        return std::nullopt;
    }
    if (!n.is_string()) return "expected a duration (seconds, or a number with s, m, h, d or w)";
    std::string s = *n.value<std::string>();
    size_t pos = 0;
    int64_t num = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])) && num < (1ll << 40))
        num = num * 10 + (s[pos++] - '0');
    if (pos == 0 || pos + 1 < s.size())
        return "expected a duration (seconds, or a number with s, m, h, d or w)";
    int64_t mult = 1;
    if (pos < s.size()) {
        switch (s[pos]) {
        case 's': mult = 1; break;
        case 'm': mult = 60; break;
        case 'h': mult = 3600; break;
        case 'd': mult = 86400; break;
        case 'w': mult = 7 * 86400; break;
        default: return "unknown time unit '" + s.substr(pos) + "' (use s, m, h, d or w)";
        }
    }
    out = Seconds(num * mult);
    return std::nullopt;
}

std::optional<std::string> set_unsigned(const toml::node &n, unsigned &out, unsigned lo,
                                        unsigned hi) {
    if (!n.is_integer()) return "expected an integer";
    auto v = *n.value<int64_t>();
    if (v < lo || v > hi)
        return "must be between " + std::to_string(lo) + " and " + std::to_string(hi);
    out = static_cast<unsigned>(v);
    return std::nullopt;
}

std::optional<std::string> set_tls_mode(const toml::node &n, TlsMode &out) {
    std::string s;
    if (auto e = set_string(n, s)) return e;
    if (s == "starttls") out = TlsMode::StartTls;
    else if (s == "smtps" || s == "tls") out = TlsMode::Smtps;
    else if (s == "none") out = TlsMode::None;
    else return "expected one of starttls, smtps, none";
    return std::nullopt;
}

#define STR(obj, field) Key{#field, [&c](const toml::node &n) { return set_string(n, obj.field); }}
#define BOOL(obj, field) Key{#field, [&c](const toml::node &n) { return set_bool(n, obj.field); }}
#define LIST(obj, field) Key{#field, [&c](const toml::node &n) { return set_list(n, obj.field); }}
#define SIZE(obj, field) Key{#field, [&c](const toml::node &n) { return set_size(n, obj.field); }}
#define DUR(obj, field) Key{#field, [&c](const toml::node &n) { return set_duration(n, obj.field); }}

std::vector<Key> top_keys(Config &c) {
    return {
        STR(c, myhostname),
        STR(c, mydomain),
        STR(c, myorigin),
        // relayhost at the top level, as in main.cf; same as [smtp] relayhost.
        Key{"relayhost", [&c](const toml::node &n) { return set_list(n, c.smtp.relayhost); }},
    };
}

std::vector<Key> queue_keys(Config &c) {
    auto &q = c.queue;
    (void)q;
    return {
        STR(c.queue, directory),
        SIZE(c.queue, message_size_limit),
        SIZE(c.queue, min_free_bytes),
        Key{"min_free_inodes",
            [&c](const toml::node &n) { return set_size(n, c.queue.min_free_inodes); }},
        DUR(c.queue, maximal_queue_lifetime),
        DUR(c.queue, bounce_queue_lifetime),
        DUR(c.queue, minimal_backoff_time),
        DUR(c.queue, maximal_backoff_time),
        DUR(c.queue, delay_warning_time),
        BOOL(c.queue, flush_after_submit),
    };
}

std::vector<Key> rewrite_keys(Config &c) {
    return {
        BOOL(c.rewrite, append_at_myorigin),
        BOOL(c.rewrite, append_dot_mydomain),
        STR(c.rewrite, recipient_delimiter),
        LIST(c.rewrite, canonical_maps),
        LIST(c.rewrite, sender_canonical_maps),
        LIST(c.rewrite, recipient_canonical_maps),
        LIST(c.rewrite, canonical_classes),
        LIST(c.rewrite, masquerade_domains),
        LIST(c.rewrite, masquerade_exceptions),
        LIST(c.rewrite, masquerade_classes),
        LIST(c.rewrite, virtual_alias_maps),
        LIST(c.rewrite, alias_maps),
        LIST(c.rewrite, smtp_generic_maps),
        STR(c.rewrite, force_from),
        LIST(c.rewrite, local_domains),
        LIST(c.rewrite, propagate_unmatched_extensions),
        Key{"virtual_alias_recursion_limit",
            [&c](const toml::node &n) {
                return set_unsigned(n, c.rewrite.virtual_alias_recursion_limit, 1, 100000);
            }},
        Key{"virtual_alias_expansion_limit",
            [&c](const toml::node &n) {
                return set_unsigned(n, c.rewrite.virtual_alias_expansion_limit, 1, 100000);
            }},
    };
}

std::vector<Key> smtp_keys(Config &c) {
    return {
        LIST(c.smtp, relayhost),
        Key{"tls", [&c](const toml::node &n) { return set_tls_mode(n, c.smtp.tls); }},
        BOOL(c.smtp, tls_verify),
        STR(c.smtp, ca_file),
        STR(c.smtp, ca_path),
        STR(c.smtp, tls_pin_sha256),
        STR(c.smtp, client_cert),
        STR(c.smtp, client_key),
        STR(c.smtp, tls_min_version),
        BOOL(c.smtp, allow_plaintext_auth),
        STR(c.smtp, username),
        STR(c.smtp, password_file),
        STR(c.smtp, password_command),
        STR(c.smtp, sasl_password_maps),
        LIST(c.smtp, auth_mechanisms),
        STR(c.smtp, oauth2_token_command),
        STR(c.smtp, oauth2_token_endpoint),
        STR(c.smtp, oauth2_client_id),
        STR(c.smtp, oauth2_client_secret_file),
        STR(c.smtp, oauth2_refresh_token_file),
        STR(c.smtp, oauth2_ca_file),
        STR(c.smtp, oauth2_scope),
        STR(c.smtp, sender_dependent_relayhost_maps),
        BOOL(c.smtp, sender_dependent_authentication),
        STR(c.smtp, notify_recipient),
        DUR(c.smtp, connect_timeout),
        DUR(c.smtp, command_timeout),
        DUR(c.smtp, data_timeout),
        Key{"max_messages_per_connection",
            [&c](const toml::node &n) {
                return set_unsigned(n, c.smtp.max_messages_per_connection, 1, 100000);
            }},
        Key{"max_connections",
            [&c](const toml::node &n) { return set_unsigned(n, c.smtp.max_connections, 1, 64); }},
        STR(c.smtp, helo_name),
        BOOL(c.smtp, direct_delivery),
        Key{"direct_tls",
            [&c](const toml::node &n) -> std::optional<std::string> {
                std::string s;
                if (auto e = set_string(n, s)) return e;
                if (s == "none") c.smtp.direct_tls = DirectTls::None;
                else if (s == "may") c.smtp.direct_tls = DirectTls::May;
                else if (s == "encrypt") c.smtp.direct_tls = DirectTls::Encrypt;
                else if (s == "verify") c.smtp.direct_tls = DirectTls::Verify;
                else return "expected one of none, may, encrypt, verify";
                return std::nullopt;
            }},
        Key{"direct_port",
            [&c](const toml::node &n) { return set_unsigned(n, c.smtp.direct_port, 1, 65535); }},
        Key{"direct_dns_server",
            [&c](const toml::node &n) -> std::optional<std::string> {
                std::string s;
                if (auto e = set_string(n, s)) return e;
                size_t colon = s.rfind(':');
                struct in_addr a;
                unsigned long port = 0;
                if (colon != std::string::npos && colon + 1 < s.size() && colon + 6 >= s.size() &&
                    s.find_first_not_of("0123456789", colon + 1) == std::string::npos)
                    port = std::stoul(s.substr(colon + 1));
                if (colon == std::string::npos || port == 0 || port > 65535 ||
                    inet_pton(AF_INET, s.substr(0, colon).c_str(), &a) != 1)
                    return "expected an IPv4 address and a port, e.g. \"127.0.0.1:53\"";
                c.smtp.direct_dns_server = s;
                return std::nullopt;
            }},
    };
}

std::optional<std::string> set_listeners(const toml::node &n, std::vector<ListenerSpec> &out) {
    std::vector<std::string> items;
    if (auto e = set_list(n, items)) return e;
    out.clear();
    for (auto &item : items) {
        std::string why;
        auto spec = parse_listener(item, why);
        if (!spec) return "\"" + item + "\": " + why;
        out.push_back(*spec);
    }
    return std::nullopt;
}

std::optional<std::string> set_bare_newline(const toml::node &n, BareNewline &out) {
    std::string s;
    if (auto e = set_string(n, s)) return e;
    if (s == "normalize") out = BareNewline::Normalize;
    else if (s == "reject") out = BareNewline::Reject;
    else return "expected one of normalize, reject";
    return std::nullopt;
}

#define UINT(obj, field, lo, hi) \
    Key{#field, [&c](const toml::node &n) { return set_unsigned(n, obj.field, lo, hi); }}

std::vector<Key> server_keys(Config &c) {
    return {
        Key{"listen", [&c](const toml::node &n) { return set_listeners(n, c.server.listen); }},
        STR(c.server, tls_cert_file),
        STR(c.server, tls_key_file),
        STR(c.server, tls_min_version),
        STR(c.server, users_file),
        LIST(c.server, mynetworks),
        LIST(c.server, virtual_mailbox_domains),
        LIST(c.server, virtual_mailbox_maps),
        LIST(c.server, virtual_alias_maps),
        LIST(c.server, sender_login_maps),
        STR(c.server, virtual_mailbox_base),
        UINT(c.server, virtual_uid, 0, 4294967294u),
        UINT(c.server, virtual_gid, 0, 4294967294u),
        STR(c.server, user),
        DUR(c.server, greet_pause),
        BOOL(c.server, peername_lookup),
        DUR(c.server, timeout),
        DUR(c.server, data_timeout),
        DUR(c.server, error_sleep_time),
        UINT(c.server, soft_error_limit, 1, 1000),
        UINT(c.server, hard_error_limit, 1, 1000),
        UINT(c.server, recipient_limit, 1, 100000),
        UINT(c.server, max_connections, 1, 100000),
        UINT(c.server, client_connection_limit, 1, 100000),
        UINT(c.server, auth_failure_limit, 1, 1000),
        DUR(c.server, auth_failure_window),
        UINT(c.server, hopcount_limit, 1, 1000),
        Key{"forbid_bare_newline",
            [&c](const toml::node &n) { return set_bare_newline(n, c.server.forbid_bare_newline); }},
    };
}

#undef UINT
#undef STR
#undef BOOL
#undef LIST
#undef SIZE
#undef DUR

std::string where(const std::string &name, const toml::node &n) {
    return name + ":" + std::to_string(n.source().begin.line);
}

// Applies TABLE's entries to KEYS; SECTION is "" for the top level.
std::optional<std::string> apply(const toml::table &table, const std::vector<Key> &keys,
                                 const std::string &section, const std::string &name,
                                 const std::vector<std::string> &subtables) {
    for (auto &&[k, node] : table) {
        std::string key(k.str());
        std::string label = section.empty() ? key : "[" + section + "] " + key;
        bool is_sub = false;
        for (auto &s : subtables) is_sub = is_sub || s == key;
        if (is_sub) continue;
        const Key *found = nullptr;
        for (auto &cand : keys)
            if (key == cand.name) found = &cand;
        if (!found) return where(name, node) + ": " + label + ": unknown key";
        if (auto e = found->set(node)) return where(name, node) + ": " + label + ": " + *e;
    }
    return std::nullopt;
}

std::string read_first_line(const char *path) {
    std::ifstream in(path);
    std::string line;
    if (in) std::getline(in, line);
    return std::string(util::trim(line));
}

}  // namespace

std::optional<ListenerSpec> parse_listener(std::string_view text, std::string &why) {
    ListenerSpec spec;
    spec.text = std::string(text);
    std::string_view t = util::trim(text);
    size_t sp = t.find_first_of(" \t");
    if (sp == std::string_view::npos) {
        why = "expected \"KIND HOST:PORT\" (KIND: smtp, submission, smtps or local)";
        return std::nullopt;
    }
    std::string kind = util::to_lower(t.substr(0, sp));
    std::string_view addr = util::trim(t.substr(sp));
    if (kind == "smtp") spec.kind = ListenerKind::Smtp;
    else if (kind == "submission") spec.kind = ListenerKind::Submission;
    else if (kind == "smtps") spec.kind = ListenerKind::Smtps;
    else if (kind == "local") spec.kind = ListenerKind::Local;
    else {
        why = "unknown listener kind '" + kind + "' (use smtp, submission, smtps or local)";
        return std::nullopt;
    }
    std::string_view host, port;
    if (!addr.empty() && addr.front() == '[') {
        size_t close = addr.find(']');
        if (close == std::string_view::npos || close + 1 >= addr.size() || addr[close + 1] != ':') {
            why = "expected [IPV6]:PORT";
            return std::nullopt;
        }
        host = addr.substr(1, close - 1);
        port = addr.substr(close + 2);
        if (host.find(':') == std::string_view::npos) {
            why = "brackets are for IPv6 addresses";
            return std::nullopt;
        }
    } else {
        size_t colon = addr.rfind(':');
        if (colon == std::string_view::npos || addr.substr(0, colon).find(':') != std::string_view::npos) {
            why = "expected HOST:PORT (IPv6 addresses in brackets)";
            return std::nullopt;
        }
        host = addr.substr(0, colon);
        port = addr.substr(colon + 1);
    }
    if (host == "*" || host == "::" || host == "0.0.0.0") host = host == "0.0.0.0" ? "0.0.0.0" : "";
    for (char ch : host)
        if (!(std::isxdigit(static_cast<unsigned char>(ch)) || ch == '.' || ch == ':')) {
            why = "the host must be a numeric IPv4 or IPv6 address";
            return std::nullopt;
        }
    unsigned long p = 0;
    if (port.empty() || port.size() > 5) {
        why = "bad port";
        return std::nullopt;
    }
    for (char ch : port) {
        if (!std::isdigit(static_cast<unsigned char>(ch))) {
            why = "bad port";
            return std::nullopt;
        }
        p = p * 10 + static_cast<unsigned long>(ch - '0');
    }
    if (p == 0 || p > 65535) {
        why = "port out of range";
        return std::nullopt;
    }
    spec.host = std::string(host);
    spec.port = static_cast<uint16_t>(p);
    return spec;
}

void finish_defaults(Config &cfg) {
    if (cfg.myhostname.empty()) {
        char buf[256] = {};
        if (gethostname(buf, sizeof buf - 1) == 0) cfg.myhostname = buf;
        if (cfg.myhostname.empty()) cfg.myhostname = "localhost";
        if (cfg.myhostname.find('.') == std::string::npos) {
            // A short host name: /etc/mailname (Debian policy 11.6) gives the domain.
            std::string mailname = read_first_line("/etc/mailname");
            if (!mailname.empty() && mailname != cfg.myhostname &&
                mailname.find('.') != std::string::npos)
                cfg.myhostname = util::to_lower(mailname);
        }
    }
    if (cfg.mydomain.empty()) {
        auto dot = cfg.myhostname.find('.');
        cfg.mydomain = dot == std::string::npos ? cfg.myhostname : cfg.myhostname.substr(dot + 1);
    }
    if (cfg.myorigin.empty()) {
        std::string mailname = read_first_line("/etc/mailname");
        cfg.myorigin = mailname.empty() ? cfg.myhostname : util::to_lower(mailname);
    }
    if (cfg.queue.directory.empty()) cfg.queue.directory = build::spool_dir;
    if (cfg.smtp.helo_name.empty()) cfg.smtp.helo_name = cfg.myhostname;
    if (cfg.server.listen.empty()) {
        std::string why;
        for (const char *d : {"local 127.0.0.1:25", "local [::1]:25"})
            cfg.server.listen.push_back(*parse_listener(d, why));
    }
}

Result<Config> parse(std::string_view text, const std::string &name) {
    Config cfg;
    cfg.source = name;
    auto guarded = guard_toml_text(text, name);
    if (!guarded) return guarded.error();
    toml::table root;
    try {
        root = toml::parse(*guarded, name);
    } catch (const toml::parse_error &e) {
        return make_error(name + ":" + std::to_string(e.source().begin.line) + ": " +
                          std::string(e.description()));
    }
    static const std::vector<std::string> sections{"queue", "rewrite", "smtp", "server"};
    if (auto e = apply(root, top_keys(cfg), "", name, sections)) return make_error(*e);
    auto section = [&](const char *sname, std::vector<Key> keys) -> std::optional<std::string> {
        auto *node = root.get(sname);
        if (!node) return std::nullopt;
        auto *tbl = node->as_table();
        if (!tbl) return where(name, *node) + ": " + sname + ": expected a [" + sname + "] table";
        return apply(*tbl, keys, sname, name, {});
    };
    if (auto e = section("queue", queue_keys(cfg))) return make_error(*e);
    if (auto e = section("rewrite", rewrite_keys(cfg))) return make_error(*e);
    if (auto e = section("smtp", smtp_keys(cfg))) return make_error(*e);
    if (auto e = section("server", server_keys(cfg))) return make_error(*e);
    if (cfg.server.tls_cert_file.empty() != cfg.server.tls_key_file.empty())
        return make_error(name + ": [server] tls_cert_file and tls_key_file go together");
    if (cfg.server.tls_min_version != "1.2" && cfg.server.tls_min_version != "1.3")
        return make_error(name + ": [server] tls_min_version: expected \"1.2\" or \"1.3\"");
    if (cfg.server.soft_error_limit > cfg.server.hard_error_limit)
        return make_error(name + ": [server] soft_error_limit is larger than hard_error_limit");

    if (cfg.queue.minimal_backoff_time > cfg.queue.maximal_backoff_time)
        return make_error(name + ": [queue] minimal_backoff_time is larger than maximal_backoff_time");
    if (!cfg.rewrite.recipient_delimiter.empty() && cfg.rewrite.recipient_delimiter.size() > 8)
        return make_error(name + ": [rewrite] recipient_delimiter: too long");
    if (!cfg.queue.directory.empty() && cfg.queue.directory[0] != '/')
        return make_error(name + ": [queue] directory: must be an absolute path");
    finish_defaults(cfg);
    return cfg;
}

Result<Config> load(const std::string &path, bool must_exist) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        int err = errno;
        if (err == ENOENT && !must_exist) {
            Config cfg;
            finish_defaults(cfg);
            return cfg;
        }
        return make_error(path + ": cannot open: " + std::string(strerror(err)), err);
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse(ss.str(), path);
}

}  // namespace relay::config
