// mx.hpp - where a domain's mail goes without a smarthost: its MX hosts.
//
// Used only with [smtp] direct_delivery = true, for messages no relayhost
// applies to (Postfix with an empty relayhost). lookup() follows RFC 5321
// section 5.1 and RFC 7505:
//   - the MX records of the domain, lowest preference first (equal
//     preferences in random order), each host's A and AAAA addresses;
//   - no MX records (the name exists): the domain itself as the only host;
//   - a single MX "." (null MX): the domain accepts no mail;
//   - the name does not exist: no such domain.
// Addresses are looked up with the same resolver as the MX records (so a
// test's DNS server answers both); hosts without any address are skipped.
//
// The resolver is the system's (/etc/resolv.conf), or the one server
// [smtp] direct_dns_server names ("127.0.0.1:5353": an IPv4 address and a
// port), for special set-ups and for tests. Thread-safe: every lookup has
// its own resolver state.
//
// Errors are outcomes, never exceptions: Temporary (no answer, SERVFAIL,
// a truncated or malformed reply, no host with an address: try later) and
// the two permanent ones above; `reason` says which, Postfix style.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace relay::smtp {

struct MxHost {
    std::string name;                // without the trailing dot
    unsigned preference = 0;
    std::vector<std::string> addrs;  // numeric IPv6 and IPv4 addresses
};

struct MxResult {
    enum class Status { Ok, NoSuchDomain, NullMx, Temporary };
    Status status = Status::Temporary;
    std::vector<MxHost> hosts;       // Ok: in the order to try them
    std::string reason;              // otherwise: why, for logs and bounces
};

class MxResolver {
public:
    explicit MxResolver(const config::SmtpConfig &cfg);
    MxResult lookup(const std::string &domain) const;

private:
    std::string server_;  // "" = the system resolver
};

}  // namespace relay::smtp
