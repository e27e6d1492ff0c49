#include "cli/flush_cmd.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "cli/delivery_hook.hpp"
#include "cli/process.hpp"
#include "log/log.hpp"
#include "queue/pickup.hpp"
#include "queue/queue_fs.hpp"
#include "rewrite/pipeline.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

namespace relay::cli {

FlushRun flush_once(const Context &ctx, const Options &opt, const volatile std::sig_atomic_t *stop) {
    const auto &cfg = ctx.cfg;
    FlushRun run;
    // Idempotent: once switched, there is nothing left to switch.
    if (!drop_to_spool_owner(cfg.queue.directory))
        throw Fatal(Exit::OsErr, "cannot switch to the owner of " + cfg.queue.directory);
    std::string lock_path = cfg.queue.directory + "/flush.lock";
    util::FileLock lock(lock_path.c_str(), util::FileLock::Mode::NoWait);
    if (!lock.valid()) {
        if (lock.error() == EWOULDBLOCK) return run;
        throw Fatal(exit_for_errno(lock.error()),
                    "cannot lock " + lock_path + ": " + errno_text(lock.error()) +
                        (lock.error() == EACCES ? " (run as root or as the relay user)" : ""));
    }
    run.ran = true;
    queue::FsQueue q(cfg.queue.directory);
    auto rec = q.recover();
    if (rec.incoming_removed || rec.purge_finished || rec.tmp_removed || rec.moved_corrupt)
        log::info("recovery: removed " + std::to_string(rec.incoming_removed) +
                  " incomplete, finished " + std::to_string(rec.purge_finished) +
                  " deletions, dropped " + std::to_string(rec.tmp_removed) +
                  " stale envelope updates, quarantined " + std::to_string(rec.moved_corrupt));
    rewrite::Pipeline rw(cfg);
    log::set_component("pickup");
    auto rep = queue::pickup(cfg, q, rw);
    log::set_component("flush");
    auto d = deliver_queue(cfg, q, opt, stop);
    run.status = d.status;
    run.next_due = d.next_due;
    // Mail that arrived while we were sending: pick it up and send it too.
    log::set_component("pickup");
    auto rep2 = queue::pickup(cfg, q, rw);
    log::set_component("flush");
    if (rep2.picked && !(stop && *stop)) {
        auto d2 = deliver_queue(cfg, q, opt, stop);
        if (run.status == 0) run.status = d2.status;
        run.next_due = d2.next_due;
    } else if (rep2.picked) {
        run.next_due = 1;  // new mail waits: as soon as possible
    }
    if (opt.verbose)
        log::info("picked up " + std::to_string(rep.picked + rep2.picked) + " message(s)");
    return run;
}

int run_flush(const Context &ctx, const Options &opt) {
    log::set_component("flush");
    FlushRun run = flush_once(ctx, opt);
    if (!run.ran) {
        if (!opt.quiet) log::info("a flush is already running; it will pick up new mail");
        return 0;
    }
    return run.status;
}

int run_init_spool(const Context &ctx) {
    int uid = -1, gid = -1, drop_gid = -1;
    if (geteuid() == 0) {
        if (auto *pw = getpwnam("relay")) {
            uid = static_cast<int>(pw->pw_uid);
            gid = static_cast<int>(pw->pw_gid);
        }
        if (auto *gr = getgrnam("relaydrop")) drop_gid = static_cast<int>(gr->gr_gid);
        if (uid < 0 || drop_gid < 0)
            log::warning("user relay or group relaydrop missing: the spool stays owned by root"
                         " (fine when only root submits mail)");
    }
    auto r = queue::FsQueue::init(ctx.cfg.queue.directory, uid, gid, drop_gid);
    if (!r) throw Fatal(exit_for_errno(r.error().sys_errno), r.error().message);
    log::info("spool " + ctx.cfg.queue.directory + " ready");
    return 0;
}

}  // namespace relay::cli
