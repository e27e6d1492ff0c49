#include "server/listeners.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/policy.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace relay::server {

const char *kind_name(config::ListenerKind kind) {
    switch (kind) {
    case config::ListenerKind::Smtp: return "smtp";
    case config::ListenerKind::Submission: return "submission";
    case config::ListenerKind::Smtps: return "smtps";
    case config::ListenerKind::Local: return "local";
    }
    return "smtp";
}

namespace {

Result<void> make_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return make_error("fcntl: " + errno_text(errno), errno);
    return {};
}

}  // namespace

Result<std::vector<Listener>> activated_listeners(bool &activated) {
    activated = false;
    std::vector<Listener> out;
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    if (!pid || !fds) return out;
    bool ours = std::strtol(pid, nullptr, 10) == static_cast<long>(getpid());
    long n = std::strtol(fds, nullptr, 10);
    std::vector<std::string> names;
    if (const char *nm = getenv("LISTEN_FDNAMES")) names = util::split(nm, ':');
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (!ours || n <= 0) return out;
    if (n > 64) return make_error("LISTEN_FDS=" + std::string(fds) + ": too many sockets");
    activated = true;
    for (int i = 0; i < n; ++i) {
        int fd = 3 + i;
        Listener l;
        l.fd = util::UniqueFd(fd);
        if (auto r = make_nonblocking(fd); !r) return r.error();
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        if (getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len) != 0)
            return make_error("socket " + std::to_string(fd) + " from systemd: " + errno_text(errno));
        unsigned port = ss.ss_family == AF_INET6
                            ? ntohs(reinterpret_cast<sockaddr_in6 *>(&ss)->sin6_port)
                            : ntohs(reinterpret_cast<sockaddr_in *>(&ss)->sin_port);
        auto ip = IpAddress::from_sockaddr(reinterpret_cast<sockaddr *>(&ss));
        std::string name = i < static_cast<int>(names.size()) ? names[i] : "";
        if (name == "smtp") l.kind = config::ListenerKind::Smtp;
        else if (name == "submission") l.kind = config::ListenerKind::Submission;
        else if (name == "smtps") l.kind = config::ListenerKind::Smtps;
        else if (name == "local") l.kind = config::ListenerKind::Local;
        else if (port == 465) l.kind = config::ListenerKind::Smtps;
        else if (port == 587) l.kind = config::ListenerKind::Submission;
        else if (ip && ip->is_loopback()) l.kind = config::ListenerKind::Local;
        else l.kind = config::ListenerKind::Smtp;
        l.name = std::string(kind_name(l.kind)) + " (systemd fd " + std::to_string(fd) + ", port " +
                 std::to_string(port) + ")";
        out.push_back(std::move(l));
    }
    return out;
}

Result<std::vector<Listener>> bind_listeners(const std::vector<config::ListenerSpec> &specs) {
    std::vector<Listener> out;
    for (auto &spec : specs) {
        sockaddr_storage ss{};
        socklen_t len;
        int family;
        bool v6only = true;
        if (spec.host.empty() || spec.host.find(':') != std::string::npos) {
            auto *in6 = reinterpret_cast<sockaddr_in6 *>(&ss);
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons(spec.port);
            if (spec.host.empty()) {
                in6->sin6_addr = in6addr_any;
                v6only = false;
            } else if (inet_pton(AF_INET6, spec.host.c_str(), &in6->sin6_addr) != 1) {
                return make_error("listen \"" + spec.text + "\": bad IPv6 address");
            }
            family = AF_INET6;
            len = sizeof(sockaddr_in6);
        } else {
            auto *in = reinterpret_cast<sockaddr_in *>(&ss);
            in->sin_family = AF_INET;
            in->sin_port = htons(spec.port);
            if (inet_pton(AF_INET, spec.host.c_str(), &in->sin_addr) != 1)
                return make_error("listen \"" + spec.text + "\": bad IPv4 address");
            family = AF_INET;
            len = sizeof(sockaddr_in);
        }
        Listener l;
        l.fd = util::UniqueFd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!l.fd) return make_error("listen \"" + spec.text + "\": socket: " + errno_text(errno));
        int one = 1, v6 = v6only ? 1 : 0;
        setsockopt(l.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (family == AF_INET6) setsockopt(l.fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6);
        if (::bind(l.fd.get(), reinterpret_cast<sockaddr *>(&ss), len) != 0)
            return make_error("listen \"" + spec.text + "\": bind: " + errno_text(errno), errno);
        // As deep as the kernel allows (net.core.somaxconn): a burst of
        // connects waits there instead of being dropped.
        if (::listen(l.fd.get(), SOMAXCONN) != 0)
            return make_error("listen \"" + spec.text + "\": listen: " + errno_text(errno), errno);
        l.kind = spec.kind;
        l.name = spec.text;
        out.push_back(std::move(l));
    }
    return out;
}

}  // namespace relay::server
