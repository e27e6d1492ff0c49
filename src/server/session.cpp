#include "server/session.hpp"

#include <ctime>

#include "log/log.hpp"
#include "util/strings.hpp"

namespace relay::server {
namespace {

constexpr size_t command_line_limit = 2048;
constexpr size_t auth_line_limit = 12288;
constexpr size_t data_line_limit = 1024 * 1024;

bool is_ascii(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

bool clean_helo(std::string_view s) {
    if (s.empty() || s.size() > 255) return false;
    for (char c : s) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x21 || u == 0x7f) return false;
    }
    return true;
}

}  // namespace

Session::Session(std::shared_ptr<const Runtime> rt, ClientInfo client, SessionHooks &hooks)
    : rt_(std::move(rt)), cfg_(rt_->cfg), client_(std::move(client)), hooks_(hooks) {
    client_name_ = "unknown[" + client_.address.text + "]";
    tls_ = client_.tls_active;
}

void Session::set_client_hostname(const std::string &name) {
    client_host_ = name.empty() ? "unknown" : name;
    client_name_ = client_host_ + "[" + client_.address.text + "]";
}

std::string Session::host() const { return cfg_.myhostname; }

void Session::reply(const std::string &line) {
    out_ += line;
    out_ += "\r\n";
}

void Session::error_reply(const std::string &line) {
    ++errors_;
    if (errors_ >= cfg_.server.hard_error_limit) {
        reply(line);
        log::info("too many errors after " + std::string(in_data() ? "DATA" : "command") +
                  " from " + client_name_);
        reply("421 4.7.0 " + host() + " Error: too many errors");
        action_ = SessionAction::Close;
        return;
    }
    if (errors_ > cfg_.server.soft_error_limit)
        delay_ = std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.server.error_sleep_time);
    reply(line);
}

void Session::greet() { reply("220 " + host() + " ESMTP relay"); }

void Session::refuse(const std::string &line) {
    reply(line);
    action_ = SessionAction::Close;
}

void Session::pregreet_violation() {
    log::info("PREGREET from " + client_name_ + ": client spoke before the greeting");
    refuse("554 5.5.1 " + host() + " Error: SMTP protocol synchronization");
}

void Session::timed_out() {
    log::info(std::string("timeout after ") + (in_data() ? "DATA" : "command") + " from " +
              client_name_);
    reply("421 4.4.2 " + host() + " Error: timeout exceeded");
    action_ = SessionAction::Close;
}

void Session::feed(std::string_view bytes) {
    if (action_ != SessionAction::None) return;  // nothing after STARTTLS or the end
    framer_.feed(bytes);
}

void Session::process() {
    while (action_ == SessionAction::None && pending_ == 0 && delay_.count() == 0) {
        size_t limit = data_ ? data_line_limit
                             : auth_step_ != AuthStep::None ? auth_line_limit : command_line_limit;
        auto line = framer_.next(limit);
        if (!line) return;
        handle_line(std::move(*line));
    }
}

void Session::reset_transaction() {
    have_mail_ = false;
    tx_ = Transaction();
    data_.reset();
}

bool Session::auth_offered() const {
    return rt_->tls && (client_.kind == config::ListenerKind::Submission ||
                        client_.kind == config::ListenerKind::Smtps);
}

bool Session::may_relay() const {
    return client_.mynetworks || client_.kind == config::ListenerKind::Local || !login_.empty();
}

void Session::handle_line(Line line) {
    bool reject_mode = cfg_.server.forbid_bare_newline == config::BareNewline::Reject;
    if (reject_mode && (line.end == LineEnd::BareLf || line.bare_cr)) {
        log::info(std::string("disconnect: bare <") + (line.bare_cr ? "CR" : "LF") +
                  "> received from " + client_name_);
        refuse("521 5.5.2 " + host() + " Error: bare <" + (line.bare_cr ? "CR" : "LF") +
               "> received");
        return;
    }
    if (data_) return handle_data_line(std::move(line));
    if (line.end == LineEnd::TooLong) {
        if (auth_step_ != AuthStep::None) auth_step_ = AuthStep::None;
        return error_reply("500 5.5.0 Error: line too long");
    }
    if (line.bare_cr) {
        auth_step_ = AuthStep::None;
        return error_reply("500 5.5.2 Error: bare <CR> received");
    }
    if (auth_step_ != AuthStep::None) return handle_auth_response(line);
    handle_command(parse_command(line.text));
}

