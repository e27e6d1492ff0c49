// policy.hpp - who may send what to whom through the SMTP server.
//
// The lookups behind the relay decision, kept apart from the protocol so
// they can be tested on their own:
//
//   Cidr / NetworkList   mynetworks: "192.0.2.0/24", "[2001:db8::]/32",
//                        "127.0.0.1" (a host); IPv4-mapped IPv6 client
//                        addresses (::ffff:192.0.2.1) match IPv4 entries.
//   Policy::is_hosted()  virtual_mailbox_domains: literal names and tables.
//   Policy::resolve()    virtual_alias_maps, then virtual_mailbox_maps:
//                        what a recipient at a hosted domain becomes
//                        (maildirs here, addresses elsewhere), or unknown.
//   Policy::owners()     sender_login_maps: the logins that may use an
//                        address as envelope sender.
//
// The decision itself (session.cpp) follows Postfix's order: a client in
// mynetworks, or on a local listener, or authenticated, may relay; anyone
// may send to a hosted domain's known users; everything else is "Relay
// access denied" (reject_unauth_destination). There is no way to turn
// this into an open relay short of listing 0.0.0.0/0 in mynetworks.
//
// Tables are opened once (at start and on SIGHUP); a table that cannot be
// opened is a configuration error reported by Policy::load(), a bad line a
// warning (the table's own).
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "rewrite/table.hpp"
#include "util/result.hpp"

struct sockaddr;

namespace relay::server {

// A numeric client address, normalised (IPv4-mapped IPv6 becomes IPv4).
struct IpAddress {
    bool v6 = false;
    std::array<unsigned char, 16> bytes{};
    std::string text;  // "192.0.2.1", "2001:db8::1"

    static std::optional<IpAddress> from_sockaddr(const sockaddr *sa);
    static std::optional<IpAddress> parse(std::string_view text);
    bool is_loopback() const;
};

class Cidr {
public:
    // "net/len", "[v6net]/len", "addr", "[v6addr]".
    static std::optional<Cidr> parse(std::string_view text, std::string &why);
    bool contains(const IpAddress &a) const;

private:
    IpAddress net_;
    unsigned prefix_ = 0;
};

class NetworkList {
public:
    static Result<NetworkList> parse(const std::vector<std::string> &entries);
    bool contains(const IpAddress &a) const;

private:
    std::vector<Cidr> nets_;
};

struct MaildirTarget {
    std::string recipient;  // the final address
    std::string maildir;    // absolute path, ends in '/'
};

struct Resolution {
    bool hosted = false;                 // the domain is ours
    bool unknown = false;                // hosted, but no such user
    std::vector<MaildirTarget> local;    // deliver here
    std::vector<std::string> remote;     // queue for the smarthost
};

class Policy {
public:
    static Result<std::unique_ptr<Policy>> load(const config::Config &cfg);

    bool in_mynetworks(const IpAddress &a) const { return mynetworks_.contains(a); }
    bool is_hosted(std::string_view domain) const;
    Resolution resolve(std::string_view address) const;
    // Logins allowed to send as ADDRESS; empty when the tables do not list it.
    std::vector<std::string> owners(std::string_view address) const;
    bool has_sender_login_maps() const { return !login_maps_.empty(); }
    // Table warnings from loading, for the log.
    const std::vector<std::string> &warnings() const { return warnings_; }

private:
    Policy() = default;
    std::optional<std::string> lookup(const std::vector<std::unique_ptr<rewrite::Table>> &maps,
                                      std::string_view address) const;

    NetworkList mynetworks_;
    std::vector<std::string> domain_names_;  // lower case
    std::vector<std::unique_ptr<rewrite::Table>> domain_tables_;
    std::vector<std::unique_ptr<rewrite::Table>> mailbox_maps_;
    std::vector<std::unique_ptr<rewrite::Table>> alias_maps_;
    std::vector<std::unique_ptr<rewrite::Table>> login_maps_;
    std::string base_;
    std::string delimiter_;
    std::vector<std::string> warnings_;
};

}  // namespace relay::server
