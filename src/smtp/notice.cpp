#include "smtp/notice.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <unistd.h>

#include "log/log.hpp"
#include "message/header.hpp"
#include "queue/id.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

namespace relay::smtp {
namespace {

struct Stamp {
    int64_t time = 0;
    std::string id;
};

Stamp read_stamp(const std::string &path) {
    Stamp s;
    std::ifstream in(path);
    std::string t;
    if (in >> t) s.time = std::atoll(t.c_str());
    in >> s.id;
    if (!queue::is_valid_id(s.id)) s.id.clear();
    return s;
}

bool write_stamp(const std::string &path, int64_t now, const std::string &id) {
    std::string tmp = path + ".tmp";
    util::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return false;
    std::string text = std::to_string(now) + " " + id + "\n";
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) return false;
    fd.reset();
    return ::rename(tmp.c_str(), path.c_str()) == 0;
}

// Keeps a reason on one printable line.
std::string one_line(const std::string &s) {
    std::string out;
    for (unsigned char c : s) out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
    return out;
}

}  // namespace

std::optional<std::string> notify_admin(const config::Config &cfg, queue::FsQueue &q,
                                        const std::vector<std::string> &reasons,
                                        unsigned deferred, int64_t now) {
    const std::string &to = cfg.smtp.notify_recipient;
    if (to.empty() || reasons.empty()) return std::nullopt;
    const std::string stamp_path = q.spool() + "/notice.stamp";
    Stamp last = read_stamp(stamp_path);
    if (!last.id.empty() && q.exists(last.id)) {
        log::debug("configuration notice " + last.id + " is still queued: no new one");
        return std::nullopt;
    }
    if (last.time > 0 && now - last.time < kNoticeInterval && now >= last.time) {
        log::debug("configuration notice sent " + std::to_string(now - last.time) +
                   "s ago: the next one after " + std::to_string(kNoticeInterval) + "s");
        return std::nullopt;
    }

    queue::Envelope e;
    e.id = queue::make_id();
    e.arrival = queue::id_time(e.id);
    e.sender = "";  // never bounced
    e.user = "MAILER-DAEMON";
    queue::Recipient r;
    r.address = to;
    e.rcpts.push_back(r);

    const std::string &host = cfg.myhostname;
    message::Message m;
    m.add("From", "MAILER-DAEMON@" + host + " (Mail Delivery System)");
    m.add("To", to);
    m.add("Subject", "relay on " + host + ": mail delivery fails (configuration)");
    m.add("Date", message::rfc5322_date(e.arrival));
    m.add("Message-ID", message::make_message_id(e.id, host));
    m.add("Auto-Submitted", "auto-generated");
    m.add("MIME-Version", "1.0");
    m.add("Content-Type", "text/plain; charset=us-ascii");
    std::string body = "This is the mail system at host " + host + ".\n\n";
    body += "Mail cannot be delivered to the smarthost because of a configuration\n"
            "problem. " + std::to_string(deferred) +
            " recipient(s) were deferred by the last run; the mail stays\n"
            "queued and is retried, and expires after the queue lifetime.\n\n"
            "What went wrong:\n\n";
    for (auto &why : reasons) body += "  - " + one_line(why) + "\n";
    body += "\n`relay check` checks the configuration; `relay --flush -v` shows the\n"
            "SMTP conversation. This notice is sent at most once an hour.\n";
    m.body() = body;
    std::string text = m.str();
    e.size = text.size();
    if (auto c = q.commit(e, text); !c) {
        log::error("cannot queue the configuration notice to " + to + ": " + c.error().message);
        return std::nullopt;
    }
    if (!write_stamp(stamp_path, now, e.id))
        log::warning("cannot write " + stamp_path + ": " + errno_text(errno));
    log::info(e.id + ": configuration notice to <" + to + ">: " + one_line(reasons.front()));
    log::info(e.id + ": from=<>, size=" + std::to_string(e.size) + ", nrcpt=1 (queue active)");
    return e.id;
}

}  // namespace relay::smtp
