#include "server/peername.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace relay::server {

bool plain_hostname(std::string_view name) {
    if (name.empty() || name.size() > 253 || name.front() == '.' || name.front() == '-') return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

std::string verified_hostname(const IpAddress &a) {
    sockaddr_storage ss{};
    socklen_t len;
    if (a.v6) {
        auto *s6 = reinterpret_cast<sockaddr_in6 *>(&ss);
        s6->sin6_family = AF_INET6;
        std::memcpy(&s6->sin6_addr, a.bytes.data(), 16);
        len = sizeof *s6;
    } else {
        auto *s4 = reinterpret_cast<sockaddr_in *>(&ss);
        s4->sin_family = AF_INET;
        std::memcpy(&s4->sin_addr, a.bytes.data(), 4);
        len = sizeof *s4;
    }
    char host[NI_MAXHOST];
    if (getnameinfo(reinterpret_cast<sockaddr *>(&ss), len, host, sizeof host, nullptr, 0,
                    NI_NAMEREQD) != 0)
        return "";
    std::string name(host);
    if (!plain_hostname(name)) return "";
    // An address literal is no name (getnameinfo() never returns one with
    // NI_NAMEREQD, but a PTR record may hold one).
    unsigned char probe[16];
    if (inet_pton(AF_INET, name.c_str(), probe) == 1 || inet_pton(AF_INET6, name.c_str(), probe) == 1)
        return "";
    addrinfo hints{};
    hints.ai_family = a.v6 ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *res = nullptr;
    if (getaddrinfo(name.c_str(), nullptr, &hints, &res) != 0) return "";
    bool confirmed = false;
    for (addrinfo *p = res; p && !confirmed; p = p->ai_next) {
        auto back = IpAddress::from_sockaddr(p->ai_addr);
        confirmed = back && back->v6 == a.v6 && back->bytes == a.bytes;
    }
    freeaddrinfo(res);
    return confirmed ? name : "";
}

}  // namespace relay::server