void Session::handle_command(const Command &cmd) {
    switch (cmd.verb) {
    case Verb::Ehlo: return cmd_ehlo(cmd, true);
    case Verb::Helo: return cmd_ehlo(cmd, false);
    case Verb::Mail: return cmd_mail(cmd);
    case Verb::Rcpt: return cmd_rcpt(cmd);
    case Verb::Data: return cmd_data(cmd);
    case Verb::Auth: return cmd_auth(cmd);
    case Verb::StartTls: return cmd_starttls(cmd);
    case Verb::Rset:
        if (!cmd.arg.empty()) return error_reply("501 5.5.4 Syntax: RSET");
        reset_transaction();
        return reply("250 2.0.0 Ok");
    case Verb::Noop: return reply("250 2.0.0 Ok");
    case Verb::Quit:
        reply("221 2.0.0 Bye");
        action_ = SessionAction::Close;
        return;
    case Verb::Vrfy:
        if (cmd.arg.empty()) return error_reply("501 5.5.4 Syntax: VRFY address");
        return reply("252 2.0.0 Cannot VRFY user; try RCPT to attempt delivery");
    case Verb::Help:
        return reply("214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP"
                     " STARTTLS AUTH");
    case Verb::Http:
        log::warning("non-SMTP command from " + client_name_ + ": " + cmd.name);
        reply("221 2.7.0 Error: I can break rules, too. Goodbye.");
        action_ = SessionAction::Close;
        return;
    case Verb::Empty: return error_reply("500 5.5.2 Error: bad syntax");
    case Verb::Expn:
    case Verb::Bdat:
    case Verb::Etrn:
    case Verb::Turn:
    case Verb::Unknown: break;
    }
    error_reply("502 5.5.2 Error: command not recognized");
}

void Session::cmd_ehlo(const Command &cmd, bool extended) {
    std::string name(util::trim(cmd.arg));
    if (name.empty() || !clean_helo(name))
        return error_reply(std::string("501 5.5.4 Syntax: ") + (extended ? "EHLO" : "HELO") +
                           " hostname");
    reset_transaction();
    helo_ = name;
    esmtp_ = extended;
    if (!extended) return reply("250 " + host());
    std::vector<std::string> lines{host(), "PIPELINING",
                                   "SIZE " + std::to_string(cfg_.queue.message_size_limit)};
    if (rt_->tls && !tls_) lines.push_back("STARTTLS");
    if (auth_offered() && tls_) lines.push_back("AUTH PLAIN LOGIN");
    lines.insert(lines.end(), {"ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8"});
    for (size_t i = 0; i < lines.size(); ++i)
        reply((i + 1 < lines.size() ? "250-" : "250 ") + lines[i]);
}

void Session::cmd_starttls(const Command &cmd) {
    if (!cmd.arg.empty()) return error_reply("501 5.5.4 Syntax: STARTTLS");
    if (tls_) return error_reply("554 5.5.1 Error: TLS already active");
    if (!rt_->tls || client_.kind == config::ListenerKind::Local)
        return error_reply("502 5.5.1 Error: command not implemented");
    reply("220 2.0.0 Ready to start TLS");
    // RFC 3207 section 4.2: nothing the client sent before the handshake
    // may be taken as a command after it.
    framer_.discard();
    action_ = SessionAction::StartTls;
}

void Session::tls_started(const std::string &cipher_info) {
    tls_ = true;
    tls_info_ = cipher_info;
    framer_.discard();
    helo_.clear();
    esmtp_ = false;
    login_.clear();
    auth_step_ = AuthStep::None;
    reset_transaction();
    action_ = SessionAction::None;
}

