#include "queue/pickup.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log.hpp"
#include "message/address.hpp"
#include "message/smtp_safe.hpp"
#include "queue/id.hpp"
#include "rewrite/pipeline.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/strings.hpp"
#include "util/sys.hpp"

namespace relay::queue {
using util::UniqueFd;

namespace {

constexpr time_t stale_tmp_age = 3600;

bool is_recipient_header(std::string_view name, bool resent) {
    if (resent)
        return util::iequals(name, "Resent-To") || util::iequals(name, "Resent-Cc") ||
               util::iequals(name, "Resent-Bcc");
    return util::iequals(name, "To") || util::iequals(name, "Cc") || util::iequals(name, "Bcc");
}

bool has_resent_recipients(const message::Message &msg) {
    for (auto &h : msg.headers())
        if (is_recipient_header(h.name, true)) return true;
    return false;
}

bool has_any_header(const message::Message &msg, std::initializer_list<const char *> names) {
    for (auto *n : names)
        if (msg.has(n)) return true;
    return false;
}

// Reads a whole maildrop file from an fd already opened and checked.
Result<std::string> read_fd(int fd, size_t limit) {
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            return make_error("read: " + errno_text(e), e);
        }
        if (n == 0) return out;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > limit) return make_error("file exceeds the size limit");
    }
}

void quarantine(const std::string &spool, const std::string &name, const std::string &why) {
    std::string from = spool + "/maildrop/" + name;
    std::string to = spool + "/corrupt/" + name + ".maildrop";
    if (::rename(from.c_str(), to.c_str()) < 0) ::unlink(from.c_str());
    log::warning(name + ": maildrop file refused: " + why + " (moved to corrupt/)");
}

}  // namespace

std::string login_name(uint32_t uid) {
    struct passwd pw, *res = nullptr;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name &&
        *res->pw_name && !util::has_ctl_line_break(res->pw_name))
        return res->pw_name;
    return "#" + std::to_string(uid);
}

std::vector<std::string> header_recipients(const message::Message &msg,
                                           std::vector<std::string> *errors) {
    bool resent = has_resent_recipients(msg);
    std::vector<std::string> out;
    for (auto &h : msg.headers()) {
        if (!is_recipient_header(h.name, resent)) continue;
        auto list = message::parse_address_list(h.value());
        for (auto &a : list.addresses)
            if (!a.address.empty()) out.push_back(a.address);
        if (errors)
            for (auto &e : list.errors) errors->push_back(h.name + ": " + e);
    }
    return out;
}

