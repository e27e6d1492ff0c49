// daemon.cpp - `relay --daemon`: prompt delivery without systemd.
//
// The daemon stays in the foreground (for runit, s6, supervise, or
// start-stop-daemon --background) and does nothing but wait:
//
//   - on SPOOL/trigger, a FIFO it creates (mode 0620, owner the relay user,
//     group that of maildrop/, so the set-gid front end may write to it and
//     nobody else may read it). The front end writes one byte after every
//     submission (submit.cpp wake_flusher()); the daemon drains the FIFO and
//     runs a flush.
//   - on a timer: it wakes when the earliest deferred message is due, and
//     at least every 5 minutes (new mail nobody announced, a changed clock).
//
// Each wake runs exactly what `relay --flush` runs (flush_once(): flush.lock,
// recovery, pickup, delivery), so the daemon and cron or a systemd timer can
// be used together; a flush that finds the lock held is retried a second
// later. Tables are read afresh for every run; relay.toml is read again
// on SIGHUP (a file that does not load is logged and the running
// configuration kept; a changed [queue] directory needs a restart).
//
// Guarantees: only root or the relay user (the owner of SPOOL/queue) may
// run it; one daemon per spool (SPOOL/daemon.lock). SIGTERM and SIGINT end
// it cleanly: the handler only sets a flag and writes to a self-pipe; the
// messages in flight are finished and recorded, no new one is started, and
// the exit status is 0. A failed run (a table that cannot be opened, a
// full disk) is logged and retried at the next wake, never the end of the
// daemon.
#include <cerrno>
#include <csignal>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build_config.hpp"
#include "cli/flush_cmd.hpp"
#include "log/log.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"

namespace relay::cli {
namespace {

constexpr int64_t kMaxSleep = 300;  // seconds between runs at the most

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_reload = 0;
int g_wake_fd = -1;

extern "C" void on_signal(int sig) {
    int saved = errno;
    if (sig == SIGHUP) g_reload = 1;
    else g_stop = 1;
    if (g_wake_fd >= 0) {
        ssize_t n = ::write(g_wake_fd, "s", 1);
        (void)n;
    }
    errno = saved;
}

// Opens SPOOL/trigger, creating it; fixes its owner, group and mode.
util::UniqueFd open_trigger(const std::string &spool, uid_t owner) {
    const std::string path = spool + "/trigger";
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISFIFO(st.st_mode))
            throw Fatal(Exit::Config, path + " exists and is not a FIFO: remove it");
    } else if (errno != ENOENT || (::mkfifo(path.c_str(), 0600) < 0 && errno != EEXIST)) {
        throw Fatal(exit_for_errno(errno), "cannot create " + path + ": " + errno_text(errno));
    }
    // O_RDWR: the FIFO never reports "no writer" (POLLHUP) between pokes.
    util::UniqueFd fd(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) throw Fatal(exit_for_errno(errno), "cannot open " + path + ": " + errno_text(errno));
    if (::fstat(fd.get(), &st) < 0 || !S_ISFIFO(st.st_mode))
        throw Fatal(Exit::Config, path + " is not a FIFO: remove it");
    struct stat md;
    gid_t group = st.st_gid;
    if (::stat((spool + "/maildrop").c_str(), &md) == 0) group = md.st_gid;
    uid_t user = ::geteuid() == 0 ? owner : static_cast<uid_t>(-1);
    if (::fchown(fd.get(), user, group) < 0)
        log::warning("cannot give " + path + " to group " + std::to_string(group) + ": " +
                     errno_text(errno) +
                     "; the set-gid front end cannot wake the daemon, new mail waits for the timer");
    if (::fchmod(fd.get(), 0620) < 0)
        throw Fatal(exit_for_errno(errno), "cannot chmod " + path + ": " + errno_text(errno));
    return fd;
}

void drain(int fd) {
    char buf[512];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
}