void Session::cmd_auth(const Command &cmd) {
    if (!auth_offered()) return error_reply("503 5.5.1 Error: authentication not enabled");
    if (!tls_) return error_reply("530 5.7.0 Must issue a STARTTLS command first");
    if (helo_.empty()) return error_reply("503 5.5.1 Error: send HELO/EHLO first");
    if (!login_.empty()) return error_reply("503 5.5.1 Error: already authenticated");
    if (have_mail_) return error_reply("503 5.5.1 Error: MAIL transaction in progress");
    if (hooks_.auth_blocked()) {
        log::warning(client_name_ + ": too many failed authentications; disconnecting");
        refuse("421 4.7.0 " + host() + " Error: too many failed authentications, try again later");
        return;
    }
    auto words = util::split(util::trim(cmd.arg), ' ');
    if (words.empty() || words[0].empty()) return error_reply("501 5.5.4 Syntax: AUTH mechanism");
    auth_mech_ = util::to_lower(words[0]);
    for (auto &c : auth_mech_) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string initial = words.size() > 1 ? words[1] : "";
    if (words.size() > 2) return error_reply("501 5.5.4 Syntax: AUTH mechanism [initial-response]");
    if (auth_mech_ == "PLAIN") {
        if (initial.empty()) {
            auth_step_ = AuthStep::PlainResponse;
            return reply("334 ");
        }
        Line l;
        l.text = initial;
        auth_step_ = AuthStep::PlainResponse;
        return handle_auth_response(l);
    }
    if (auth_mech_ == "LOGIN") {
        if (initial.empty()) {
            auth_step_ = AuthStep::LoginUser;
            return reply("334 VXNlcm5hbWU6");
        }
        Line l;
        l.text = initial;
        auth_step_ = AuthStep::LoginUser;
        return handle_auth_response(l);
    }
    error_reply("504 5.5.4 Unsupported authentication mechanism");
}

void Session::handle_auth_response(const Line &line) {
    AuthStep step = auth_step_;
    auth_step_ = AuthStep::None;
    if (line.text == "*") return error_reply("501 5.7.0 Authentication aborted");
    std::optional<std::string> decoded;
    if (line.text == "=") decoded = "";
    else decoded = base64_decode(line.text);
    if (!decoded) return error_reply("501 5.5.2 Error: cannot decode response");
    switch (step) {
    case AuthStep::PlainResponse: {
        auto creds = parse_plain(*decoded);
        if (!creds || (!creds->authzid.empty() && creds->authzid != creds->user))
            return check_password("", "");
        return check_password(creds->user, creds->password);
    }
    case AuthStep::LoginUser:
        auth_user_ = *decoded;
        auth_step_ = AuthStep::LoginPassword;
        return reply("334 UGFzc3dvcmQ6");
    case AuthStep::LoginPassword: return check_password(auth_user_, *decoded);
    case AuthStep::None: break;
    }
}

void Session::check_password(const std::string &user, const std::string &password) {
    ++pending_;
    std::string mech = auth_mech_;
    hooks_.authenticate(user, password, [this, user, mech](bool ok) {
        --pending_;
        if (ok) {
            login_ = user;
            log::info(client_name_ + ": sasl_method=" + mech + ", sasl_username=" + user);
            reply("235 2.7.0 Authentication successful");
            return;
        }
        // The line fail2ban's postfix-sasl filter knows.
        log::warning(client_name_ + ": SASL " + mech + " authentication failed: authentication failure");
        hooks_.auth_failed();
        error_reply("535 5.7.8 Error: authentication failed: authentication failure");
    });
}

