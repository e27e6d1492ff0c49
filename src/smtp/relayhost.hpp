// relayhost.hpp - the smarthost list, written the way Postfix writes it.
//
// Accepted forms (Postfix relayhost syntax):
//
//   [mail.example.net]:587   host and port; brackets mean "no MX lookup"
//   mail.example.net:587     the same (relay never looks up a relayhost's MX: a
//                            null client always talks to the named host)
//   mail.example.net         port 25, or 465 when tls = "smtps"
//   [192.0.2.1]:2525         an IPv4 address
//   [::1]:2525, [ipv6:::1]   an IPv6 address: brackets required
//   [mail.example.net]:submission   a service name: smtp (25),
//                            submission (587), smtps/submissions (465)
//
// A list of relays is tried in order: the next one is used only when the
// previous one failed before a mail transaction started (connect, greeting,
// TLS, EHLO, AUTH). parse_relayhost() rejects what it does not understand
// with a message naming the value; it never resolves names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "util/result.hpp"

namespace relay::smtp {

struct Relay {
    std::string spec;      // as configured: "[mail.example.net]:587" (lookup key)
    std::string host;      // "mail.example.net", "192.0.2.1", "::1"
    unsigned port = 25;
    bool bracketed = false;
    bool ipv6 = false;

    // "smtp://mail.example.net:587/" or "smtps://[::1]:465/" plus the EHLO
    // name as URL path (curl sends the path as the EHLO argument).
    std::string url(config::TlsMode mode, std::string_view helo_name) const;
    // "mail.example.net:587" for messages before the address is known.
    std::string label() const;
};

Result<Relay> parse_relayhost(std::string_view spec, config::TlsMode mode);
Result<std::vector<Relay>> parse_relayhosts(const std::vector<std::string> &specs,
                                            config::TlsMode mode);

}  // namespace relay::smtp