Result<Prepared> prepare(const config::Config &cfg, const rewrite::Pipeline &rw,
                         const Submission &sub, const std::string &id, uint32_t uid) {
    Prepared p;
    auto &msg = p.message = message::Message::parse(sub.message);
    auto &env = p.envelope;
    env.id = id;
    env.arrival = id_time(id);
    env.uid = uid;
    env.user = login_name(uid);
    env.body = sub.body_type;
    env.ret = sub.ret;
    env.envid = sub.envid;

    // Envelope sender: -f, else the login name (qualified below).
    std::string sender = sub.sender ? *sub.sender : env.user;
    if (sender == "<>") sender.clear();

    // Recipients: the command line, plus the headers with -t (Postfix adds
    // both). Each keeps the form the sender gave as its original recipient.
    // An SMTP client's NOTIFY and ORCPT (relay serve) stay with the
    // recipient they were given for; the others get the message's.
    std::vector<std::string> given;
    std::vector<const RcptParams *> given_params;
    for (size_t i = 0; i < sub.recipients.size(); ++i) {
        const std::string &arg = sub.recipients[i];
        auto list = message::parse_recipient_argument(arg);
        for (auto &a : list.addresses) {
            given.push_back(a.address);
            given_params.push_back(i < sub.rcpt_params.size() ? &sub.rcpt_params[i] : nullptr);
        }
        for (auto &e : list.errors) p.warnings.push_back("recipient \"" + arg + "\": " + e);
    }
    if (sub.extract_recipients) {
        auto hdr = header_recipients(msg, &p.warnings);
        given.insert(given.end(), hdr.begin(), hdr.end());
        given_params.resize(given.size(), nullptr);
    }
    // Bcc: never leaves the machine (Postfix removes it in every mode).
    msg.remove("Bcc");
    msg.remove("Resent-Bcc");
    // Return-Path: is added by the final delivery agent, never by a sender.
    msg.remove("Return-Path");

    // Header completion, as Postfix cleanup does.
    std::string qualified_sender = rw.qualify(sender);
    if (!msg.has("From")) {
        std::string addr = sender.empty() ? rw.qualify("MAILER-DAEMON") : qualified_sender;
        std::string name = sub.fullname ? *sub.fullname : std::string();
        if (!name.empty()) {
            std::string quoted = "\"";
            for (char c : name) {
                if (c == '"' || c == '\\') quoted += '\\';
                quoted += c;
            }
            quoted += "\"";
            msg.add("From", quoted + " <" + addr + ">");
        } else {
            msg.add("From", addr);
        }
    }
    if (!msg.has("Date")) msg.add("Date", message::rfc5322_date(env.arrival));
    if (!msg.has("Message-ID")) msg.add("Message-ID", message::make_message_id(id, cfg.myhostname));
    if (!has_any_header(msg, {"To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc"}))
        msg.add("To", "undisclosed-recipients:;");
    msg.prepend("Received", "by " + cfg.myhostname + " (relay, from userid " +
                                std::to_string(uid) + ")\n\tid " + id + "; " +
                                message::rfc5322_date(env.arrival));

    // Rewriting: envelope sender, each recipient (one-to-many), headers.
    env.sender = rw.sender(sender);
    std::vector<std::string> seen;
    for (size_t gi = 0; gi < given.size(); ++gi) {
        const std::string &orig = given[gi];
        const RcptParams *params = given_params[gi];
        // ORCPT of type rfc822 names the original recipient for DSNs.
        std::string original = orig;
        if (params && util::istarts_with(params->orcpt, "rfc822;")) {
            std::string o = util::xtext_decode(std::string_view(params->orcpt).substr(7));
            if (!o.empty() && !util::has_ctl_line_break(o)) original = o;
        }
        for (auto &addr : rw.recipient(orig)) {
            bool dup = false;
            for (auto &s : seen) dup = dup || util::iequals(s, addr);
            if (dup) continue;
            seen.push_back(addr);
            Recipient r;
            r.address = addr;
            r.orig = original;
            r.notify = params && !params->notify.empty() ? params->notify : sub.notify;
            env.rcpts.push_back(std::move(r));
        }
    }
    rw.headers(msg, qualified_sender);

    // Last: what goes into the queue can go out over SMTP as it is.
    auto safe = message::make_smtp_safe(msg);
    if (safe.nul_removed)
        p.warnings.push_back("removed " + std::to_string(safe.nul_removed) + " NUL byte(s)");
    if (safe.bare_cr_fixed)
        p.warnings.push_back("replaced " + std::to_string(safe.bare_cr_fixed) + " bare CR(s)");
    if (safe.reencoded)
        p.warnings.push_back(std::to_string(safe.long_lines) +
                             " line(s) over 998 octets: body re-encoded as quoted-printable");
    else if (safe.long_lines)
        p.warnings.push_back(std::to_string(safe.long_lines) + " line(s) over 998 octets folded");
    if (env.body.empty() && safe.eight_bit_body) env.body = "8BITMIME";
    auto eight_bit = [](const std::string &a) {
        for (unsigned char c : a)
            if (c >= 0x80) return true;
        return false;
    };
    env.smtputf8 = eight_bit(env.sender);
    for (auto &r : env.rcpts) env.smtputf8 = env.smtputf8 || eight_bit(r.address);
    return p;
}

