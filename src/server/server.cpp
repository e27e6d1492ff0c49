#include "server/server.hpp"

#include <cerrno>
#include <csignal>
#include <deque>
#include <fcntl.h>
#include <grp.h>
#include <map>
#include <memory>
#include <pwd.h>
#include <queue>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

#include <sodium.h>

#include "cli/submit.hpp"
#include "cli/context.hpp"
#include "log/log.hpp"
#include "server/connection.hpp"
#include "server/listeners.hpp"
#include "util/error.hpp"

extern char **environ;

namespace relay::server {
namespace {

constexpr uint64_t listener_tag = 1ull << 62;
constexpr uint64_t signal_tag = listener_tag + 1000;
constexpr uint64_t worker_tag = listener_tag + 1001;
constexpr uint64_t lookup_tag = listener_tag + 1002;

struct Loaded {
    std::shared_ptr<const Runtime> runtime;
    std::shared_ptr<TlsContext> tls;
};

Result<Loaded> load_runtime(const std::string &config_path) {
    cli::Context ctx;
    try {
        ctx = cli::load_context(config_path);
    } catch (const Fatal &e) {
        return make_error(e.what());
    }
    auto rt = std::make_shared<Runtime>();
    rt->cfg = std::move(ctx.cfg);
    auto policy = Policy::load(rt->cfg);
    if (!policy) return make_error((rt->cfg.source.empty() ? "(defaults)" : rt->cfg.source) + ": " +
                                   policy.error().message);
    for (auto &w : (*policy)->warnings()) log::warning(w);
    rt->policy = std::move(*policy);
    Loaded l;
    const auto &sc = rt->cfg.server;
    if (!sc.tls_cert_file.empty()) {
        auto tls = TlsContext::load(sc.tls_cert_file, sc.tls_key_file, sc.tls_min_version);
        if (!tls) return tls.error();
        l.tls = *tls;
        rt->tls = true;
    }
    l.runtime = rt;
    return l;
}

void drop_privileges(const std::string &user) {
    if (user.empty()) return;
    if (geteuid() != 0) {
        log::warning("[server] user = " + user + " ignored: not running as root");
        return;
    }
    struct passwd *pw = getpwnam(user.c_str());
    if (!pw) throw Fatal(Exit::Config, "[server] user: no such user " + user);
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0)
        throw Fatal(Exit::OsErr, "cannot become user " + user + ": " + errno_text(errno));
}

class Server : public ConnectionHost {
public:
    Server(const ServeOptions &opt, Loaded loaded, std::vector<Listener> listeners)
        : opt_(opt), runtime_(loaded.runtime), tls_(loaded.tls), listeners_(std::move(listeners)),
          pool_(std::max(2u, std::min(4u, std::thread::hardware_concurrency()))) {
        users_ = std::make_shared<UserDb>(runtime_->cfg.server.users_file);
    }

    int run();

    // ConnectionHost
    void interest_changed(Connection &c) override;
    void schedule(Connection &c) override;
    void submit(uint64_t owner, WorkerPool::Job job) override { pool_.submit(owner, std::move(job)); }
    bool lookup(uint64_t owner, WorkerPool::Job job) override {
        if (lookups_.in_flight() >= kLookupThreads) return false;
        lookups_.submit(owner, std::move(job));
        return true;
    }
    bool auth_blocked(const IpAddress &a) override;
    void auth_failed(const IpAddress &a) override;
    std::shared_ptr<UserDb> users() override { return users_; }
    void mail_queued() override;
    bool stopping() const override { return stopping_; }

private:
    void accept_from(size_t index);
    void on_signal();
    void reload();
    void begin_stop();
    void spawn_flush();
    void reap();
    void run_timers();
    void drop(uint64_t id);
    int next_timeout() const;

