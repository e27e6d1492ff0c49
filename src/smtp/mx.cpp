#include "smtp/mx.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sodium.h>

#include "util/strings.hpp"

namespace relay::smtp {
namespace {

// One resolver state per lookup, closed on every path.
class ResState {
public:
    explicit ResState(const std::string &server) {
        std::memset(&st_, 0, sizeof st_);
        inited_ = ok_ = res_ninit(&st_) == 0;
        if (!ok_ || server.empty()) return;
        // The one server given (validated by config.cpp). glibc prefers
        // nsaddr_list[n] over its own IPv6 copy once sin_family is set.
        size_t colon = server.rfind(':');
        struct sockaddr_in sa = {};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<uint16_t>(std::stoul(server.substr(colon + 1))));
        ok_ = inet_pton(AF_INET, server.substr(0, colon).c_str(), &sa.sin_addr) == 1;
        st_.nsaddr_list[0] = sa;
        st_.nscount = 1;
        st_.options &= ~static_cast<unsigned long>(RES_DNSRCH | RES_DEFNAMES);
    }
    ~ResState() {
        if (inited_) res_nclose(&st_);
    }
    ResState(const ResState &) = delete;
    ResState &operator=(const ResState &) = delete;
    bool ok() const { return ok_; }
    res_state get() { return &st_; }

private:
    struct __res_state st_;
    bool inited_ = false, ok_ = false;
};

enum class Answer { Ok, NoSuchName, NoData, Temporary };

struct Record {
    uint16_t type = 0;
    std::vector<unsigned char> rdata;
    const unsigned char *msg = nullptr, *end = nullptr;  // for names in rdata
    const unsigned char *rdata_at = nullptr;
};

uint16_t get16(const unsigned char *p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Sends one query; the records of TYPE in the answer section go to OUT.
// BUF keeps the reply (names in MX rdata point into it).
Answer query(ResState &rs, const std::string &name, int type, std::vector<unsigned char> &buf,
             std::vector<Record> &out) {
    buf.assign(65536, 0);
    int n = res_nquery(rs.get(), name.c_str(), ns_c_in, type, buf.data(), static_cast<int>(buf.size()));
    if (n < 0) {
        // res_nquery gives h_errno in the state: HOST_NOT_FOUND = NXDOMAIN,
        // NO_DATA = the name exists without such records.
        int e = rs.get()->res_h_errno;
        if (e == HOST_NOT_FOUND) return Answer::NoSuchName;
        if (e == NO_DATA) return Answer::NoData;
        return Answer::Temporary;
    }
    if (n < HFIXEDSZ || n > static_cast<int>(buf.size())) return Answer::Temporary;
    const unsigned char *msg = buf.data(), *end = msg + n, *p = msg + HFIXEDSZ;
    if (msg[2] & 0x02) return Answer::Temporary;  // TC: truncated even over TCP
    unsigned qd = get16(msg + 4), an = get16(msg + 6);
    char dname[NS_MAXDNAME];
    for (unsigned i = 0; i < qd; ++i) {
        int len = dn_expand(msg, end, p, dname, sizeof dname);
        if (len < 0 || p + len + QFIXEDSZ > end) return Answer::Temporary;
        p += len + QFIXEDSZ;
    }
    for (unsigned i = 0; i < an; ++i) {
        int len = dn_expand(msg, end, p, dname, sizeof dname);
        if (len < 0 || p + len + RRFIXEDSZ > end) return Answer::Temporary;
        p += len;
        uint16_t rtype = get16(p), rlen = get16(p + 8);
        p += RRFIXEDSZ;
        if (p + rlen > end) return Answer::Temporary;
        if (rtype == type) {
            Record r;
            r.type = rtype;
            r.rdata.assign(p, p + rlen);
            r.msg = msg;
            r.end = end;
            r.rdata_at = p;
            out.push_back(std::move(r));
        }
        p += rlen;
    }
    return out.empty() ? Answer::NoData : Answer::Ok;
}

// The A and AAAA addresses of HOST (IPv6 first, as Postfix prefers with
// inet_protocols = all). A query that fails is not fatal when the other
// gives addresses; Temporary when none came and one failed.
Answer addresses(ResState &rs, const std::string &host, std::vector<std::string> &out) {
    bool nxdomain = true, temporary = false;
    for (int type : {ns_t_aaaa, ns_t_a}) {
        std::vector<unsigned char> buf;
        std::vector<Record> recs;
        Answer a = query(rs, host, type, buf, recs);
        if (a == Answer::Temporary) temporary = true;
        if (a != Answer::NoSuchName) nxdomain = false;
        for (auto &r : recs) {
            char text[INET6_ADDRSTRLEN];
            int fam = type == ns_t_a ? AF_INET : AF_INET6;
            size_t want = type == ns_t_a ? 4 : 16;
            if (r.rdata.size() == want && inet_ntop(fam, r.rdata.data(), text, sizeof text))
                out.push_back(text);
        }
    }
    if (!out.empty()) return Answer::Ok;
    if (temporary) return Answer::Temporary;
    return nxdomain ? Answer::NoSuchName : Answer::NoData;
}

std::string strip_dot(std::string s) {
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

}  // namespace

MxResolver::MxResolver(const config::SmtpConfig &cfg) : server_(cfg.direct_dns_server) {}

MxResult MxResolver::lookup(const std::string &domain_in) const {
    MxResult res;
    const std::string domain = util::to_lower(strip_dot(domain_in));
    auto fail = [&](MxResult::Status st, const std::string &why) {
        res.status = st;
        res.hosts.clear();
        res.reason = why;
        return res;
    };
    const std::string name_error = "Host or domain name not found. Name service error for name=" + domain;
    if (domain.empty()) return fail(MxResult::Status::NoSuchDomain, "no domain in the recipient address");
    if (domain.front() == '[')
        return fail(MxResult::Status::NoSuchDomain,
                    "address literal " + domain + ": direct delivery goes to domain names only");
    ResState rs(server_);
    if (!rs.ok()) return fail(MxResult::Status::Temporary, "cannot initialise the DNS resolver");

    std::vector<unsigned char> buf;
    std::vector<Record> recs;
    Answer a = query(rs, domain, ns_t_mx, buf, recs);
    if (a == Answer::Temporary)
        return fail(MxResult::Status::Temporary, name_error + " type=MX: Host not found, try again");
    if (a == Answer::NoSuchName)
        return fail(MxResult::Status::NoSuchDomain, name_error + " type=MX: Host not found");
    if (a == Answer::NoData) {
        // RFC 5321 5.1: no MX, so the domain itself is the host.
        MxHost h{domain, 0, {}};
        Answer aa = addresses(rs, domain, h.addrs);
        if (aa == Answer::Temporary)
            return fail(MxResult::Status::Temporary, name_error + " type=A: Host not found, try again");
        if (aa != Answer::Ok)
            return fail(MxResult::Status::NoSuchDomain, name_error + " type=A: Host not found");
        res.status = MxResult::Status::Ok;
        res.hosts.push_back(std::move(h));
        return res;
    }
    for (auto &r : recs) {
        if (r.rdata.size() < 3) return fail(MxResult::Status::Temporary, "malformed MX record for " + domain);
        char host[NS_MAXDNAME];
        if (dn_expand(r.msg, r.end, r.rdata_at + 2, host, sizeof host) < 0)
            return fail(MxResult::Status::Temporary, "malformed MX record for " + domain);
        res.hosts.push_back(MxHost{util::to_lower(strip_dot(host)), get16(r.rdata.data()), {}});
    }
    // RFC 7505: a single MX of "." means the domain accepts no mail.
    if (res.hosts.size() == 1 && res.hosts[0].name.empty())
        return fail(MxResult::Status::NullMx, "Domain " + domain + " does not accept mail (nullMX)");
    // Lowest preference first; equal ones in random order (RFC 5321 5.1).
    for (size_t i = res.hosts.size(); i > 1; --i)
        std::swap(res.hosts[i - 1], res.hosts[randombytes_uniform(static_cast<uint32_t>(i))]);
    std::stable_sort(res.hosts.begin(), res.hosts.end(),
                     [](const MxHost &x, const MxHost &y) { return x.preference < y.preference; });
    bool temporary = false;
    std::vector<MxHost> usable;
    for (auto &h : res.hosts) {
        if (h.name.empty()) continue;
        Answer aa = addresses(rs, h.name, h.addrs);
        if (aa == Answer::Temporary) temporary = true;
        if (!h.addrs.empty()) usable.push_back(std::move(h));
    }
    if (usable.empty())
        return fail(MxResult::Status::Temporary,
                    temporary ? name_error + " type=A: Host not found, try again"
                              : "no MX host for " + domain + " has an address");
    res.hosts = std::move(usable);
    res.status = MxResult::Status::Ok;
    return res;
}

}  // namespace relay::smtp
