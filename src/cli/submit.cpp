#include "cli/submit.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/process.hpp"
#include "log/log.hpp"
#include "message/address.hpp"
#include "message/header.hpp"
#include "queue/id.hpp"
#include "queue/pickup.hpp"
#include "util/error.hpp"

namespace relay::cli {

std::string read_message(int fd, bool ignore_dots, size_t limit) {
    std::string msg;
    bool too_big = false, ended = false;
    size_t total = 0;
    size_t line_start = 0;  // offset in msg where the current line begins
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            throw Fatal(Exit::IoErr, "error reading the message from standard input: " + errno_text(e));
        }
        if (n == 0) break;
        total += static_cast<size_t>(n);
        if (ended || too_big) continue;  // drain: the writer must not get SIGPIPE
        msg.append(buf, static_cast<size_t>(n));
        if (!ignore_dots) {
            // Look for a line that is exactly "." (LF or CRLF) among the
            // complete lines now in the buffer.
            for (;;) {
                size_t nl = msg.find('\n', line_start);
                if (nl == std::string::npos) break;
                std::string_view line(msg.data() + line_start, nl - line_start);
                if (line == "." || line == ".\r") {
                    msg.resize(line_start);
                    ended = true;
                    break;
                }
                line_start = nl + 1;
            }
        }
        if (msg.size() > limit) {
            too_big = true;
            msg.clear();
            msg.shrink_to_fit();
        }
    }
    // A final "." without a newline also ends the message.
    if (!ignore_dots && !ended && !too_big) {
        std::string_view last(msg.data() + line_start, msg.size() - line_start);
        if (last == ".") msg.resize(line_start);
    }
    if (too_big)
        throw Fatal(Exit::DataErr, "message too large: " + std::to_string(total) +
                                       " bytes exceeds message_size_limit (" +
                                       std::to_string(limit) + " bytes); not queued");
    return msg;
}

void drain_input(int fd) {
    if (isatty(fd)) return;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        return;
    }
}

queue::Submission make_submission(const Options &opt, std::string message) {
    queue::Submission sub;
    sub.sender = opt.sender;
    sub.fullname = opt.fullname;
    sub.extract_recipients = opt.extract_recipients;
    sub.body_type = opt.body_type;
    sub.notify = opt.dsn_notify;
    sub.ret = opt.dsn_ret;
    sub.envid = opt.envid;
    sub.recipients = opt.recipients;

    size_t valid = 0;
    for (auto &r : opt.recipients) {
        auto list = message::parse_recipient_argument(r);
        valid += list.addresses.size();
        for (auto &e : list.errors) log::warning("bad recipient \"" + r + "\": " + e);
    }
    if (opt.extract_recipients) {
        // Only the header section matters here.
        size_t end = message.find("\n\n");
        size_t end_crlf = message.find("\r\n\r\n");
        if (end_crlf != std::string::npos && (end == std::string::npos || end_crlf < end))
            end = end_crlf;
        auto head = message::Message::parse(
            std::string_view(message).substr(0, end == std::string::npos ? message.size() : end));
        std::vector<std::string> errors;
        valid += queue::header_recipients(head, &errors).size();
        for (auto &e : errors) log::warning("bad recipient in " + e);
        if (valid == 0)
            throw Fatal(Exit::DataErr, "No recipient addresses found in message header");
    } else if (opt.recipients.empty()) {
        throw Fatal(Exit::Usage,
                    "Recipient addresses must be specified on the command line or via the -t option");
    } else if (valid == 0) {
        throw Fatal(Exit::DataErr, "no valid recipient address given");
    }
    sub.message = std::move(message);
    return sub;
}

