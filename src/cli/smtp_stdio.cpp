#include "cli/smtp_stdio.hpp"

#include <cerrno>
#include <unistd.h>

#include "cli/submit.hpp"
#include "log/log.hpp"
#include "message/address.hpp"
#include "queue/maildrop.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace relay::cli {
namespace {

constexpr size_t max_command_line = 4096;
constexpr size_t max_recipients = 1000;
constexpr int max_errors = 20;

class LineReader {
public:
    explicit LineReader(int fd) : fd_(fd) {}
    // One line without its line end (CRLF or LF); false at EOF/error. A
    // line longer than MAX comes back as its first MAX + 1 bytes, and the
    // rest of it is read and dropped: memory stays bounded whatever the
    // input.
    bool next(std::string &line, size_t max) {
        for (;;) {
            size_t nl = buf_.find('\n', pos_);
            if (skipping_) {
                if (nl == std::string::npos) {
                    buf_.clear();
                    pos_ = 0;
                } else {
                    pos_ = nl + 1;
                    skipping_ = false;
                    continue;
                }
            } else if (nl != std::string::npos && nl - pos_ <= max + 1) {
                line.assign(buf_, pos_, nl - pos_);
                if (!line.empty() && line.back() == '\r') line.pop_back();
                pos_ = nl + 1;
                compact();
                return true;
            } else if (buf_.size() - pos_ > max + 1) {
                line.assign(buf_, pos_, max + 1);
                pos_ += max + 1;
                skipping_ = true;
                compact();
                return true;
            }
            char tmp[65536];
            ssize_t n = ::read(fd_, tmp, sizeof tmp);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            buf_.append(tmp, static_cast<size_t>(n));
        }
    }

private:
    void compact() {
        if (pos_ > 65536) {
            buf_.erase(0, pos_);
            pos_ = 0;
        }
    }

    int fd_;
    std::string buf_;
    size_t pos_ = 0;
    bool skipping_ = false;
};

// Extracts the path of "FROM:<addr> params" / "TO:<addr> params".
bool parse_path(std::string_view arg, std::string_view prefix, std::string &addr,
                std::vector<std::string> &params) {
    if (!util::istarts_with(arg, prefix)) return false;
    arg.remove_prefix(prefix.size());
    arg = util::trim(arg);
    if (arg.empty()) return false;
    std::string_view rest;
    if (arg.front() == '<') {
        // Find the closing '>' outside quotes.
        bool quoted = false;
        size_t i = 1;
        for (; i < arg.size(); ++i) {
            if (arg[i] == '\\' && quoted) {
                ++i;
                continue;
            }
            if (arg[i] == '"') quoted = !quoted;
            else if (arg[i] == '>' && !quoted) break;
        }
        if (i >= arg.size()) return false;
        addr = std::string(arg.substr(1, i - 1));
        rest = arg.substr(i + 1);
    } else {
        size_t sp = arg.find(' ');
        addr = std::string(arg.substr(0, sp));
        rest = sp == std::string_view::npos ? std::string_view() : arg.substr(sp);
    }
    // Source routes (<@a,@b:user@d>) are obsolete: keep the mailbox.
    if (!addr.empty() && addr[0] == '@') {
        auto colon = addr.find(':');
        if (colon == std::string::npos) return false;
        addr = addr.substr(colon + 1);
    }
    for (auto &p : util::split(util::trim(rest), ' '))
        if (!p.empty()) params.push_back(p);
    return !util::has_ctl_line_break(addr);
}

}  // namespace

