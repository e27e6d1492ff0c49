#include "queue/bounce.hpp"

#include <cctype>
#include <cstdio>

#include "message/header.hpp"
#include "queue/id.hpp"
#include "util/strings.hpp"

namespace relay::queue {
namespace {

bool wants_failure_notice(const Recipient &r) {
    if (r.notify.empty()) return true;  // default: failures are reported
    return r.notify.find("FAILURE") != std::string::npos;
}

bool wants_delay_notice(const Recipient &r) {
    if (r.notify.empty()) return true;  // default: delays are reported (as Postfix does)
    return r.notify.find("DELAY") != std::string::npos;
}

enum class Kind { Failed, Delayed };

bool wanted(Kind kind, const Recipient &r) {
    return kind == Kind::Failed ? wants_failure_notice(r) : wants_delay_notice(r);
}

std::string hours(int64_t seconds) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.1f", static_cast<double>(seconds) / 3600.0);
    return buf;
}

bool is_smtp_reply(const std::string &s) {
    return s.size() >= 3 && std::isdigit(static_cast<unsigned char>(s[0])) &&
           std::isdigit(static_cast<unsigned char>(s[1])) &&
           std::isdigit(static_cast<unsigned char>(s[2])) && (s.size() == 3 || s[3] == ' ' || s[3] == '-');
}

// A DSN field value must be one line of ASCII.
std::string field(std::string_view s) {
    std::string out;
    for (unsigned char c : s) out += (c < 0x20 || c >= 0x7f) ? ' ' : static_cast<char>(c);
    return out;
}

// The server's own reply inside a reason worded as Postfix words it:
// "host mail.example.net[192.0.2.1] said: 550 5.1.1 ... (in reply to RCPT TO command)".
std::string server_reply(const std::string &reason) {
    auto said = reason.find(" said: ");
    if (said == std::string::npos) return reason;
    std::string r = reason.substr(said + 7);
    auto tail = r.rfind(" (in reply to ");
    if (tail != std::string::npos && r.back() == ')') r.resize(tail);
    return r;
}

}  // namespace

bool want_delay_warning(const Envelope &env, const std::vector<Failure> &delayed) {
    if (env.is_bounce() || env.warned) return false;
    for (auto &f : delayed)
        if (wants_delay_notice(f.rcpt)) return true;
    return false;
}

std::string dsn_delay_status(const std::string &full_reason) {
    const std::string reason = server_reply(full_reason);
    if (is_smtp_reply(reason) && reason.size() > 4) {
        size_t i = 4, start = 4;
        int dots = 0;
        while (i < reason.size() && (std::isdigit(static_cast<unsigned char>(reason[i])) || reason[i] == '.')) {
            dots += reason[i] == '.';
            ++i;
        }
        std::string code = reason.substr(start, i - start);
        if (dots == 2 && code.size() <= 11 && (code[0] == '4' || code[0] == '5'))
            return "4" + code.substr(1);  // still being retried: 4.x.x
    }
    return "4.0.0";
}

bool want_bounce(const Envelope &env, const std::vector<Failure> &failures) {
    if (env.is_bounce()) return false;
    for (auto &f : failures)
        if (wants_failure_notice(f.rcpt)) return true;
    return false;
}

std::string dsn_status(const std::string &full_reason) {
    const std::string reason = server_reply(full_reason);
    // "550 5.1.1 text" or "550-5.1.1 text"
    if (is_smtp_reply(reason) && reason.size() > 4) {
        size_t i = 4;
        size_t start = i;
        int dots = 0;
        while (i < reason.size() && (std::isdigit(static_cast<unsigned char>(reason[i])) || reason[i] == '.')) {
            dots += reason[i] == '.';
            ++i;
        }
        std::string code = reason.substr(start, i - start);
        if (dots == 2 && !code.empty() && (code[0] == '4' || code[0] == '5') && code.size() <= 11)
            return code[0] == '4' ? "5" + code.substr(1) : code;  // a final failure is 5.x.x
        return "5.0.0";
    }
    if (reason.find("expired") != std::string::npos) return "4.4.7";
    return "5.0.0";
}