    ServeOptions opt_;
    std::shared_ptr<const Runtime> runtime_;
    std::shared_ptr<TlsContext> tls_;
    std::shared_ptr<UserDb> users_;
    std::vector<Listener> listeners_;
    util::UniqueFd epoll_, sigfd_;
    WorkerPool pool_;
    // Host name lookups (peername.hpp) wait on DNS, not on the CPU: their
    // own threads, so that a slow resolver never holds up a commit. A
    // lookup starts only when one of them is free, never queued: with a
    // dead name server a lookup takes the whole lookup_wait, and a flood
    // must not make every later client wait behind its lookups. A client
    // that finds them all busy stays "unknown".
    static constexpr unsigned kLookupThreads = 4;
    WorkerPool lookups_{kLookupThreads};
    std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
    std::map<std::string, unsigned> per_client_;
    std::map<std::string, std::deque<Clock::time_point>> auth_failures_;
    using TimerEntry = std::pair<Clock::time_point, uint64_t>;
    std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers_;
    std::vector<uint64_t> closing_;
    uint64_t next_id_ = 1;
    bool stopping_ = false;
    Clock::time_point stop_deadline_;
    pid_t flush_pid_ = 0;
    bool flush_again_ = false;
};

void Server::interest_changed(Connection &c) {
    if (c.closed()) {
        if (c.registered) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.fd(), nullptr);
        c.registered = 0;
        closing_.push_back(c.id());
        return;
    }
    uint32_t want = c.interest();
    // Registered with an empty mask (EPOLL_CTL_MOD to 0) still reports
    // EPOLLHUP/EPOLLERR, which on_event handles.
    if (c.registered == 0) {
        epoll_event ev{};
        ev.events = want;
        ev.data.u64 = c.id();
        epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.fd(), &ev);
        c.registered = want | 0x80000000u;
    } else if ((c.registered & ~0x80000000u) != want) {
        epoll_event ev{};
        ev.events = want;
        ev.data.u64 = c.id();
        epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd(), &ev);
        c.registered = want | 0x80000000u;
    }
}

void Server::schedule(Connection &c) {
    if (c.deadline() < c.heap_time) {
        c.heap_time = c.deadline();
        timers_.push({c.deadline(), c.id()});
    }
}

bool Server::auth_blocked(const IpAddress &a) {
    auto it = auth_failures_.find(a.text);
    if (it == auth_failures_.end()) return false;
    auto cutoff = Clock::now() - runtime_->cfg.server.auth_failure_window;
    while (!it->second.empty() && it->second.front() < cutoff) it->second.pop_front();
    if (it->second.empty()) {
        auth_failures_.erase(it);
        return false;
    }
    return it->second.size() >= runtime_->cfg.server.auth_failure_limit;
}

void Server::auth_failed(const IpAddress &a) {
    auto &q = auth_failures_[a.text];
    q.push_back(Clock::now());
    while (q.size() > 1000) q.pop_front();
    if (auth_failures_.size() > 100000) auth_failures_.erase(auth_failures_.begin());
}

void Server::mail_queued() {
    const auto &cfg = runtime_->cfg;
    cli::poke_trigger(cfg.queue.directory);
    if (!cfg.queue.flush_after_submit) return;
    if (flush_pid_ > 0) flush_again_ = true;
    else spawn_flush();
}

void Server::spawn_flush() {
    std::vector<std::string> args{"relay", "--flush", "--quiet"};
    if (!opt_.config_path.empty()) {
        args.push_back("-C");
        args.push_back(opt_.config_path);
    }
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        log::warning("cannot start relay --flush: " + errno_text(rc));
        return;
    }
    flush_pid_ = pid;
    flush_again_ = false;
}

void Server::reap() {
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        if (pid == flush_pid_) {
            flush_pid_ = 0;
            if (flush_again_ && !stopping_) spawn_flush();
        }
    }
}

