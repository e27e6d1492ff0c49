#include "smtp/credentials.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log/log.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/strings.hpp"

extern char **environ;

namespace relay::smtp {
namespace {

constexpr size_t max_secret_size = 64 * 1024;
constexpr int command_timeout_ms = 30 * 1000;

// Appends up to max_secret_size bytes from FD to OUT without letting the
// string reallocate (every reallocation would leave a copy behind).
Result<void> read_all(int fd, std::string &out, std::string_view what, int timeout_ms) {
    out.reserve(max_secret_size + 1);
    char buf[4096];
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (timeout_ms >= 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
            int left = timeout_ms - static_cast<int>(elapsed);
            if (left <= 0) return make_error(std::string(what) + ": timed out", ETIMEDOUT);
            struct pollfd p{fd, POLLIN, 0};
            int pr = ::poll(&p, 1, left);
            if (pr < 0 && errno == EINTR) continue;
            if (pr < 0) return make_error(std::string(what) + ": poll: " + errno_text(errno), errno);
            if (pr == 0) return make_error(std::string(what) + ": timed out", ETIMEDOUT);
        }
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            sodium_memzero(buf, sizeof buf);
            return make_error(std::string(what) + ": read error: " + errno_text(err), err);
        }
        if (n == 0) break;
        size_t take = std::min(static_cast<size_t>(n), max_secret_size - out.size());
        out.append(buf, take);
        if (out.size() >= max_secret_size) break;
    }
    sodium_memzero(buf, sizeof buf);
    return {};
}

std::string_view strip_map_type(std::string_view spec) {
    static const char *types[] = {"hash:", "btree:", "lmdb:", "cdb:", "texthash:", "dbm:"};
    for (auto *t : types)
        if (util::istarts_with(spec, t)) return spec.substr(std::string_view(t).size());
    return spec;
}

}  // namespace

Secret::Secret(Secret &&o) noexcept {
    s_.reserve(o.s_.size());
    s_.assign(o.s_);
    o.wipe();
}

Secret &Secret::operator=(Secret &&o) noexcept {
    if (this != &o) {
        wipe();
        s_.reserve(o.s_.size());
        s_.assign(o.s_);
        o.wipe();
    }
    return *this;
}

void Secret::wipe() {
    // data() points to capacity()+1 bytes, the short-string buffer included.
    if (s_.capacity() > 0) sodium_memzero(s_.data(), s_.capacity());
    s_.clear();
}

std::string_view first_line(std::string_view s) {
    size_t nl = s.find('\n');
    if (nl != std::string_view::npos) s = s.substr(0, nl);
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return s;
}

Result<Secret> read_secret_file(const std::string &path, std::string_view what) {
    std::string label = std::string(what) + " " + path;
    util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (!fd) return make_error(label + ": cannot open: " + errno_text(errno), errno);
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) return make_error(label + ": " + errno_text(errno), errno);
    if (!S_ISREG(st.st_mode)) return make_error(label + ": not a regular file");
    uid_t me = ::geteuid();
    if (st.st_uid != me && st.st_uid != 0)
        return make_error(label + ": owned by uid " + std::to_string(st.st_uid) +
                          ", not by the user relay runs as (uid " + std::to_string(me) +
                          ") or root");
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return make_error(label + ": mode " + mode +
                          " lets group or others read it; refusing to use it (chmod 0600 " +
                          path + ")");
    }
    std::string data;
    if (auto r = read_all(fd.get(), data, label, -1); !r) {
        Secret wipe_it(std::move(data));
        return r.error();
    }
    return Secret(std::move(data));
}

Result<Secret> run_secret_command(const std::string &command, std::string_view what) {
    std::string label(what);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0) return make_error(label + ": pipe: " + errno_text(errno), errno);
    util::UniqueFd rd(fds[0]), wr(fds[1]);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
    // The command is configuration text (never envelope data): /bin/sh
    // gives admins the same syntax as msmtp's passwordeval.
    const char *argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    pid_t pid = -1;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, nullptr, const_cast<char **>(argv), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return make_error(label + ": cannot run /bin/sh: " + errno_text(rc), rc);
    wr.reset();

    std::string out;
    auto rr = read_all(rd.get(), out, label, command_timeout_ms);
    rd.reset();
    if (!rr) ::kill(pid, SIGKILL);  // our own child, by its pid
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    Secret all(std::move(out));
    if (!rr) return rr.error();
    if (WIFSIGNALED(status))
        return make_error(label + ": command killed by signal " + std::to_string(WTERMSIG(status)));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return make_error(label + ": command exited with status " +
                          std::to_string(WEXITSTATUS(status)));
    std::string_view line = first_line(all.str());
    if (line.empty()) return make_error(label + ": command printed nothing");
    std::string v;
    v.reserve(line.size());
    v.assign(line);
    return Secret(std::move(v));
}

