#include "server/protocol.hpp"

#include <cctype>
#include <cstring>

#include <sodium.h>

#include "message/address.hpp"
#include "util/strings.hpp"

namespace relay::server {

void LineFramer::feed(std::string_view bytes) {
    if (pos_ > 0 && pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
    } else if (pos_ > 65536) {
        buf_.erase(0, pos_);
        pos_ = 0;
    }
    buf_.append(bytes);
}

std::optional<Line> LineFramer::next(size_t limit) {
    for (;;) {
        if (pos_ >= buf_.size()) return std::nullopt;
        const char *start = buf_.data() + pos_;
        size_t avail = buf_.size() - pos_;
        const char *nl = static_cast<const char *>(std::memchr(start, '\n', avail));
        if (skipping_) {
            if (!nl) {
                buf_.clear();
                pos_ = 0;
                return std::nullopt;
            }
            pos_ += static_cast<size_t>(nl - start) + 1;
            skipping_ = false;
            continue;
        }
        Line line;
        if (!nl) {
            if (avail <= limit) return std::nullopt;
            line.text.assign(start, limit);
            line.end = LineEnd::TooLong;
            skipping_ = true;
            buf_.clear();
            pos_ = 0;
        } else {
            size_t len = static_cast<size_t>(nl - start);
            pos_ += len + 1;
            if (len > 0 && start[len - 1] == '\r') {
                --len;
                line.end = LineEnd::Crlf;
            } else {
                line.end = LineEnd::BareLf;
            }
            if (len > limit) {
                len = limit;
                line.end = LineEnd::TooLong;
            }
            line.text.assign(start, len);
        }
        line.bare_cr = line.text.find('\r') != std::string::npos;
        return line;
    }
}

namespace {

struct VerbName {
    const char *name;
    Verb verb;
};

constexpr VerbName verbs[] = {
    {"EHLO", Verb::Ehlo}, {"HELO", Verb::Helo}, {"MAIL", Verb::Mail}, {"RCPT", Verb::Rcpt},
    {"DATA", Verb::Data}, {"RSET", Verb::Rset}, {"NOOP", Verb::Noop}, {"QUIT", Verb::Quit},
    {"VRFY", Verb::Vrfy}, {"HELP", Verb::Help}, {"STARTTLS", Verb::StartTls},
    {"AUTH", Verb::Auth}, {"EXPN", Verb::Expn}, {"BDAT", Verb::Bdat}, {"ETRN", Verb::Etrn},
    {"TURN", Verb::Turn}, {"GET", Verb::Http}, {"POST", Verb::Http}, {"HEAD", Verb::Http},
    {"PUT", Verb::Http}, {"CONNECT", Verb::Http},
};

bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }

}  // namespace

Command parse_command(std::string_view line) {
    Command cmd;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty()) {
        cmd.verb = Verb::Empty;
        return cmd;
    }
    size_t sp = line.find(' ');
    std::string_view word = line.substr(0, sp);
    if (word.size() > 16) word = word.substr(0, 16);
    for (char c : word) cmd.name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    if (sp != std::string_view::npos) cmd.arg = std::string(line.substr(sp + 1));
    cmd.verb = Verb::Unknown;
    for (auto &v : verbs)
        if (cmd.name == v.name) cmd.verb = v.verb;
    return cmd;
}

std::optional<Path> parse_path(std::string_view arg, std::string_view prefix, PathError *why) {
    auto fail = [why](PathError e) -> std::optional<Path> {
        if (why) *why = e;
        return std::nullopt;
    };
    if (why) *why = PathError::None;
    if (!util::istarts_with(arg, prefix)) return fail(PathError::Syntax);
    arg.remove_prefix(prefix.size());
    while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
    if (arg.empty() || arg.front() != '<') return fail(PathError::Syntax);
    bool quoted = false;
    size_t i = 1;
    for (; i < arg.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(arg[i]);
        if (is_ctl(c)) return fail(PathError::BadAddress);
        if (quoted && c == '\\') {
            ++i;
            continue;
        }
        if (c == '"') quoted = !quoted;
        else if (c == '>' && !quoted) break;
        else if (c == '<' && !quoted) return fail(PathError::Syntax);
    }
    if (i >= arg.size()) return fail(PathError::Syntax);
    Path path;
    std::string_view addr = arg.substr(1, i - 1);
    if (!addr.empty() && addr.front() == '@') {
        // An obsolete source route (<@a,@b:user@d>): keep the mailbox.
        size_t colon = addr.find(':');
        if (colon == std::string_view::npos) return fail(PathError::SourceRouteOnly);
        addr = addr.substr(colon + 1);
    }
    if (addr.size() > 254) return fail(PathError::BadAddress);
    if (!addr.empty()) {
        message::Address parsed;
        if (!message::split_address(addr, parsed) || !parsed.has_at || parsed.local.empty() ||
            parsed.domain.empty())
            return fail(PathError::BadAddress);
        for (char c : addr)
            if (c == ' ' && addr.front() != '"') return fail(PathError::BadAddress);
    }
    path.address = std::string(addr);
    std::string_view rest = arg.substr(i + 1);
    if (!rest.empty() && rest.front() != ' ') return fail(PathError::Syntax);
    for (auto &word : util::split(rest, ' ')) {
        if (word.empty()) continue;
        Param p;
        size_t eq = word.find('=');
        std::string_view key = std::string_view(word).substr(0, eq);
        if (key.empty() || key.size() > 32) return fail(PathError::Syntax);
        for (char c : key) {
            if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return fail(PathError::Syntax);
            p.key.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
        }
        if (eq != std::string::npos) {
            p.has_value = true;
            p.value = word.substr(eq + 1);
            for (char c : p.value) {
                unsigned char u = static_cast<unsigned char>(c);
                if (u < 33 || u == '=' || u == 0x7f) return fail(PathError::Syntax);
            }
        }
        path.params.push_back(std::move(p));
    }
    if (path.params.size() > 16) return fail(PathError::Syntax);
    return path;
}