void Server::reload() {
    auto loaded = load_runtime(opt_.config_path);
    if (!loaded) {
        log::error("reload failed, keeping the running configuration: " + loaded.error().message);
        return;
    }
    const auto &old = runtime_->cfg.server.listen;
    const auto &now = loaded->runtime->cfg.server.listen;
    bool same = old.size() == now.size();
    for (size_t i = 0; same && i < old.size(); ++i) same = old[i].text == now[i].text;
    if (!same) log::warning("reload: [server] listen changed; restart relay serve to apply it");
    runtime_ = loaded->runtime;
    tls_ = loaded->tls;
    if (users_->path() != runtime_->cfg.server.users_file)
        users_ = std::make_shared<UserDb>(runtime_->cfg.server.users_file);
    log::info("reload: configuration" + std::string(tls_ ? ", tables and certificate" : " and tables") +
              " reloaded");
}

void Server::begin_stop() {
    if (stopping_) return;
    stopping_ = true;
    stop_deadline_ = Clock::now() + std::chrono::seconds(30);
    log::info("stopping: closing " + std::to_string(listeners_.size()) + " listener(s)");
    for (auto &l : listeners_) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, l.fd.get(), nullptr);
    listeners_.clear();
    std::vector<Connection *> all;
    for (auto &[id, c] : conns_) all.push_back(c.get());
    for (auto *c : all) c->pump();
}

void Server::on_signal() {
    signalfd_siginfo si;
    while (::read(sigfd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        switch (si.ssi_signo) {
        case SIGTERM:
        case SIGINT: begin_stop(); break;
        case SIGHUP: reload(); break;
        case SIGCHLD: reap(); break;
        default: break;
        }
    }
}

void Server::accept_from(size_t index) {
    for (int i = 0; i < 256 && index < listeners_.size(); ++i) {
        Listener &l = listeners_[index];
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        int fd = accept4(l.fd.get(), reinterpret_cast<sockaddr *>(&ss), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                log::warning("accept: " + errno_text(errno) + ": too many open files");
            return;
        }
        util::UniqueFd cfd(fd);
        auto ip = IpAddress::from_sockaddr(reinterpret_cast<sockaddr *>(&ss));
        if (!ip) continue;
        uint64_t id = next_id_++;
        auto conn = std::make_unique<Connection>(*this, id, std::move(cfd), l.kind, *ip, runtime_, tls_);
        Connection *c = conn.get();
        conns_.emplace(id, std::move(conn));
        const auto &sc = runtime_->cfg.server;
        unsigned &count = per_client_[ip->text];
        if (conns_.size() > sc.max_connections) {
            log::warning("connection limit " + std::to_string(sc.max_connections) +
                         " reached: refusing unknown[" + ip->text + "]");
            c->refuse("421 4.3.2 " + runtime_->cfg.myhostname +
                      " Error: too many connections; try again later");
        } else if (count >= sc.client_connection_limit && !runtime_->policy->in_mynetworks(*ip)) {
            log::warning("too many connections from unknown[" + ip->text + "]");
            c->refuse("421 4.7.0 " + runtime_->cfg.myhostname +
                      " Error: too many connections from " + ip->text);
        } else {
            c->start();
        }
        ++count;
    }
}

void Server::drop(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    auto pc = per_client_.find(it->second->client().text);
    if (pc != per_client_.end() && --pc->second == 0) per_client_.erase(pc);
    conns_.erase(it);
}

void Server::run_timers() {
    auto now = Clock::now();
    while (!timers_.empty() && timers_.top().first <= now) {
        auto [when, id] = timers_.top();
        timers_.pop();
        auto it = conns_.find(id);
        if (it == conns_.end()) continue;
        Connection &c = *it->second;
        if (when != c.heap_time) continue;  // superseded by an earlier entry
        c.heap_time = Clock::time_point::max();
        if (c.deadline() <= now) c.on_timer();
        if (!c.closed()) schedule(c);
    }
}

int Server::next_timeout() const {
    auto now = Clock::now();
    Clock::time_point next = Clock::time_point::max();
    if (!timers_.empty()) next = timers_.top().first;
    if (stopping_) next = std::min(next, now + std::chrono::milliseconds(200));
    if (next == Clock::time_point::max()) return -1;
    if (next <= now) return 0;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
    return ms > 60000 ? 60000 : static_cast<int>(ms);
}

int Server::run() {
    epoll_ = util::UniqueFd(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) throw Fatal(Exit::OsErr, "epoll_create1: " + errno_text(errno));
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&mask, s);
    sigfd_ = util::UniqueFd(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!sigfd_) throw Fatal(Exit::OsErr, "signalfd: " + errno_text(errno));
    auto add = [this](int fd, uint64_t tag) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = tag;
        if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
            throw Fatal(Exit::OsErr, "epoll_ctl: " + errno_text(errno));
    };
    add(sigfd_.get(), signal_tag);
    add(pool_.fd(), worker_tag);
    add(lookups_.fd(), lookup_tag);
    for (size_t i = 0; i < listeners_.size(); ++i) {
        add(listeners_[i].fd.get(), listener_tag + 1 + i);
        log::info("listening: " + listeners_[i].name);
    }
    log::info("daemon started -- relay SMTP server ready");
    epoll_event events[128];
    for (;;) {
        if (stopping_ && ((conns_.empty() && pool_.in_flight() == 0) || Clock::now() > stop_deadline_))
            break;
        int n = epoll_wait(epoll_.get(), events, 128, next_timeout());
        if (n < 0 && errno != EINTR) throw Fatal(Exit::OsErr, "epoll_wait: " + errno_text(errno));
        for (int i = 0; i < n; ++i) {
            uint64_t tag = events[i].data.u64;
            if (tag == signal_tag) on_signal();
            else if (tag == worker_tag || tag == lookup_tag)
                (tag == worker_tag ? pool_ : lookups_)
                    .run_completions([this](uint64_t owner, WorkerPool::Completion &fn) {
                        auto it = conns_.find(owner);
                        if (it == conns_.end() || it->second->closed()) return;
                        fn();
                        it->second->pump();
                    });
            else if (tag > listener_tag && tag <= listener_tag + listeners_.size())
                accept_from(static_cast<size_t>(tag - listener_tag - 1));
            else if (auto it = conns_.find(tag); it != conns_.end())
                it->second->on_event(events[i].events);
        }
        run_timers();
        for (uint64_t id : closing_) drop(id);
        closing_.clear();
    }
    log::info("stopped");
    return 0;
}

}  // namespace