// SIGHUP: CTX gets the configuration file as it is now, or stays as it was.
void reload(Context &ctx) {
    const std::string path = ctx.explicit_config ? ctx.config_path : build::config_file;
    auto loaded = config::load(path, ctx.explicit_config);
    if (!loaded) {
        log::error("reload failed, keeping the running configuration: " + loaded.error().message);
        return;
    }
    if (loaded->queue.directory != ctx.cfg.queue.directory) {
        log::warning("reload: [queue] directory changed; restart relay --daemon to apply it "
                     "(keeping the running configuration)");
        return;
    }
    ctx.cfg = std::move(loaded).value();
    log::info("reload: configuration reloaded from " + path);
}

}  // namespace

int run_daemon(const Context &ctx_in, const Options &opt_in) {
    Context ctx = ctx_in;
    log::set_component("flush");
    const std::string &spool = ctx.cfg.queue.directory;
    struct stat qst;
    if (::stat((spool + "/queue").c_str(), &qst) < 0)
        throw Fatal(exit_for_errno(errno), spool + "/queue: " + errno_text(errno) +
                                               " (create the spool with relay --init-spool)");
    if (::geteuid() != 0 && ::geteuid() != qst.st_uid)
        throw Fatal(Exit::NoPerm, "relay --daemon runs as root or as the owner of " + spool +
                                      "/queue (the relay user)");
    std::string lock_path = spool + "/daemon.lock";
    util::FileLock lock(lock_path.c_str(), util::FileLock::Mode::NoWait);
    if (!lock.valid()) {
        if (lock.error() == EWOULDBLOCK)
            throw Fatal(Exit::TempFail, "another relay --daemon is running for " + spool);
        throw Fatal(exit_for_errno(lock.error()),
                    "cannot lock " + lock_path + ": " + errno_text(lock.error()));
    }
    util::UniqueFd trigger = open_trigger(spool, qst.st_uid);

    int pfd[2];
    if (::pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0)
        throw Fatal(Exit::OsErr, std::string("pipe: ") + errno_text(errno));
    util::UniqueFd wake_rd(pfd[0]), wake_wr(pfd[1]);
    g_wake_fd = wake_wr.get();
    struct sigaction sa = {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: poll() returns at once
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGHUP, &sa, nullptr);
    struct sigaction ign = {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, nullptr);

    Options opt = opt_in;
    opt.quiet = true;  // no progress line: nobody is watching
    log::info("daemon started: waiting on " + spool + "/trigger");
    while (!g_stop) {
        if (g_reload) {
            g_reload = 0;
            reload(ctx);
        }
        int64_t sleep_s = kMaxSleep;
        try {
            FlushRun run = flush_once(ctx, opt, &g_stop);
            if (!run.ran) {
                sleep_s = 1;  // another runner: look again soon
            } else if (run.next_due > 0) {
                int64_t wait = run.next_due - static_cast<int64_t>(::time(nullptr));
                sleep_s = wait < 1 ? 1 : wait < kMaxSleep ? wait : kMaxSleep;
            }
            if (run.status != 0 && !g_stop)
                log::warning("delivery run ended with status " + std::to_string(run.status));
        } catch (const Fatal &e) {
            log::error(std::string(e.what()) + " (next attempt in " + std::to_string(kMaxSleep) +
                       "s or on new mail)");
        }
        if (g_stop) break;
        struct pollfd fds[2] = {{trigger.get(), POLLIN, 0}, {wake_rd.get(), POLLIN, 0}};
        int pr = ::poll(fds, 2, static_cast<int>(sleep_s * 1000));
        if (pr < 0 && errno != EINTR)
            throw Fatal(Exit::OsErr, std::string("poll: ") + errno_text(errno));
        if (pr > 0 && (fds[0].revents & POLLIN)) drain(trigger.get());
        if (pr > 0 && (fds[1].revents & POLLIN)) drain(wake_rd.get());
    }
    g_wake_fd = -1;
    log::info("daemon stopped");
    return 0;
}

}  // namespace relay::cli
