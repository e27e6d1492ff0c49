#include "server/policy.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <set>
#include <sys/socket.h>

#include "server/protocol.hpp"
#include "util/strings.hpp"

namespace relay::server {

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr *sa) {
    IpAddress a;
    char buf[INET6_ADDRSTRLEN] = {};
    if (sa->sa_family == AF_INET) {
        auto *in = reinterpret_cast<const sockaddr_in *>(sa);
        std::memcpy(a.bytes.data(), &in->sin_addr, 4);
        inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    } else if (sa->sa_family == AF_INET6) {
        auto *in6 = reinterpret_cast<const sockaddr_in6 *>(sa);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            std::memcpy(a.bytes.data(), in6->sin6_addr.s6_addr + 12, 4);
            inet_ntop(AF_INET, a.bytes.data(), buf, sizeof buf);
        } else {
            a.v6 = true;
            std::memcpy(a.bytes.data(), in6->sin6_addr.s6_addr, 16);
            inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
        }
    } else {
        return std::nullopt;
    }
    a.text = buf;
    return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    std::string t(text);
    IpAddress a;
    if (inet_pton(AF_INET, t.c_str(), a.bytes.data()) == 1) {
        a.text = t;
        return a;
    }
    in6_addr in6;
    if (inet_pton(AF_INET6, t.c_str(), &in6) == 1) {
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        sa.sin6_addr = in6;
        return from_sockaddr(reinterpret_cast<sockaddr *>(&sa));
    }
    return std::nullopt;
}

bool IpAddress::is_loopback() const {
    if (!v6) return bytes[0] == 127;
    static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(bytes.data(), one, 16) == 0;
}

std::optional<Cidr> Cidr::parse(std::string_view text, std::string &why) {
    text = util::trim(text);
    std::string_view addr = text, len;
    size_t slash = text.find('/');
    if (slash != std::string_view::npos) {
        addr = text.substr(0, slash);
        len = text.substr(slash + 1);
    }
    if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']')
        addr = addr.substr(1, addr.size() - 2);
    auto ip = IpAddress::parse(addr);
    if (!ip) {
        why = "not a numeric IPv4 or IPv6 address";
        return std::nullopt;
    }
    Cidr c;
    c.net_ = *ip;
    unsigned max = ip->v6 ? 128 : 32;
    c.prefix_ = max;
    if (slash != std::string_view::npos) {
        if (len.empty() || len.size() > 3) {
            why = "bad prefix length";
            return std::nullopt;
        }
        unsigned v = 0;
        for (char ch : len) {
            if (ch < '0' || ch > '9') {
                why = "bad prefix length";
                return std::nullopt;
            }
            v = v * 10 + static_cast<unsigned>(ch - '0');
        }
        if (v > max) {
            why = "prefix length out of range";
            return std::nullopt;
        }
        c.prefix_ = v;
    }
    // Host bits must be zero, as Postfix's cidr_table requires.
    for (unsigned bit = c.prefix_; bit < max; ++bit)
        if (c.net_.bytes[bit / 8] & (0x80 >> (bit % 8))) {
            why = "non-null host address bits; did you mean " + std::string(addr) + "/" +
                  std::to_string(max) + "?";
            return std::nullopt;
        }
    return c;
}

bool Cidr::contains(const IpAddress &a) const {
    if (a.v6 != net_.v6) return false;
    unsigned full = prefix_ / 8, rest = prefix_ % 8;
    if (std::memcmp(a.bytes.data(), net_.bytes.data(), full) != 0) return false;
    if (rest == 0) return true;
    unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (a.bytes[full] & mask) == (net_.bytes[full] & mask);
}

Result<NetworkList> NetworkList::parse(const std::vector<std::string> &entries) {
    NetworkList list;
    for (auto &e : entries) {
        for (auto &word : util::split(e, ' ')) {
            if (word.empty()) continue;
            std::string why;
            auto c = Cidr::parse(word, why);
            if (!c) return make_error("mynetworks: \"" + word + "\": " + why);
            list.nets_.push_back(*c);
        }
    }
    return list;
}

bool NetworkList::contains(const IpAddress &a) const {
    for (auto &n : nets_)
        if (n.contains(a)) return true;
    return false;
}

namespace {

Result<void> open_all(const std::vector<std::string> &specs,
                      std::vector<std::unique_ptr<rewrite::Table>> &out,
                      std::vector<std::string> &warnings, const char *key) {
    for (auto &spec : specs) {
        auto t = rewrite::open_table(spec);
        if (!t) return make_error(std::string("[server] ") + key + ": " + t.error().message);
        for (auto &w : (*t)->warnings()) warnings.push_back(w);
        out.push_back(std::move(*t));
    }
    return {};
}

bool safe_relative_path(std::string_view p) {
    if (p.empty() || p.front() == '/') return false;
    for (auto &part : util::split(p, '/'))
        if (part == "..") return false;
    for (char c : p)
        if (static_cast<unsigned char>(c) < 0x20) return false;
    return true;
}

}  // namespace

