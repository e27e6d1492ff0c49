// route.hpp - which smarthost, and which account, a message goes out with.
//
// By default every message goes to [smtp] relayhost with the account the
// configuration names for that relay. Two Postfix features change that per
// envelope sender:
//
//   sender_dependent_relayhost_maps   (Postfix's parameter of that name)
//       tables looked up with the sender's full address, then with
//       "@domain" (regexp: and pcre: tables see the full address only);
//       the null sender is looked up as "<>". The value is a relayhost
//       list in relayhost syntax ("[smtp.example.com]:587", several
//       separated by commas or spaces, tried in order). "DUNNO" stops the
//       search and keeps [smtp] relayhost.
//   sender_dependent_authentication = true
//       (Postfix smtp_sender_dependent_authentication) sasl_password_maps
//       is searched by the sender's full address, then "@domain", before
//       the relay's own entries; the null sender is never looked up.
//
// A Route is what the flush groups by: every message with the same relay
// list and the same sender account shares one connection (never one
// connection for two accounts). The Router keeps only the keys of the
// password map, never a password: credentials.hpp reads the secret again
// when a connection needs it.
//
// Errors: a sender_dependent_relayhost_maps table that cannot be opened,
// or a password map that cannot be read, is relay::Fatal (EX_CONFIG) from
// the constructor: the run stops and mail stays queued. A route whose
// relay list is empty (no relayhost and no entry for the sender) keeps the
// message queued; the flush logs it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace relay::smtp {

struct Route {
    std::vector<std::string> relayhost;  // relayhost specs, tried in order
    std::string sasl_key;                // sasl_password_maps key for the sender; "" = by relay
    bool by_sender = false;              // the relay list came from the sender's map entry
    // Direct delivery (mx.hpp): "host:port:addr,addr" entries that pin each
    // MX host name of relayhost to the addresses DNS gave for it.
    std::vector<std::string> resolve;

    // Grouping key: equal keys may share a connection. Holds no secret.
    std::string key() const;
    // For log lines: "[smtp.example.com]:587" or "[a]:25, [b]:25".
    std::string label() const;
};

class Router {
public:
    explicit Router(const config::Config &cfg);
    ~Router();
    Router(const Router &) = delete;
    Router &operator=(const Router &) = delete;

    Route route(std::string_view sender) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace relay::smtp
