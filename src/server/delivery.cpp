#include "server/delivery.hpp"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli/sendmail_args.hpp"
#include "cli/submit.hpp"
#include "log/log.hpp"
#include "queue/id.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/sys.hpp"

namespace relay::server {
namespace {

std::atomic<unsigned long> g_counter{0};

Result<void> ensure_dir(const std::string &path, const config::Config &cfg) {
    // mkdir -p, each new component 0700 and handed to the mailbox owner.
    size_t pos = 1;
    for (;;) {
        size_t slash = path.find('/', pos);
        std::string part = path.substr(0, slash);
        if (!part.empty()) {
            if (util::sys::mkdirat(AT_FDCWD, part.c_str(), 0700) == 0) {
                if (geteuid() == 0 && (cfg.server.virtual_uid || cfg.server.virtual_gid) &&
                    part.size() > cfg.server.virtual_mailbox_base.size() &&
                    ::chown(part.c_str(), cfg.server.virtual_uid, cfg.server.virtual_gid) != 0)
                    return make_error("chown " + part + ": " + errno_text(errno), errno);
            } else if (errno != EEXIST) {
                return make_error("mkdir " + part + ": " + errno_text(errno), errno);
            }
        }
        if (slash == std::string::npos || slash + 1 >= path.size()) break;
        pos = slash + 1;
    }
    return {};
}

}  // namespace

Result<void> deliver_maildir(const std::string &maildir, const std::string &message,
                             const config::Config &cfg) {
    for (const char *sub : {"tmp", "new", "cur"})
        if (auto r = ensure_dir(maildir + sub, cfg); !r) return r;
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    std::string host = cfg.myhostname;
    for (auto &c : host)
        if (c == '/' || c == ':') c = '_';
    std::string unique = std::to_string(tv.tv_sec) + ".M" + std::to_string(tv.tv_usec) + "P" +
                         std::to_string(getpid()) + "Q" + std::to_string(++g_counter) + "." + host;
    std::string tmp = maildir + "tmp/" + unique, dst = maildir + "new/" + unique;
    util::UniqueFd fd(util::sys::openat(AT_FDCWD, tmp.c_str(),
                                        O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return make_error("create " + tmp + ": " + errno_text(errno), errno);
    if (geteuid() == 0 && (cfg.server.virtual_uid || cfg.server.virtual_gid) &&
        fchown(fd.get(), cfg.server.virtual_uid, cfg.server.virtual_gid) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return make_error("chown " + tmp + ": " + errno_text(e), e);
    }
    if (util::sys::write_all(fd.get(), message.data(), message.size()) != 0 ||
        util::sys::fsync(fd.get()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return make_error("write " + tmp + ": " + errno_text(e), e);
    }
    fd.reset();
    if (util::sys::renameat(AT_FDCWD, tmp.c_str(), AT_FDCWD, dst.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return make_error("rename " + tmp + ": " + errno_text(e), e);
    }
    if (util::sys::fsync_dir_path((maildir + "new").c_str()) != 0)
        return make_error("fsync " + maildir + "new: " + errno_text(errno), errno);
    return {};
}

std::string deliver_transaction(const config::Config &cfg, const Transaction &tx, std::string &id) {
    try {
        cli::check_free_space(cfg, tx.message.size());
    } catch (const Fatal &e) {
        log::warning(std::string("message refused: ") + e.what());
        return "452 4.3.1 Insufficient system storage";
    }
    id.clear();
    for (auto &target : tx.local) {
        std::string copy = "Return-Path: <" + tx.sender.value_or("") + ">\nDelivered-To: " +
                           target.recipient + "\n" + tx.message;
        if (auto r = deliver_maildir(target.maildir, copy, cfg); !r) {
            log::warning("to=<" + target.recipient + ">, maildir=" + target.maildir +
                         ", status=deferred (" + r.error().message + ")");
            return "451 4.3.0 Error: local delivery failed; try again later";
        }
        log::info("to=<" + target.recipient + ">, maildir=" + target.maildir +
                  ", status=sent (delivered to maildir)");
    }
    if (!tx.remote.empty()) {
        cli::Options opt;
        opt.sender = tx.sender;
        opt.recipients = tx.remote;
        opt.body_type = tx.body_type;
        opt.dsn_ret = tx.ret;
        opt.envid = tx.envid;
        try {
            auto sub = cli::make_submission(opt, tx.message);
            sub.rcpt_params = tx.remote_params;  // NOTIFY and ORCPT of each RCPT
            id = cli::enqueue(cfg, sub);
        } catch (const Fatal &e) {
            log::warning(std::string("message not queued: ") + e.what());
            return "451 4.3.0 Error: queue file write error";
        }
    }
    if (id.empty()) id = queue::make_id();
    return "250 2.0.0 Ok: queued as " + id;
}

}  // namespace relay::server
