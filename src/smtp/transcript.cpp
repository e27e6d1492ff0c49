#include "smtp/transcript.hpp"

#include "util/strings.hpp"

namespace relay::smtp {
namespace {

// Which phase a command line starts; Local = not an SMTP command we know.
Phase command_phase(std::string_view line) {
    if (util::istarts_with(line, "EHLO") || util::istarts_with(line, "HELO")) return Phase::Helo;
    if (util::istarts_with(line, "STARTTLS")) return Phase::Tls;
    if (util::istarts_with(line, "AUTH")) return Phase::Auth;
    if (util::istarts_with(line, "MAIL FROM")) return Phase::Mail;
    if (util::istarts_with(line, "RCPT TO")) return Phase::Rcpt;
    if (util::iequals(line, "DATA")) return Phase::Data;
    return Phase::Local;
}

std::string_view strip_eol(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

}  // namespace

void Transcript::begin_message() {
    out_buf_.clear();
    in_buf_.clear();
    pending_.clear();
    state_ = Phase::Connect;
    state_reply_ = {};
    greeted_ = false;
    in_auth_ = false;
    auth_sent_ = false;
    partial_ = {};
    partial_lines_.clear();
    mail_ = dot_ = last_ = {};
    rcpts_.clear();
    lines_.clear();
    tried_ip_.clear();
}

void Transcript::on_text(std::string_view data) {
    // "  Trying 192.0.2.1:587..." or "  Trying [2001:db8::1]:587..."
    std::string_view t = util::trim(data);
    if (!util::istarts_with(t, "Trying ")) return;
    t.remove_prefix(7);
    if (!t.empty() && t.front() == '[') {
        size_t close = t.find(']');
        if (close != std::string_view::npos) tried_ip_ = std::string(t.substr(1, close - 1));
        return;
    }
    size_t colon = t.find(':');
    if (colon != std::string_view::npos) tried_ip_ = std::string(t.substr(0, colon));
}

bool Transcript::has_capability(std::string_view keyword) const {
    for (auto &c : caps_) {
        std::string_view cv(c);
        if (util::istarts_with(cv, keyword) &&
            (cv.size() == keyword.size() || cv[keyword.size()] == ' ' ||
             cv[keyword.size()] == '='))
            return true;
    }
    return false;
}

void Transcript::on_out(std::string_view data) {
    out_buf_.append(data);
    size_t pos;
    while ((pos = out_buf_.find('\n')) != std::string::npos) {
        std::string line = out_buf_.substr(0, pos + 1);
        out_buf_.erase(0, pos + 1);
        on_command(strip_eol(line));
    }
}

void Transcript::on_command(std::string_view line) {
    Phase p = command_phase(line);
    if (p == Phase::Local) {
        if (in_auth_) {
            lines_.push_back("> <redacted>");  // a SASL response: secret
            return;
        }
        // QUIT, RSET, NOOP: answered but not part of a delivery phase.
        lines_.push_back("> " + std::string(line));
        pending_.push_back(Phase::Local);
        return;
    }
    if (p == Phase::Auth) {
        // "AUTH PLAIN <base64>" carries the password: keep the verb and mechanism only.
        std::string_view shown = line;
        size_t sp = line.find(' ');
        if (sp != std::string_view::npos) {
            size_t sp2 = line.find(' ', sp + 1);
            if (sp2 != std::string_view::npos) shown = line.substr(0, sp2);
        }
        lines_.push_back("> " + std::string(shown) + (shown.size() < line.size() ? " <redacted>" : ""));
        in_auth_ = true;
        auth_sent_ = true;
    } else {
        lines_.push_back("> " + std::string(line));
        in_auth_ = false;
    }
    pending_.push_back(p);
    state_ = p;
    state_reply_ = {};
}

void Transcript::on_in(std::string_view data) {
    in_buf_.append(data);
    size_t pos;
    while ((pos = in_buf_.find('\n')) != std::string::npos) {
        std::string line = in_buf_.substr(0, pos + 1);
        in_buf_.erase(0, pos + 1);
        on_reply_line(strip_eol(line));
    }
}

void Transcript::on_reply_line(std::string_view line) {
    int code = 0;
    std::string_view enhanced;
    if (!parse_reply_code(line, code, enhanced)) {
        // Not a reply line; keep it for -v, it cannot be matched to anything.
        lines_.push_back("< " + std::string(line));
        return;
    }
    bool more = line.size() > 3 && line[3] == '-';
    std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
    if (partial_.empty()) {
        partial_.code = code;
        partial_.enhanced = std::string(enhanced);
        partial_.text = std::string(line.substr(0, 3));
    }
    // Postfix joins continuation lines with a space; the enhanced code is
    // repeated on each line, so drop it from all but the first.
    std::string_view body = text;
    if (!partial_lines_.empty() && !enhanced.empty() && util::istarts_with(body, enhanced)) {
        body.remove_prefix(enhanced.size());
        while (!body.empty() && body.front() == ' ') body.remove_prefix(1);
    }
    if (!body.empty()) partial_.text += " " + std::string(body);
    partial_lines_.emplace_back(text);
    lines_.push_back("< " + std::string(line));
    if (more) return;
    Reply r = std::move(partial_);
    partial_ = {};
    auto plines = std::move(partial_lines_);
    partial_lines_.clear();
    on_reply(std::move(r), plines.size() > 1, std::move(plines));
}

void Transcript::on_reply(Reply r, bool, std::vector<std::string> &&plines) {
    last_ = r;
    Phase p;
    if (!pending_.empty()) {
        p = pending_.front();
        pending_.pop_front();
    } else if (!greeted_ && (state_ == Phase::Connect || state_ == Phase::Greeting)) {
        p = Phase::Greeting;
        greeted_ = true;
        caps_.clear();  // a new connection
    } else {
        // Unsolicited (e.g. "421 timeout" while idle): belongs to the current phase.
        p = state_;
    }
    if (p == Phase::Local) return;  // QUIT/RSET/NOOP
    state_ = p;
    state_reply_ = r;
    switch (p) {
    case Phase::Helo:
        if (r.code / 100 == 2) {
            caps_.clear();
            for (size_t i = 1; i < plines.size(); ++i) caps_.push_back(plines[i]);
        }
        break;
    case Phase::Tls:
        // 220: the handshake follows; a failure now is a TLS failure.
        break;
    case Phase::Auth:
        if (r.code == 334) {
            pending_.push_front(Phase::Auth);  // a SASL response will follow
            return;
        }
        in_auth_ = false;
        break;
    case Phase::Mail: mail_ = r; break;
    case Phase::Rcpt: rcpts_.push_back(r); break;
    case Phase::Data:
        if (r.code == 354) {
            // The body and the final dot are not commands (no on_out line);
            // the next reply answers the dot.
            pending_.push_back(Phase::Dot);
            state_ = Phase::Dot;
            state_reply_ = {};
        }
        break;
    case Phase::Dot: dot_ = r; break;
    default: break;
    }
}

Phase Transcript::phase() const {
    if (!pending_.empty()) return pending_.front() == Phase::Local ? state_ : pending_.front();
    return state_;
}

const Reply &Transcript::phase_reply() const {
    static const Reply none;
    if (!pending_.empty() && pending_.front() != Phase::Local) return none;  // awaiting it
    return state_reply_;
}

}  // namespace relay::smtp