bool lookup_sasl_password(std::string_view text, const std::string &name, const Relay &relay,
                          std::string &user, Secret &password) {
    // Keys in Postfix's order: as written in relayhost, then [host]:port,
    // then the host name alone.
    std::string bracket = "[" + relay.host + "]:" + std::to_string(relay.port);
    std::vector<std::string> keys{util::to_lower(relay.spec), util::to_lower(bracket),
                                  util::to_lower(relay.host)};
    if (relay.ipv6) keys.push_back("[ipv6:" + relay.host + "]:" + std::to_string(relay.port));
    return lookup_sasl_keys(text, name, keys, user, password);
}

std::vector<std::string> sender_sasl_keys(std::string_view sender) {
    std::vector<std::string> keys;
    if (sender.empty()) return keys;  // the null sender: by relay only (Postfix)
    keys.push_back(util::to_lower(sender));
    auto at = sender.rfind('@');
    if (at != std::string_view::npos && at + 1 < sender.size())
        keys.push_back("@" + util::to_lower(sender.substr(at + 1)));
    return keys;
}

bool lookup_sasl_keys(std::string_view text, const std::string &name,
                      const std::vector<std::string> &keys, std::string &user,
                      Secret &password, std::string *matched) {
    int best = -1;
    std::string_view best_value;
    size_t lineno = 0, pos = 0;
    while (pos <= text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == std::string_view::npos ? text.size() - pos
                                                                               : nl - pos);
        pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
        ++lineno;
        std::string_view t = util::trim(line);
        if (t.empty() || t.front() == '#') continue;
        size_t sp = t.find_first_of(" \t");
        if (sp == std::string_view::npos) {
            log::warning(name + ":" + std::to_string(lineno) + ": no value after key: line skipped");
            continue;
        }
        std::string key = util::to_lower(t.substr(0, sp));
        std::string_view value = util::trim(t.substr(sp));
        for (size_t k = 0; k < keys.size(); ++k) {
            if (key == keys[k] && (best < 0 || static_cast<int>(k) < best)) {
                best = static_cast<int>(k);
                best_value = value;
            }
        }
    }
    if (best < 0) return false;
    if (matched) *matched = keys[static_cast<size_t>(best)];
    size_t colon = best_value.find(':');
    std::string_view u = colon == std::string_view::npos ? best_value : best_value.substr(0, colon);
    std::string_view p = colon == std::string_view::npos ? std::string_view{}
                                                          : best_value.substr(colon + 1);
    user = std::string(u);
    std::string pw;
    pw.reserve(p.size());
    pw.assign(p);
    password = Secret(std::move(pw));
    return true;
}

std::string sasl_password_path(const config::SmtpConfig &cfg) {
    return std::string(strip_map_type(cfg.sasl_password_maps));
}

Result<Credentials> load_credentials(const config::SmtpConfig &cfg, const Relay &relay,
                                     std::string_view sender_key) {
    Credentials c;
    if (!cfg.sasl_password_maps.empty()) {
        std::string path = sasl_password_path(cfg);
        auto text = read_secret_file(path, "sasl_password_maps");
        if (!text) return text.error();
        if (!sender_key.empty() &&
            lookup_sasl_keys(text->str(), path, {std::string(sender_key)}, c.username, c.password))
            return c;
        if (lookup_sasl_password(text->str(), path, relay, c.username, c.password)) return c;
        // No entry for this relay: Postfix then sends without AUTH; so do we,
        // unless another source is configured below.
    }
    if (!cfg.password_file.empty() || !cfg.password_command.empty()) {
        if (cfg.username.empty())
            return make_error("[smtp] username is not set, but a password source is");
        c.username = cfg.username;
        if (!cfg.password_file.empty()) {
            auto s = read_secret_file(cfg.password_file, "password_file");
            if (!s) return s.error();
            std::string_view line = first_line(s->str());
            std::string v;
            v.reserve(line.size());
            v.assign(line);
            c.password = Secret(std::move(v));
        } else {
            auto s = run_secret_command(cfg.password_command, "password_command");
            if (!s) return s.error();
            c.password = std::move(*s);
        }
        if (c.password.empty()) return make_error("[smtp] the configured password is empty");
    }
    if (!cfg.oauth2_token_command.empty()) {
        if (cfg.username.empty() && c.username.empty())
            return make_error("[smtp] oauth2_token_command needs username");
        if (c.username.empty()) c.username = cfg.username;
        auto s = run_secret_command(cfg.oauth2_token_command, "oauth2_token_command");
        if (!s) return s.error();
        c.bearer = std::move(*s);
    }
    if (c.username.empty() && !cfg.username.empty() && cfg.oauth2_token_endpoint.empty())
        return make_error("[smtp] username is set, but no password_file, password_command, "
                          "sasl_password_maps entry or oauth2 token source");
    return c;
}

}  // namespace relay::smtp
