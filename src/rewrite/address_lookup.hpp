// address_lookup.hpp - looking up an address in a list of tables, as
// Postfix's canonical(5) and virtual(5) describe it.
//
// For exact-key tables the address user+ext@domain produces the queries
//   user+ext@domain, user@domain, user+ext, user, @domain
// in that order; each query goes to every table before the next query is
// tried. The user forms are tried only when domain is $myorigin or a local
// domain (Postfix: $mydestination). Pattern tables (regexp:, pcre:) see the
// full address only, never broken into parts.
//
// The result is a list (comma and/or white space separated). A result of
// the form @otherdomain becomes the same user in otherdomain (for the first
// element only); results without a domain are qualified with $myorigin
// (append_at_myorigin) and host-only domains with $mydomain
// (append_dot_mydomain). When the match used a key without the address
// extension and propagation is on, the extension is copied into each
// result ("joe+foo@example.com" -> "joe.user+foo@example.net").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "rewrite/table.hpp"

namespace relay::rewrite {

using TableList = std::vector<std::unique_ptr<Table>>;

// An address split at its last '@' outside quotes.
struct SplitAddress {
    std::string local;
    std::string domain;  // empty when there is no '@'
    bool has_at = false;
};
SplitAddress split_at(std::string_view addr);

// What a lookup found, and where.
struct AddressMatch {
    std::vector<std::string> addresses;
    const Table *table = nullptr;
    int line = 0;
    std::string key;  // the query that matched
};

class AddressContext {
public:
    explicit AddressContext(const config::Config &cfg);

    // $myhostname, localhost, localhost.$mydomain, [rewrite] local_domains.
    bool is_local_domain(std::string_view domain) const;
    // Local, or $myorigin: where "user" keys apply.
    bool user_keys_apply(std::string_view domain) const;

    // append_at_myorigin / append_dot_mydomain.
    std::string qualify(std::string_view addr) const;

    // Finds ADDR in MAPS; PROPAGATE copies an unmatched extension.
    std::optional<AddressMatch> find(const TableList &maps, std::string_view addr,
                                     bool propagate) const;

    // The extension ("foo" of "user+foo"), split off LOCAL; "" when none.
    std::string split_extension(std::string &local) const;

    const config::Config &cfg() const { return cfg_; }

private:
    const config::Config &cfg_;
    std::vector<std::string> local_;  // lower case
};

}  // namespace relay::rewrite