void Session::cmd_mail(const Command &cmd) {
    if (helo_.empty()) return error_reply("503 5.5.1 Error: send HELO/EHLO first");
    if (have_mail_) return error_reply("503 5.5.1 Error: nested MAIL command");
    bool submission = client_.kind == config::ListenerKind::Submission ||
                      client_.kind == config::ListenerKind::Smtps;
    if (submission && !tls_) return error_reply("530 5.7.0 Must issue a STARTTLS command first");
    if (submission && login_.empty()) return error_reply("530 5.7.0 Authentication required");
    PathError why;
    auto path = parse_path(cmd.arg, "FROM:", &why);
    if (!path) {
        if (why == PathError::BadAddress) return error_reply("501 5.1.7 Bad sender address syntax");
        return error_reply("501 5.5.4 Syntax: MAIL FROM:<address>");
    }
    Transaction tx;
    for (auto &p : path->params) {
        if (p.key == "SIZE" && p.has_value) {
            if (p.value.empty() || p.value.size() > 15 ||
                p.value.find_first_not_of("0123456789") != std::string::npos)
                return error_reply("501 5.5.4 Bad message size syntax");
            if (std::stoull(p.value) > cfg_.queue.message_size_limit)
                return error_reply("552 5.3.4 Message size exceeds fixed limit");
        } else if (p.key == "BODY" && p.has_value) {
            std::string v = util::to_lower(p.value);
            if (v == "7bit") tx.body_type = "7BIT";
            else if (v == "8bitmime") tx.body_type = "8BITMIME";
            else return error_reply("501 5.5.4 Unsupported BODY parameter value");
        } else if (p.key == "SMTPUTF8" && !p.has_value) {
            tx.smtputf8 = true;
        } else if (p.key == "RET" && p.has_value) {
            std::string v = util::to_lower(p.value);
            if (v != "full" && v != "hdrs") return error_reply("501 5.5.4 Bad RET parameter syntax");
            tx.ret = v == "full" ? "FULL" : "HDRS";
        } else if (p.key == "ENVID" && p.has_value) {
            if (p.value.size() > 100 || !valid_xtext(p.value))
                return error_reply("501 5.5.4 Bad ENVID parameter syntax");
            tx.envid = util::xtext_decode(p.value);
        } else if (p.key == "AUTH" && p.has_value) {
            // RFC 4954 section 5: accepted, not trusted.
        } else {
            return error_reply("555 5.5.4 Unsupported option: " + p.key);
        }
    }
    const std::string &addr = path->address;
    if (!is_ascii(addr) && !tx.smtputf8)
        return error_reply("553 5.6.7 Must declare SMTPUTF8 to send a UTF-8 address");
    if (!addr.empty() && !is_fqdn_address(addr))
        return error_reply("504 5.5.2 <" + addr + ">: Sender address rejected: need fully-qualified address");
    if (!addr.empty()) {
        auto owners = rt_->policy->owners(addr);
        auto owned_by = [&](const std::string &login) {
            if (util::iequals(addr, login)) return true;
            for (auto &o : owners)
                if (util::iequals(o, login)) return true;
            return false;
        };
        if (!login_.empty() && !owned_by(login_))
            return error_reply("553 5.7.1 <" + addr + ">: Sender address rejected: not owned by user " + login_);
        if (login_.empty() && !owners.empty() && !client_.mynetworks &&
            client_.kind != config::ListenerKind::Local)
            return error_reply("553 5.7.1 <" + addr + ">: Sender address rejected: not logged in");
    }
    tx.sender = addr;
    tx.login = login_;
    tx_ = std::move(tx);
    have_mail_ = true;
    reply("250 2.1.0 Ok");
}

