#include "smtp/direct.hpp"

#include "util/strings.hpp"

namespace relay::smtp {
namespace {

// The smarthost's settings that must never reach an MX host: its account,
// its CA and pin, its client certificate.
config::Config direct_config(const config::Config &in) {
    config::Config c = in;
    config::SmtpConfig &s = c.smtp;
    s.username.clear();
    s.password_file.clear();
    s.password_command.clear();
    s.sasl_password_maps.clear();
    s.sender_dependent_authentication = false;
    s.oauth2_token_command.clear();
    s.oauth2_token_endpoint.clear();
    s.ca_file.clear();
    s.ca_path.clear();
    s.tls_pin_sha256.clear();
    s.client_cert.clear();
    s.client_key.clear();
    switch (s.direct_tls) {
    case config::DirectTls::None: s.tls = config::TlsMode::None; break;
    case config::DirectTls::May: s.tls = config::TlsMode::Opportunistic; break;
    case config::DirectTls::Encrypt: s.tls = config::TlsMode::StartTls; break;
    case config::DirectTls::Verify: s.tls = config::TlsMode::StartTls; break;
    }
    s.tls_verify = s.direct_tls == config::DirectTls::Verify;
    return c;
}

std::string domain_of(const std::string &address) {
    size_t at = address.rfind('@');
    return at == std::string::npos ? "" : util::to_lower(address.substr(at + 1));
}

}  // namespace

DirectClients::DirectClients(const config::Config &cfg)
    : cfg_(direct_config(cfg)), resolver_(cfg.smtp) {}

DirectClients::~DirectClients() = default;

DirectClients::Domain &DirectClients::domain(const std::string &name) {
    auto it = domains_.find(name);
    if (it != domains_.end()) return it->second;
    Domain d;
    d.mx = resolver_.lookup(name);
    if (d.mx.status == MxResult::Status::Ok) {
        Route route;
        const std::string port = std::to_string(cfg_.smtp.direct_port);
        for (auto &h : d.mx.hosts) {
            route.relayhost.push_back("[" + h.name + "]:" + port);
            std::string entry = h.name + ":" + port + ":";
            for (size_t i = 0; i < h.addrs.size(); ++i)
                entry += (i ? "," : "") + (h.addrs[i].find(':') != std::string::npos
                                               ? "[" + h.addrs[i] + "]"
                                               : h.addrs[i]);
            route.resolve.push_back(entry);
        }
        d.client = std::make_unique<Client>(cfg_, route);
    }
    return domains_.emplace(name, std::move(d)).first->second;
}

Delivery DirectClients::send(const Job &job, std::vector<std::string> &relays) {
    Delivery out;
    out.rcpts.resize(job.recipients.size());
    relays.assign(job.recipients.size(), "");
    // Recipients by domain, in the order they first appear.
    std::vector<std::string> order;
    std::map<std::string, std::vector<size_t>> by_domain;
    for (size_t i = 0; i < job.recipients.size(); ++i) {
        std::string d = domain_of(job.recipients[i]);
        auto [it, fresh] = by_domain.try_emplace(d);
        if (fresh) order.push_back(d);
        it->second.push_back(i);
    }
    for (auto &name : order) {
        const auto &idx = by_domain[name];
        Domain &d = domain(name);
        if (!d.client) {
            const bool permanent = d.mx.status != MxResult::Status::Temporary;
            for (size_t i : idx) {
                out.rcpts[i] = RecipientOutcome{permanent ? Outcome::Bounced : Outcome::Deferred,
                                                d.mx.reason};
                relays[i] = "none";
            }
            out.reply = d.mx.reason;
            continue;
        }
        Job part = job;
        part.recipients.clear();
        part.notify.clear();
        part.orcpt.clear();
        for (size_t i : idx) {
            part.recipients.push_back(job.recipients[i]);
            if (i < job.notify.size()) part.notify.push_back(job.notify[i]);
            if (i < job.orcpt.size()) part.orcpt.push_back(job.orcpt[i]);
        }
        Delivery got = d.client->send(part);
        for (size_t k = 0; k < idx.size() && k < got.rcpts.size(); ++k) {
            out.rcpts[idx[k]] = got.rcpts[k];
            relays[idx[k]] = got.relay;
        }
        out.folded = out.folded || got.folded;
        if (out.relay == "none") out.relay = got.relay;
        out.reply = got.reply;
        // Connections stay open for the next message to the same domain,
        // but a queue for many domains must not hold one open for each.
        if (domains_.size() > kMaxDomains) close_others(name);
    }
    return out;
}

void DirectClients::close_others(const std::string &keep) {
    for (auto it = domains_.begin(); it != domains_.end();) {
        if (it->first == keep) {
            ++it;
            continue;
        }
        if (it->second.client) {
            it->second.client->close();
            closed_connections_ += it->second.client->connections_opened();
        }
        it = domains_.erase(it);
    }
}

void DirectClients::close_all() {
    for (auto &[name, d] : domains_) {
        if (!d.client) continue;
        d.client->close();
        closed_connections_ += d.client->connections_opened();
    }
    domains_.clear();
}

unsigned DirectClients::connections_opened() const {
    unsigned n = closed_connections_;
    for (auto &[name, d] : domains_)
        if (d.client) n += d.client->connections_opened();
    return n;
}

}  // namespace relay::smtp