int smtp_stdio_session(const config::Config &cfg, const std::string &config_path, int in, int out) {
    LineReader reader(in);
    auto reply = [out](const std::string &text) {
        std::string line = text + "\r\n";
        ssize_t n = ::write(out, line.data(), line.size());
        (void)n;
    };
    reply("220 " + cfg.myhostname + " ESMTP relay");
    bool greeted = false, have_mail = false, queued_any = false;
    int errors = 0;
    queue::Submission tx;
    auto reset = [&] {
        tx = queue::Submission();
        have_mail = false;
    };
    std::string line;
    while (reader.next(line, max_command_line)) {
        if (line.size() > max_command_line) {
            reply("500 5.5.2 Error: line too long");
            if (++errors > max_errors) break;
            continue;
        }
        std::string_view cmdline(line);
        size_t sp = cmdline.find(' ');
        std::string verb = util::to_lower(cmdline.substr(0, sp));
        std::string_view arg = sp == std::string_view::npos ? "" : cmdline.substr(sp + 1);
        if (verb == "ehlo" || verb == "helo") {
            if (util::trim(arg).empty()) {
                reply("501 5.5.4 Syntax: " + util::to_lower(verb) + " hostname");
                continue;
            }
            reset();
            greeted = true;
            if (verb == "helo") {
                reply("250 " + cfg.myhostname);
            } else {
                reply("250-" + cfg.myhostname);
                reply("250-PIPELINING");
                reply("250-SIZE " + std::to_string(cfg.queue.message_size_limit));
                reply("250-8BITMIME");
                reply("250-DSN");
                reply("250-SMTPUTF8");
                reply("250 ENHANCEDSTATUSCODES");
            }
        } else if (verb == "mail") {
            std::string addr;
            std::vector<std::string> params;
            if (!greeted) {
                reply("503 5.5.1 Error: send HELO/EHLO first");
            } else if (have_mail) {
                reply("503 5.5.1 Error: nested MAIL command");
            } else if (!parse_path(arg, "FROM:", addr, params)) {
                reply("501 5.5.4 Syntax: MAIL FROM:<address>");
            } else {
                std::string bad;
                for (auto &p : params) {
                    auto eq = p.find('=');
                    std::string k = util::to_lower(p.substr(0, eq));
                    std::string v = eq == std::string::npos ? "" : p.substr(eq + 1);
                    if (k == "body" && (util::iequals(v, "8BITMIME") || util::iequals(v, "7BIT")))
                        tx.body_type = util::iequals(v, "7BIT") ? "7BIT" : "8BITMIME";
                    else if (k == "size") {
                        if (v.size() > 15 || std::stoull("0" + v) > cfg.queue.message_size_limit)
                            bad = "552 5.3.4 Message size exceeds fixed limit";
                    } else if (k == "ret" && (util::iequals(v, "FULL") || util::iequals(v, "HDRS")))
                        tx.ret = util::iequals(v, "FULL") ? "FULL" : "HDRS";
                    else if (k == "envid" && v.size() <= 100)
                        tx.envid = util::xtext_decode(v);
                    else if (k == "smtputf8" || k == "auth")
                        ;
                    else
                        bad = "555 5.5.4 Unsupported option: " + p;
                }
                if (!bad.empty()) {
                    reply(bad);
                } else {
                    tx.sender = addr;
                    have_mail = true;
                    reply("250 2.1.0 Ok");
                }
            }
        } else if (verb == "rcpt") {
            std::string addr;
            std::vector<std::string> params;
            if (!have_mail) {
                reply("503 5.5.1 Error: need MAIL command");
            } else if (!parse_path(arg, "TO:", addr, params) || addr.empty()) {
                reply("501 5.5.4 Syntax: RCPT TO:<address>");
            } else if (tx.recipients.size() >= max_recipients) {
                reply("452 4.5.3 Error: too many recipients");
            } else {
                message::Address a;
                if (!message::split_address(addr, a)) {
                    reply("501 5.1.3 Bad recipient address syntax");
                } else {
                    for (auto &p : params)
                        if (util::istarts_with(p, "NOTIFY=")) tx.notify = util::to_lower(p.substr(7)) == "never" ? "NEVER" : p.substr(7);
                    tx.recipients.push_back(addr);
                    reply("250 2.1.5 Ok");
                }
            }
        } else if (verb == "data") {
            if (!have_mail) {
                reply("503 5.5.1 Error: need MAIL command");
                continue;
            }
            if (tx.recipients.empty()) {
                reply("554 5.5.1 Error: no valid recipients");
                continue;
            }
            reply("354 End data with <CR><LF>.<CR><LF>");
            std::string msg, l;
            bool complete = false, too_big = false;
            while (reader.next(l, cfg.queue.message_size_limit)) {
                if (l == ".") {
                    complete = true;
                    break;
                }
                if (too_big) continue;
                if (!l.empty() && l[0] == '.') l.erase(0, 1);
                msg.append(l).append("\n");
                if (msg.size() > cfg.queue.message_size_limit) {
                    too_big = true;
                    msg.clear();
                }
            }
            if (!complete) {
                log::warning("-bs: input ended in the middle of DATA: message not queued");
                return to_sysexit(Exit::DataErr);
            }
            if (too_big) {
                reply("552 5.3.4 Message size exceeds fixed limit");
            } else {
                tx.message = std::move(msg);
                try {
                    check_free_space(cfg, tx.message.size());
                    std::string id = enqueue(cfg, tx);
                    queued_any = true;
                    reply("250 2.0.0 Ok: queued as " + id);
                } catch (const Fatal &e) {
                    reply(std::string(e.code() == Exit::TempFail ? "451 4.3.0 " : "554 5.3.0 ") +
                          "Error: " + e.what());
                }
            }
            reset();
        } else if (verb == "rset") {
            reset();
            reply("250 2.0.0 Ok");
        } else if (verb == "noop") {
            reply("250 2.0.0 Ok");
        } else if (verb == "vrfy") {
            reply("252 2.0.0 Cannot VRFY; send some mail and see");
        } else if (verb == "help") {
            reply("214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT");
        } else if (verb == "quit") {
            reply("221 2.0.0 Bye");
            break;
        } else {
            reply("502 5.5.2 Error: command not recognized");
            if (++errors > max_errors) {
                reply("421 4.7.0 Error: too many errors");
                break;
            }
        }
    }
    if (queued_any) wake_flusher(cfg, config_path);
    return 0;
}

}  // namespace relay::cli