void Session::cmd_rcpt(const Command &cmd) {
    if (!have_mail_) return error_reply("503 5.5.1 Error: need MAIL command");
    PathError why;
    auto path = parse_path(cmd.arg, "TO:", &why);
    if (!path) {
        if (why == PathError::BadAddress || why == PathError::SourceRouteOnly)
            return error_reply("501 5.1.3 Bad recipient address syntax");
        return error_reply("501 5.5.4 Syntax: RCPT TO:<address>");
    }
    const std::string &addr = path->address;
    if (addr.empty()) return error_reply("501 5.1.3 Bad recipient address syntax");
    if (tx_.recipients.size() >= cfg_.server.recipient_limit)
        return reply("452 4.5.3 Error: too many recipients");
    std::string notify, orcpt;
    for (auto &p : path->params) {
        if (p.key == "NOTIFY" && p.has_value) {
            std::string v = util::to_lower(p.value);
            bool never = false, other = false;
            for (auto &w : util::split(v, ',')) {
                if (w == "never") never = true;
                else if (w == "success" || w == "failure" || w == "delay") other = true;
                else return error_reply("501 5.5.4 Error: Bad NOTIFY parameter syntax");
            }
            if (never && other) return error_reply("501 5.5.4 Error: Bad NOTIFY parameter syntax");
            notify = util::to_lower(p.value);
            for (auto &c : notify) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        } else if (p.key == "ORCPT" && p.has_value) {
            size_t semi = p.value.find(';');
            if (semi == std::string::npos || semi == 0 || !valid_xtext(p.value.substr(semi + 1)) ||
                !queue::valid_orcpt(p.value))
                return error_reply("501 5.5.4 Error: Bad ORCPT parameter syntax");
            orcpt = p.value;
        } else {
            return error_reply("555 5.5.4 Unsupported option: " + p.key);
        }
    }
    if (!is_ascii(addr) && !tx_.smtputf8)
        return error_reply("553 5.6.7 Must declare SMTPUTF8 to send a UTF-8 address");
    if (!is_fqdn_address(addr))
        return error_reply("504 5.5.2 <" + addr + ">: Recipient address rejected: need fully-qualified address");
    Resolution res = rt_->policy->resolve(addr);
    if (res.hosted && res.unknown)
        return error_reply("550 5.1.1 <" + addr + ">: Recipient address rejected: User unknown in virtual mailbox table");
    if (!res.hosted && !may_relay()) {
        log::info("NOQUEUE: reject: RCPT from " + client_name_ + ": 554 5.7.1 <" + addr +
                  ">: Relay access denied; from=<" + tx_.sender.value_or("") + "> to=<" + addr +
                  "> helo=<" + helo_ + ">");
        return error_reply("554 5.7.1 <" + addr + ">: Relay access denied");
    }
    tx_.recipients.push_back(addr);
    for (auto &l : res.local) tx_.local.push_back(l);
    for (auto &r : res.remote) {
        tx_.remote.push_back(r);
        tx_.remote_params.push_back(queue::RcptParams{notify, orcpt});
    }
    reply("250 2.1.5 Ok");
}

void Session::cmd_data(const Command &cmd) {
    if (!have_mail_) return error_reply("503 5.5.1 Error: need MAIL command");
    if (tx_.recipients.empty()) return error_reply("554 5.5.1 Error: no valid recipients");
    if (!cmd.arg.empty()) return error_reply("501 5.5.4 Syntax: DATA");
    data_ = std::make_unique<DataReader>(cfg_.queue.message_size_limit);
    reply("354 End data with <CR><LF>.<CR><LF>");
}

void Session::handle_data_line(Line line) {
    if (data_->add(line) == DataStatus::End) finish_data();
}

std::string Session::received_header() const {
    char date[64];
    time_t now = time(nullptr);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
    std::string proto = esmtp_ ? "ESMTP" : "SMTP";
    if (esmtp_ && tls_) proto += "S";
    if (esmtp_ && !login_.empty()) proto += "A";
    if (tx_.smtputf8) proto = "UTF8" + proto.substr(1);
    std::string h = "Received: from " + helo_ + " (" + client_host_ + " [" + client_.address.text + "])\n";
    if (!tls_info_.empty()) h += "\t(using " + tls_info_ + ")\n";
    h += "\tby " + host() + " (relay) with " + proto;
    if (tx_.recipients.size() == 1) h += "\n\tfor <" + tx_.recipients.front() + ">";
    h += "; " + std::string(date) + "\n";
    return h;
}

void Session::finish_data() {
    std::unique_ptr<DataReader> data = std::move(data_);
    if (data->too_big()) {
        reset_transaction();
        return error_reply("552 5.3.4 Message size exceeds fixed limit");
    }
    if (data->saw_bare_cr()) {
        reset_transaction();
        log::info("reject: bare <CR> in message content from " + client_name_);
        return error_reply("550 5.5.2 Error: bare <CR> received");
    }
    if (data->saw_too_long()) {
        reset_transaction();
        return error_reply("552 5.3.4 Error: message line too long");
    }
    if (data->received_count() >= cfg_.server.hopcount_limit) {
        reset_transaction();
        log::info("reject: too many hops (" + std::to_string(data->received_count()) +
                  " Received: fields) from " + client_name_);
        return error_reply("554 5.4.6 Too many hops");
    }
    Transaction tx = std::move(tx_);
    tx.message = received_header();
    tx.message += data->message();
    data.reset();
    reset_transaction();
    ++pending_;
    hooks_.deliver(std::move(tx), [this](std::string line) {
        --pending_;
        reply(line);
    });
}

}  // namespace relay::server