Result<std::unique_ptr<Policy>> Policy::load(const config::Config &cfg) {
    std::unique_ptr<Policy> p(new Policy());
    auto nets = NetworkList::parse(cfg.server.mynetworks);
    if (!nets) return nets.error();
    p->mynetworks_ = std::move(*nets);
    std::vector<std::string> domain_specs;
    for (auto &d : cfg.server.virtual_mailbox_domains) {
        size_t colon = d.find(':');
        if (colon != std::string::npos && rewrite::is_known_table_type(d.substr(0, colon)))
            domain_specs.push_back(d);
        else
            for (auto &w : util::split_words(d)) p->domain_names_.push_back(util::to_lower(w));
    }
    if (auto r = open_all(domain_specs, p->domain_tables_, p->warnings_, "virtual_mailbox_domains"); !r)
        return r.error();
    if (auto r = open_all(cfg.server.virtual_mailbox_maps, p->mailbox_maps_, p->warnings_,
                          "virtual_mailbox_maps");
        !r)
        return r.error();
    if (auto r = open_all(cfg.server.virtual_alias_maps, p->alias_maps_, p->warnings_,
                          "virtual_alias_maps");
        !r)
        return r.error();
    if (auto r = open_all(cfg.server.sender_login_maps, p->login_maps_, p->warnings_,
                          "sender_login_maps");
        !r)
        return r.error();
    bool hosting = !p->domain_names_.empty() || !p->domain_tables_.empty();
    if (hosting && cfg.server.virtual_mailbox_base.empty())
        return make_error("[server] virtual_mailbox_domains is set but virtual_mailbox_base is not");
    if (!cfg.server.virtual_mailbox_base.empty() && cfg.server.virtual_mailbox_base[0] != '/')
        return make_error("[server] virtual_mailbox_base: must be an absolute path");
    p->base_ = cfg.server.virtual_mailbox_base;
    while (p->base_.size() > 1 && p->base_.back() == '/') p->base_.pop_back();
    p->delimiter_ = cfg.rewrite.recipient_delimiter;
    return p;
}

bool Policy::is_hosted(std::string_view domain) const {
    std::string d = util::to_lower(domain);
    if (d.empty()) return false;
    for (auto &n : domain_names_)
        if (n == d) return true;
    for (auto &t : domain_tables_)
        if (t->find(d)) return true;
    return false;
}

std::optional<std::string> Policy::lookup(const std::vector<std::unique_ptr<rewrite::Table>> &maps,
                                          std::string_view address) const {
    std::string full = util::to_lower(address);
    size_t at = full.rfind('@');
    std::vector<std::string> keys{full};
    if (at != std::string::npos) {
        std::string local = full.substr(0, at), domain = full.substr(at);
        if (!delimiter_.empty()) {
            size_t ext = local.find_first_of(delimiter_);
            if (ext != std::string::npos && ext > 0) keys.push_back(local.substr(0, ext) + domain);
        }
        keys.push_back(domain);  // "@domain": a catch-all
    }
    for (size_t k = 0; k < keys.size(); ++k)
        for (auto &t : maps) {
            if (k > 0 && t->pattern_matching()) continue;
            if (auto m = t->find(keys[k])) return m->value;
        }
    return std::nullopt;
}

Resolution Policy::resolve(std::string_view address) const {
    Resolution r;
    if (!is_hosted(domain_of(address))) {
        r.remote.emplace_back(address);
        return r;
    }
    r.hosted = true;
    std::vector<std::string> work{std::string(address)};
    std::set<std::string> seen, maildirs;
    size_t steps = 0;
    while (!work.empty() && ++steps <= 1000) {
        std::string a = std::move(work.back());
        work.pop_back();
        std::string key = util::to_lower(a);
        if (!seen.insert(key).second) continue;
        if (!is_hosted(domain_of(a))) {
            r.remote.push_back(a);
            continue;
        }
        bool self = false;
        if (seen.size() < 100) {
            if (auto alias = lookup(alias_maps_, a)) {
                for (auto &target : util::split_words(*alias)) {
                    if (util::to_lower(target) == key) self = true;
                    else if (target.find('@') == std::string::npos)
                        work.push_back(target + "@" + domain_of(a));
                    else
                        work.push_back(target);
                }
                if (!self) continue;
            }
        }
        auto box = lookup(mailbox_maps_, a);
        if (!box || !safe_relative_path(*box)) {
            r.unknown = true;
            continue;
        }
        std::string dir = base_ + "/" + *box;
        if (dir.back() != '/') dir.push_back('/');
        if (maildirs.insert(dir).second) r.local.push_back({a, dir});
    }
    // An alias explosion, or a loop that leads nowhere.
    if (!work.empty() || (r.local.empty() && r.remote.empty())) r.unknown = true;
    return r;
}

std::vector<std::string> Policy::owners(std::string_view address) const {
    auto v = lookup(login_maps_, address);
    if (!v) return {};
    return util::split_words(*v);
}

}  // namespace relay::server