void check_free_space(const config::Config &cfg, size_t incoming) {
    struct statvfs vfs;
    if (statvfs(cfg.queue.directory.c_str(), &vfs) < 0) return;  // enqueue reports it
    unsigned long long avail = static_cast<unsigned long long>(vfs.f_bavail) * vfs.f_frsize;
    if (avail < cfg.queue.min_free_bytes + incoming)
        throw Fatal(Exit::TempFail,
                    "not enough free space in " + cfg.queue.directory + " (" +
                        std::to_string(avail / 1024) + " KiB free, " +
                        std::to_string(cfg.queue.min_free_bytes / 1024) +
                        " KiB reserved by min_free_bytes): message not queued, try again later");
    if (vfs.f_files > 0 && vfs.f_favail < cfg.queue.min_free_inodes)
        throw Fatal(Exit::TempFail, "not enough free inodes in " + cfg.queue.directory +
                                        ": message not queued, try again later");
}

std::string enqueue(const config::Config &cfg, const queue::Submission &sub) {
    for (int attempt = 0;; ++attempt) {
        std::string id = queue::make_id();
        auto r = queue::write_maildrop(cfg.queue.directory, id, sub);
        if (r) return id;
        int e = r.error().sys_errno;
        if (e == EEXIST && attempt < 5) continue;
        std::string hint;
        if (e == ENOENT) hint = " (is the spool set up? run: relay --init-spool)";
        if (e == EACCES || e == EPERM)
            hint = " (the front end must be set-gid relaydrop, or run as root or relay)";
        Exit code = e == EACCES || e == EPERM ? Exit::NoPerm
                    : e == EINVAL               ? Exit::DataErr  // trying again cannot help
                                                : Exit::TempFail;
        throw Fatal(code, r.error().message + hint + ": message not queued");
    }
}

void poke_trigger(const std::string &spool) {
    std::string fifo = spool + "/trigger";
    int tfd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (tfd < 0) return;  // no daemon listening: nothing to wake
    struct stat st;
    if (fstat(tfd, &st) == 0 && S_ISFIFO(st.st_mode)) {
        ssize_t w = ::write(tfd, "W", 1);
        (void)w;
    }
    ::close(tfd);
}

void wake_flusher(const config::Config &cfg, const std::string &config_path, bool start_flush) {
    // A set-gid front end cannot (and must not) run the queue: systemd's
    // relay-flush.path watches maildrop/, and `relay --daemon` listens on the
    // trigger FIFO.
    poke_trigger(cfg.queue.directory);
    if (identity().setgid || !cfg.queue.flush_after_submit || !start_flush) return;
    // Only a caller who may run the queue starts a flush: root, or the
    // spool's owner. Everybody else relies on the path unit or the daemon.
    struct stat spool_st;
    if (::stat(cfg.queue.directory.c_str(), &spool_st) < 0) return;
    if (geteuid() != 0 && geteuid() != spool_st.st_uid) return;
    // Run the flush in a grandchild, detached, so the caller never waits.
    pid_t pid = fork();
    if (pid < 0) return;
    if (pid == 0) {
        if (fork() != 0) _exit(0);
        setsid();
        int null = ::open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            if (null > 2) ::close(null);
        }
        std::vector<const char *> argv{"relay", "--flush", "--quiet"};
        if (!config_path.empty()) {
            argv.push_back("-C");
            argv.push_back(config_path.c_str());
        }
        argv.push_back(nullptr);
        execv("/proc/self/exe", const_cast<char *const *>(argv.data()));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

int run_submit(const Options &opt, const config::Config &cfg, const std::string &config_path) {
    std::string message = read_message(0, opt.ignore_dots, cfg.queue.message_size_limit);
    auto sub = make_submission(opt, std::move(message));
    check_free_space(cfg, sub.message.size());
    std::string id = enqueue(cfg, sub);
    log::debug(id + ": queued, " + std::to_string(sub.message.size()) + " bytes");
    // -odq: queue only, as Sendmail and Postfix read it.
    bool queue_only = false;
    for (auto &f : opt.ignored) queue_only = queue_only || f == "-odq";
    wake_flusher(cfg, config_path, !queue_only);
    return 0;
}

}  // namespace relay::cli