namespace {

Bounce make_report(const config::Config &cfg, const Envelope &env,
                   const std::vector<Failure> &failures, std::string_view original, Kind kind) {
    Bounce b;
    Envelope &e = b.envelope;
    e.id = make_id();
    e.arrival = id_time(e.id);
    e.sender = "";
    e.uid = 0;
    e.user = "MAILER-DAEMON";
    Recipient to;
    to.address = env.sender;
    e.rcpts.push_back(to);

    const std::string host = cfg.myhostname;
    const std::string boundary = e.id + "." + std::to_string(e.arrival) + "/" + host;
    bool expired_only = true;
    for (auto &f : failures) expired_only = expired_only && dsn_status(f.reason) == "4.4.7";

    message::Message m;
    m.add("From", "MAILER-DAEMON@" + host + " (Mail Delivery System)");
    m.add("To", env.sender);
    m.add("Subject", kind == Kind::Failed ? "Undelivered Mail Returned to Sender"
                                           : "Delayed Mail (still being retried)");
    m.add("Date", message::rfc5322_date(e.arrival));
    m.add("Message-ID", message::make_message_id(e.id, host));
    m.add("Auto-Submitted", "auto-replied");
    m.add("MIME-Version", "1.0");
    m.add("Content-Type", "multipart/report; report-type=delivery-status;\n\tboundary=\"" +
                              boundary + "\"");

    std::string body = "This is a MIME-encapsulated message.\n\n";
    body += "--" + boundary + "\n";
    body += "Content-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n";
    body += "This is the mail system at host " + host + ".\n\n";
    const int64_t lifetime = cfg.queue.maximal_queue_lifetime.count();
    const int64_t age = id_time(e.id) - env.arrival;
    if (kind == Kind::Delayed)
        body += "####################################################################\n"
                "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
                "####################################################################\n\n"
                "Your message could not be delivered for " + hours(age) + " hours.\n"
                "It will be retried until it is " + hours(lifetime) + " hours old.\n";
    else body += expired_only
                ? "Your message could not be delivered for " +
                      std::to_string(cfg.queue.maximal_queue_lifetime.count() / 3600) +
                      " hours and has been given up.\n"
                : "I'm sorry to have to inform you that your message could not\n"
                  "be delivered to one or more recipients. It's attached below.\n";
    body += "\nFor further assistance, please contact the administrator of " + host +
            ".\n\n                   The mail system\n\n";
    for (auto &f : failures) {
        if (!wanted(kind, f.rcpt)) continue;
        body += "<" + field(f.rcpt.address) + ">";
        if (!f.rcpt.orig.empty() && f.rcpt.orig != f.rcpt.address)
            body += " (expanded from <" + field(f.rcpt.orig) + ">)";
        body += ": " + field(f.reason) + "\n\n";
    }
    body += "--" + boundary + "\n";
    body += "Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n";
    body += "Reporting-MTA: dns; " + host + "\nX-Relay-Queue-ID: " + env.id + "\n";
    if (!env.envid.empty()) body += "Original-Envelope-Id: " + field(env.envid) + "\n";
    body += "X-Relay-Sender: rfc822; " + field(env.sender) + "\n";
    body += "Arrival-Date: " + message::rfc5322_date(env.arrival) + "\n";
    for (auto &f : failures) {
        if (!wanted(kind, f.rcpt)) continue;
        body += "\nFinal-Recipient: rfc822; " + field(f.rcpt.address) + "\n";
        if (!f.rcpt.orig.empty() && f.rcpt.orig != f.rcpt.address)
            body += "Original-Recipient: rfc822; " + field(f.rcpt.orig) + "\n";
        if (kind == Kind::Failed)
            body += "Action: failed\nStatus: " + dsn_status(f.reason) + "\n";
        else
            body += "Action: delayed\nStatus: " + dsn_delay_status(f.reason) + "\n";
        if (!f.remote.empty()) {
            std::string h = f.remote.substr(0, f.remote.find('['));
            body += "Remote-MTA: dns; " + field(h) + "\n";
        }
        if (std::string reply = server_reply(f.reason); is_smtp_reply(reply))
            body += "Diagnostic-Code: smtp; " + field(reply) + "\n";
        else body += "Diagnostic-Code: X-Relay; " + field(f.reason) + "\n";
        if (kind == Kind::Delayed)
            body += "Will-Retry-Until: " + message::rfc5322_date(env.arrival + lifetime) + "\n";
    }
    body += "\n--" + boundary + "\n";
    bool headers_only = kind == Kind::Delayed || env.ret == "HDRS" || original.size() > bounce_size_limit;
    if (headers_only) {
        auto orig = message::Message::parse(original);
        body += kind == Kind::Failed ? "Content-Description: Undelivered Message Headers\n"
                                     : "Content-Description: Delayed Message Headers\n";
        body += "Content-Type: text/rfc822-headers\n\n";
        for (auto &h : orig.headers()) body += h.raw;
    } else {
        body += "Content-Description: Undelivered Message\nContent-Type: message/rfc822\n\n";
        body += std::string(original);
        if (!original.empty() && original.back() != '\n') body += "\n";
    }
    body += "\n--" + boundary + "--\n";
    m.body() = std::move(body);
    b.message = m.str();
    e.size = b.message.size();
    for (unsigned char c : b.message)
        if (c >= 0x80) {
            e.body = "8BITMIME";
            break;
        }
    return b;
}

}  // namespace

Bounce make_bounce(const config::Config &cfg, const Envelope &env,
                   const std::vector<Failure> &failures, std::string_view original) {
    return make_report(cfg, env, failures, original, Kind::Failed);
}

Bounce make_delay_warning(const config::Config &cfg, const Envelope &env,
                          const std::vector<Failure> &delayed, std::string_view original) {
    return make_report(cfg, env, delayed, original, Kind::Delayed);
}

}  // namespace relay::queue