PickupReport pickup(const config::Config &cfg, FsQueue &queue, const rewrite::Pipeline &rw) {
    PickupReport rep;
    const std::string &spool = cfg.queue.directory;
    std::string dir_path = spool + "/maildrop";
    UniqueFd dir(::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) {
        int e = errno;
        log::error("cannot open " + dir_path + ": " + errno_text(e));
        return rep;
    }
    std::vector<std::string> names;
    if (DIR *d = fdopendir(::dup(dir.get()))) {
        while (auto *e = readdir(d)) names.emplace_back(e->d_name);
        closedir(d);
    }
    std::sort(names.begin(), names.end());
    const size_t limit = cfg.queue.message_size_limit + (4u << 20);

    // Group commit: entries are staged and committed CommitBatch::kMaxEntries
    // at a time; their maildrop files go after the commit, with one fsync of
    // maildrop/ per batch. Log lines are written once an entry is committed.
    struct Done {
        std::string id, sender, message_id;
        uint32_t uid = 0;
        size_t size = 0, nrcpt = 0;
        bool hold = false;
    };
    CommitBatch batch(queue);
    std::vector<Done> staged;
    auto finish = [&] {
        if (staged.empty()) return;
        auto out = batch.commit();
        for (auto &[id, err] : out.failed)
            log::error(id + ": cannot queue: " + err.message);
        bool unlinked = false;
        for (auto &d : staged) {
            if (std::find(out.committed.begin(), out.committed.end(), d.id) == out.committed.end())
                continue;
            if (d.hold) {
                if (auto m = queue.move(d.id, Area::Queue, Area::Hold); !m)
                    log::error(d.id + ": cannot put on hold: " + m.error().message);
                log::warning(d.id + ": no recipients after rewriting: message put on hold");
                ++rep.held;
            } else {
                ++rep.picked;
            }
            // A failure here is row P3 of the state table: the next pickup
            // finds queue/<id> and only removes the maildrop file.
            unlinked |= util::sys::unlinkat(dir.get(), d.id.c_str(), 0) == 0;
            log::info(d.id + ": uid=" + std::to_string(d.uid) + " from=<" + d.sender + ">");
            if (!d.message_id.empty()) log::info(d.id + ": message-id=" + d.message_id);
            log::info(d.id + ": from=<" + d.sender + ">, size=" + std::to_string(d.size) +
                      ", nrcpt=" + std::to_string(d.nrcpt) + " (queue active)");
        }
        if (unlinked) util::sys::fsync_dir(dir.get());
        staged.clear();
    };

    for (auto &name : names) {
        if (name == "." || name == "..") continue;
        if (name.rfind("t.", 0) == 0) {
            // A submission still being written, or one whose writer died.
            UniqueFd fd(::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK));
            struct stat st;
            if (fd && ::fstat(fd.get(), &st) == 0 && time(nullptr) - st.st_mtime > stale_tmp_age &&
                ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
                ::unlinkat(dir.get(), name.c_str(), 0);
                ++rep.stale_tmp;
                log::warning("removed stale partial submission maildrop/" + name);
            }
            continue;
        }
        if (!is_valid_id(name)) {
            quarantine(spool, name, "name is not a queue id");
            ++rep.corrupt;
            continue;
        }
        if (queue.exists(name)) {
            // Committed before a crash; only the unlink was lost.
            if (util::sys::unlinkat(dir.get(), name.c_str(), 0) == 0) util::sys::fsync_dir(dir.get());
            ++rep.duplicates;
            continue;
        }
        UniqueFd fd(::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
        struct stat st;
        if (!fd || ::fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode)) {
            quarantine(spool, name, fd ? "not a regular file" : "cannot open: " + errno_text(errno));
            ++rep.corrupt;
            continue;
        }
        auto text = read_fd(fd.get(), limit);
        if (!text) {
            quarantine(spool, name, text.error().message);
            ++rep.corrupt;
            continue;
        }
        auto sub = parse_submission(*text, cfg.queue.message_size_limit);
        if (!sub) {
            quarantine(spool, name, sub.error().message);
            ++rep.corrupt;
            continue;
        }
        auto prep = prepare(cfg, rw, *sub, name, st.st_uid);
        if (!prep) {
            quarantine(spool, name, prep.error().message);
            ++rep.corrupt;
            continue;
        }
        for (auto &w : prep->warnings) log::warning(name + ": " + w);
        auto &env = prep->envelope;
        std::string body = prep->message.str();
        env.size = body.size();
        Done d;
        d.id = name;
        d.uid = st.st_uid;
        d.sender = env.sender;
        d.size = env.size;
        d.nrcpt = env.rcpts.size();
        if (auto *mid = prep->message.find("Message-ID")) d.message_id = util::trim(mid->value());
        if (env.rcpts.empty()) {
            env.reason = "no recipients after rewriting";
            d.hold = true;
        }
        fd.reset();
        if (auto r = batch.stage(env, body); !r) {
            // Temporary: leave the maildrop file for the next pickup.
            log::error(name + ": cannot queue: " + r.error().message);
            continue;
        }
        staged.push_back(std::move(d));
        if (batch.full()) finish();
    }
    finish();
    return rep;
}

}  // namespace relay::queue
