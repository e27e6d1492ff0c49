// peername.hpp - the client's host name, found as Postfix's smtpd does.
//
// verified_hostname() looks up the address's PTR name and keeps it only
// when the name resolves back to that address (forward-confirmed reverse
// DNS) and is a plain host name (letters, digits, '-', '_', '.'; at most
// 253 octets): a PTR record is whatever its owner wrote, and the name goes
// into log lines and the Received: header. Anything else gives "", which
// is shown as "unknown".
//
// It blocks for as long as the resolver does (resolv.conf's timeouts), so
// relay serve runs it on its lookup threads, never on the event loop, and
// waits for it before the greeting at most lookup_wait.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "server/policy.hpp"

namespace relay::server {

inline constexpr std::chrono::seconds lookup_wait{5};

std::string verified_hostname(const IpAddress &a);
bool plain_hostname(std::string_view name);

}  // namespace relay::server
