#include "smtp/esmtp.hpp"

#include <cctype>

#include "util/strings.hpp"

namespace relay::smtp {
namespace {

// "SIZE 10240000" -> keyword SIZE, argument "10240000".
bool keyword_is(std::string_view line, std::string_view kw, std::string_view &arg) {
    if (!util::istarts_with(line, kw)) return false;
    if (line.size() == kw.size()) {
        arg = {};
        return true;
    }
    if (line[kw.size()] != ' ' && line[kw.size()] != '=') return false;
    arg = util::trim(line.substr(kw.size() + 1));
    return true;
}

}  // namespace

Capabilities Capabilities::parse(const std::vector<std::string> &keywords) {
    Capabilities c;
    for (const std::string &k : keywords) {
        std::string_view line = util::trim(k), arg;
        if (keyword_is(line, "PIPELINING", arg)) c.pipelining = true;
        else if (keyword_is(line, "8BITMIME", arg)) c.eight_bit_mime = true;
        else if (keyword_is(line, "SMTPUTF8", arg)) c.smtputf8 = true;
        else if (keyword_is(line, "DSN", arg)) c.dsn = true;
        else if (keyword_is(line, "SIZE", arg)) {
            c.size = true;
            uint64_t n = 0;
            bool ok = !arg.empty() && arg.size() <= 18;
            for (char ch : arg) {
                if (!std::isdigit(static_cast<unsigned char>(ch))) ok = false;
                else n = n * 10 + static_cast<uint64_t>(ch - '0');
            }
            c.size_limit = ok ? n : 0;
        }
    }
    return c;
}

bool is_ascii(std::string_view s) {
    for (unsigned char ch : s)
        if (ch >= 0x80) return false;
    return true;
}

bool safe_address(std::string_view a) {
    for (char c : a)
        if (c == '\r' || c == '\n' || c == '\0' || c == '<' || c == '>') return false;
    return true;
}

bool wants_smtputf8(const TxEnvelope &env, const std::vector<std::string> &rcpts,
                    const Capabilities &caps) {
    if (!caps.smtputf8) return false;
    if (env.smtputf8 || !is_ascii(env.sender)) return true;
    for (auto &r : rcpts)
        if (!is_ascii(r)) return true;
    return false;
}

std::string mail_command(const TxEnvelope &env, const Capabilities &caps, bool smtputf8) {
    std::string c = "MAIL FROM:<" + env.sender + ">";
    if (caps.size) c += " SIZE=" + std::to_string(env.size);
    if (env.eight_bit && caps.eight_bit_mime) c += " BODY=8BITMIME";
    if (smtputf8) c += " SMTPUTF8";
    if (caps.dsn) {
        if (env.ret == "FULL" || env.ret == "HDRS") c += " RET=" + env.ret;
        if (!env.envid.empty()) c += " ENVID=" + util::xtext_encode(env.envid);
    }
    return c;
}

std::string rcpt_command(std::string_view rcpt, std::string_view notify, std::string_view orig,
                         const Capabilities &caps) {
    std::string c = "RCPT TO:<" + std::string(rcpt) + ">";
    if (!caps.dsn) return c;
    bool notify_ok = !notify.empty();
    for (char ch : notify) notify_ok = notify_ok && ((ch >= 'A' && ch <= 'Z') || ch == ',');
    if (notify_ok) c += " NOTIFY=" + std::string(notify);
    // ORCPT's rfc822 type takes an ASCII address (RFC 3461 4.2); an
    // unqualified name as typed on the command line is not one.
    if (!orig.empty() && orig.find('@') != std::string_view::npos && is_ascii(orig))
        c += " ORCPT=rfc822;" + util::xtext_encode(orig);
    return c;
}

void DotStuffer::put(std::string_view in, std::string &out) {
    size_t start = 0;
    for (size_t i = 0; i < in.size(); ++i) {
        if (at_line_start_ && in[i] == '.') {
            out.append(in.substr(start, i - start));
            out.push_back('.');
            start = i;
        }
        at_line_start_ = in[i] == '\n';
    }
    out.append(in.substr(start));
}

void DotStuffer::finish(std::string &out) const {
    // MessageReader ends the text with CRLF; a stream that did not (none
    // here) would need one first.
    if (!at_line_start_) out.append("\r\n");
    out.append(".\r\n");
}

}  // namespace relay::smtp
