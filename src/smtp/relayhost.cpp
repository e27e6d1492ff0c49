#include "smtp/relayhost.hpp"

#include <arpa/inet.h>
#include <cctype>

#include "util/strings.hpp"

namespace relay::smtp {
namespace {

bool valid_hostname(std::string_view h) {
    if (h.empty() || h.size() > 253) return false;
    for (char c : h) {
        auto u = static_cast<unsigned char>(c);
        if (!(std::isalnum(u) || c == '-' || c == '.' || c == '_')) return false;
    }
    return h.front() != '-' && h.front() != '.';
}

// A decimal port or a well-known service name; 0 = invalid.
unsigned parse_port(std::string_view s) {
    if (s.empty()) return 0;
    static const struct {
        const char *name;
        unsigned port;
    } services[] = {{"smtp", 25}, {"submission", 587}, {"smtps", 465}, {"submissions", 465}};
    for (auto &svc : services)
        if (util::iequals(s, svc.name)) return svc.port;
    unsigned v = 0;
    for (char c : s) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return 0;
        v = v * 10 + static_cast<unsigned>(c - '0');
        if (v > 65535) return 0;
    }
    return v;
}

std::string url_escape_path(std::string_view s) {
    std::string out;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '-' || c == '.' || c == '_') out += c;
        else util::append_hex(out, '%', u);
    }
    return out;
}

}  // namespace

std::string Relay::label() const {
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string Relay::url(config::TlsMode mode, std::string_view helo_name) const {
    std::string u = mode == config::TlsMode::Smtps ? "smtps://" : "smtp://";
    u += ipv6 ? "[" + host + "]" : host;
    u += ":" + std::to_string(port) + "/" + url_escape_path(helo_name);
    return u;
}

Result<Relay> parse_relayhost(std::string_view spec_in, config::TlsMode mode) {
    std::string_view spec = util::trim(spec_in);
    Relay r;
    r.spec = std::string(spec);
    auto bad = [&](const std::string &why) {
        return make_error("relayhost \"" + std::string(spec) + "\": " + why);
    };
    if (spec.empty()) return bad("empty");
    std::string_view host, port;
    if (spec.front() == '[') {
        size_t close = spec.find(']');
        if (close == std::string_view::npos) return bad("no closing ']'");
        host = spec.substr(1, close - 1);
        std::string_view rest = spec.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return bad("expected ':port' after ']'");
            port = rest.substr(1);
            if (port.empty()) return bad("empty port");
        }
        r.bracketed = true;
        if (util::istarts_with(host, "ipv6:")) host.remove_prefix(5);
    } else {
        size_t colon = spec.rfind(':');
        if (colon != std::string_view::npos) {
            if (spec.find(':') != colon)
                return bad("an IPv6 address must be written in brackets: [::1]:25");
            host = spec.substr(0, colon);
            port = spec.substr(colon + 1);
            if (port.empty()) return bad("empty port");
        } else {
            host = spec;
        }
    }
    if (host.empty()) return bad("empty host name");
    unsigned char buf[16];
    std::string h(host);
    if (h.find(':') != std::string::npos) {
        if (!r.bracketed || ::inet_pton(AF_INET6, h.c_str(), buf) != 1)
            return bad("not a valid IPv6 address: " + h);
        r.ipv6 = true;
    } else if (!valid_hostname(h)) {
        return bad("not a valid host name: " + h);
    }
    r.host = util::to_lower(h);
    if (port.empty()) {
        r.port = mode == config::TlsMode::Smtps ? 465 : 25;
    } else {
        r.port = parse_port(port);
        if (r.port == 0) return bad("not a valid port: " + std::string(port));
    }
    return r;
}

Result<std::vector<Relay>> parse_relayhosts(const std::vector<std::string> &specs,
                                            config::TlsMode mode) {
    std::vector<Relay> out;
    for (auto &s : specs) {
        // Postfix allows "a, b" and "a b" in one value as well as a list.
        std::string norm = s;
        for (auto &c : norm)
            if (c == ',' || c == '\t') c = ' ';
        for (auto &part : util::split(norm, ' ')) {
            if (util::trim(part).empty()) continue;
            auto r = parse_relayhost(part, mode);
            if (!r) return r.error();
            out.push_back(std::move(*r));
        }
    }
    if (out.empty()) return make_error("relayhost is not set: nowhere to deliver mail");
    return out;
}

}  // namespace relay::smtp