int serve(const ServeOptions &opt) {
    log::set_component("smtpd");
    log::set_sink(opt.syslog ? log::Sink::Syslog : log::Sink::Stderr);
    if (sodium_init() < 0) throw Fatal(Exit::Software, "libsodium failed to initialise");
    auto loaded = load_runtime(opt.config_path);
    if (!loaded) throw Fatal(Exit::Config, loaded.error().message);
    const auto &sc = loaded->runtime->cfg.server;
    for (auto &l : sc.listen)
        if (l.kind == config::ListenerKind::Smtps && !loaded->tls)
            throw Fatal(Exit::Config, "[server] listen \"" + l.text +
                                          "\": smtps needs tls_cert_file and tls_key_file");
    if (opt.check_only) {
        log::info("configuration ok" + std::string(loaded->tls ? ", certificate loaded" : ""));
        return 0;
    }
    // Block the signals the loop takes from its signalfd before any thread
    // starts, so that every thread inherits the mask.
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&mask, s);
    pthread_sigmask(SIG_BLOCK, &mask, nullptr);
    signal(SIGPIPE, SIG_IGN);
    bool activated = false;
    auto listeners = activated_listeners(activated);
    if (!listeners) throw Fatal(Exit::OsErr, listeners.error().message);
    if (!activated) {
        listeners = bind_listeners(sc.listen);
        if (!listeners)
            throw Fatal(listeners.error().sys_errno == EACCES ? Exit::NoPerm : Exit::OsErr,
                        listeners.error().message);
    }
    drop_privileges(sc.user);
    // One descriptor per connection: allow as many as the hard limit does.
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    Server server(opt, *loaded, std::move(*listeners));
    return server.run();
}

}  // namespace relay::server
