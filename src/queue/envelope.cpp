#include "queue/envelope.hpp"

#include <charconv>

#include "queue/id.hpp"
#include "util/strings.hpp"

namespace relay::queue {
namespace {

constexpr size_t max_envelope_bytes = 64 * 1024 * 1024;
constexpr size_t max_recipients = 100000;

template <typename T>
bool parse_num(std::string_view s, T &out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

bool parse_status(std::string_view s, RcptStatus &out) {
    if (s == "pending") out = RcptStatus::Pending;
    else if (s == "sent") out = RcptStatus::Sent;
    else if (s == "bounced") out = RcptStatus::Bounced;
    else return false;
    return true;
}

bool valid_address_text(std::string_view s) {
    return !util::has_ctl_line_break(s) && s.size() <= 2048;
}

}  // namespace

const char *to_string(RcptStatus s) {
    switch (s) {
    case RcptStatus::Pending: return "pending";
    case RcptStatus::Sent: return "sent";
    case RcptStatus::Bounced: return "bounced";
    }
    return "pending";
}

size_t Envelope::pending() const {
    size_t n = 0;
    for (auto &r : rcpts) n += r.status == RcptStatus::Pending;
    return n;
}

std::string serialize(const Envelope &env) {
    std::string out;
    out.reserve(256 + env.rcpts.size() * 64);
    auto kv = [&out](std::string_view k, std::string_view v) {
        out.append(k).append(": ").append(v).append("\n");
    };
    kv("version", "1");
    kv("id", env.id);
    kv("arrival", std::to_string(env.arrival));
    kv("sender", env.sender);
    kv("uid", std::to_string(env.uid));
    kv("user", util::xtext_encode(env.user));
    kv("size", std::to_string(env.size));
    if (!env.body.empty()) kv("body", env.body);
    if (env.smtputf8) kv("smtputf8", "yes");
    if (!env.ret.empty()) kv("ret", env.ret);
    if (!env.envid.empty()) kv("envid", util::xtext_encode(env.envid));
    kv("tries", std::to_string(env.tries));
    kv("next", std::to_string(env.next_attempt));
    if (env.last_attempt) kv("last", std::to_string(env.last_attempt));
    if (env.warned) kv("warned", "yes");
    if (!env.reason.empty()) kv("reason", util::xtext_encode(env.reason));
    for (auto &r : env.rcpts) {
        kv("rcpt", r.address);
        if (!r.orig.empty() && r.orig != r.address) kv("rcpt.orig", r.orig);
        kv("rcpt.status", to_string(r.status));
        if (!r.notify.empty()) kv("rcpt.notify", r.notify);
        if (!r.reason.empty()) kv("rcpt.reason", util::xtext_encode(r.reason));
    }
    return out;
}

Result<Envelope> parse_envelope(std::string_view text) {
    if (text.size() > max_envelope_bytes) return make_error("envelope too large");
    Envelope env;
    bool have_version = false, have_id = false, have_sender = false, have_size = false;
    size_t lineno = 0;
    while (!text.empty()) {
        ++lineno;
        size_t nl = text.find('\n');
        if (nl == std::string_view::npos) return make_error("truncated envelope (no final newline)");
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        size_t colon = line.find(": ");
        std::string_view key, val;
        if (colon == std::string_view::npos) {
            // "sender:" with an empty value is written as "sender: "; accept
            // a trailing colon alone too.
            if (line.empty() || line.back() != ':')
                return make_error("line " + std::to_string(lineno) + ": not key: value");
            key = line.substr(0, line.size() - 1);
        } else {
            key = line.substr(0, colon);
            val = line.substr(colon + 2);
        }
        if (val.find('\r') != std::string_view::npos || val.find('\0') != std::string_view::npos)
            return make_error("line " + std::to_string(lineno) + ": control character");
        auto bad = [&](const char *what) {
            return make_error("line " + std::to_string(lineno) + ": bad " + what);
        };
        Recipient *last = env.rcpts.empty() ? nullptr : &env.rcpts.back();
        if (!have_version) {
            if (key != "version") return make_error("first line is not the version");
            if (val != "1") return make_error("unsupported envelope version " + std::string(val));
            have_version = true;
        } else if (key == "id") {
            if (!is_valid_id(val)) return bad("id");
            env.id = val;
            have_id = true;
        } else if (key == "arrival") {
            if (!parse_num(val, env.arrival)) return bad("arrival");
        } else if (key == "sender") {
            if (!valid_address_text(val)) return bad("sender");
            env.sender = val;
            have_sender = true;
        } else if (key == "uid") {
            if (!parse_num(val, env.uid)) return bad("uid");
        } else if (key == "user") {
            env.user = util::xtext_decode(val);
        } else if (key == "size") {
            if (!parse_num(val, env.size)) return bad("size");
            have_size = true;
        } else if (key == "body") {
            if (val != "7BIT" && val != "8BITMIME") return bad("body");
            env.body = val;
        } else if (key == "smtputf8") {
            env.smtputf8 = val == "yes";
        } else if (key == "ret") {
            if (val != "FULL" && val != "HDRS") return bad("ret");
            env.ret = val;
        } else if (key == "envid") {
            env.envid = util::xtext_decode(val);
        } else if (key == "tries") {
            if (!parse_num(val, env.tries)) return bad("tries");
        } else if (key == "next") {
            if (!parse_num(val, env.next_attempt)) return bad("next");
        } else if (key == "last") {
            if (!parse_num(val, env.last_attempt)) return bad("last");
        } else if (key == "warned") {
            env.warned = val == "yes";
        } else if (key == "reason") {
            env.reason = util::xtext_decode(val);
        } else if (key == "rcpt") {
            if (val.empty() || !valid_address_text(val)) return bad("rcpt");
            if (env.rcpts.size() >= max_recipients) return make_error("too many recipients");
            env.rcpts.push_back(Recipient{std::string(val)});
        } else if (key == "rcpt.orig") {
            if (!last || !valid_address_text(val)) return bad("rcpt.orig");
            last->orig = val;
        } else if (key == "rcpt.status") {
            if (!last || !parse_status(val, last->status)) return bad("rcpt.status");
        } else if (key == "rcpt.notify") {
            if (!last) return bad("rcpt.notify");
            last->notify = val;
        } else if (key == "rcpt.reason") {
            if (!last) return bad("rcpt.reason");
            last->reason = util::xtext_decode(val);
        } else {
            return make_error("line " + std::to_string(lineno) + ": unknown key '" +
                              std::string(key.substr(0, 40)) + "'");
        }
    }
    if (!have_version || !have_id || !have_sender || !have_size)
        return make_error("incomplete envelope (version, id, sender and size are required)");
    if (env.rcpts.empty()) return make_error("envelope has no recipients");
    return env;
}

}  // namespace relay::queue
