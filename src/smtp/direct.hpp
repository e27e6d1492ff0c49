// direct.hpp - direct delivery: each recipient domain's MX hosts instead of
// a smarthost ([smtp] direct_delivery = true, for mail no relayhost applies
// to; Postfix's behaviour with an empty relayhost).
//
// A delivery thread keeps one DirectClients for the run. For each domain it
// looks up the MX hosts (mx.hpp) and keeps one Client whose relay list
// is those hosts in order, each pinned to the addresses DNS gave
// (Route::resolve), on [smtp] direct_port. Client tries them as it tries
// fallback relays: the next host only when one failed before the mail
// transaction. At most kMaxDomains domains are kept (their lookups and open
// connections); past that the others are closed and forgotten. No AUTH is
// offered to MX hosts; TLS follows direct_tls
// (may: STARTTLS when offered, unverified; encrypt: required, unverified;
// verify: required, certificate verified for the MX host name; none).
//
// send() splits a job's recipients by domain and sends each part over its
// domain's Client; the outcomes come back in the job's order, each with the
// relay that gave it. A domain whose lookup failed gets no connection: a
// name that does not exist or a null MX bounces its recipients, a DNS
// problem defers them.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "smtp/client.hpp"
#include "smtp/mx.hpp"

namespace relay::smtp {

class DirectClients {
public:
    explicit DirectClients(const config::Config &cfg);
    ~DirectClients();
    DirectClients(const DirectClients &) = delete;
    DirectClients &operator=(const DirectClients &) = delete;

    // RELAYS gets one relay label per recipient of JOB ("" when none).
    Delivery send(const Job &job, std::vector<std::string> &relays);
    void close_all();
    unsigned connections_opened() const;

private:
    struct Domain {
        MxResult mx;
        std::unique_ptr<Client> client;
    };
    Domain &domain(const std::string &name);
    void close_others(const std::string &keep);

    // Domains (MX lookups and their connections) kept between messages.
    static constexpr size_t kMaxDomains = 8;

    config::Config cfg_;  // with the smarthost's account and TLS settings removed
    MxResolver resolver_;
    std::map<std::string, Domain> domains_;
    unsigned closed_connections_ = 0;
};

}  // namespace relay::smtp