std::string domain_of(std::string_view address) {
    size_t at = address.rfind('@');
    if (at == std::string_view::npos) return "";
    return util::to_lower(address.substr(at + 1));
}

bool is_fqdn_address(std::string_view address) {
    size_t at = address.rfind('@');
    if (at == std::string_view::npos || at == 0) return false;
    std::string_view d = address.substr(at + 1);
    if (d.size() >= 3 && d.front() == '[' && d.back() == ']') return true;
    if (d.empty() || d.front() == '.' || d.back() == '.') return false;
    if (d.find("..") != std::string_view::npos) return false;
    return d.find('.') != std::string_view::npos;
}

bool valid_xtext(std::string_view s) {
    for (size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '+') {
            if (i + 2 >= s.size()) return false;
            if (!std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
                !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
                return false;
            i += 2;
        } else if (c < 33 || c > 126 || c == '=') {
            return false;
        }
    }
    return true;
}

DataStatus DataReader::add(const Line &line) {
    if (line.end == LineEnd::Crlf && prev_crlf_ && line.text == ".") return DataStatus::End;
    std::string_view text = line.text;
    // Dot-unstuffing (RFC 5321 4.5.2). A lone "." that did not end the
    // data (bare LF around it) stays content.
    if (text.size() > 1 && text.front() == '.') text.remove_prefix(1);
    bare_cr_ = bare_cr_ || line.bare_cr;
    bare_lf_ = bare_lf_ || line.end == LineEnd::BareLf;
    too_long_ = too_long_ || line.end == LineEnd::TooLong;
    if (in_header_) {
        if (text.empty()) in_header_ = false;
        else if (util::istarts_with(text, "received:")) ++received_;
    }
    size_ += text.size() + 2;
    if (size_ <= limit_) {
        msg_.append(text);
        msg_.push_back('\n');
    } else if (!msg_.empty()) {
        std::string().swap(msg_);
    }
    prev_crlf_ = line.end == LineEnd::Crlf;
    return DataStatus::More;
}

std::string base64_encode(std::string_view in) {
    std::string out(sodium_base64_encoded_len(in.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char *>(in.data()),
                      in.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::strlen(out.c_str()));
    return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
    if (in.size() > 16384) return std::nullopt;
    std::string out(in.size() / 4 * 3 + 3, '\0');
    size_t len = 0;
    const char *end = nullptr;
    if (sodium_base642bin(reinterpret_cast<unsigned char *>(out.data()), out.size(), in.data(),
                          in.size(), nullptr, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0)
        return std::nullopt;
    if (end != in.data() + in.size()) return std::nullopt;
    out.resize(len);
    return out;
}

std::optional<PlainCredentials> parse_plain(std::string_view decoded) {
    size_t a = decoded.find('\0');
    if (a == std::string_view::npos) return std::nullopt;
    size_t b = decoded.find('\0', a + 1);
    if (b == std::string_view::npos) return std::nullopt;
    if (decoded.find('\0', b + 1) != std::string_view::npos) return std::nullopt;
    PlainCredentials c;
    c.authzid = std::string(decoded.substr(0, a));
    c.user = std::string(decoded.substr(a + 1, b - a - 1));
    c.password = std::string(decoded.substr(b + 1));
    if (c.user.empty()) return std::nullopt;
    return c;
}

}  // namespace relay::server
