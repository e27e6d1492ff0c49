// listeners.hpp - the listening sockets: from [server] listen, or from systemd.
//
// With socket activation (sd_listen_fds(3): LISTEN_PID is our pid and
// LISTEN_FDS counts the descriptors from 3) the sockets systemd passes are
// used as they are and [server] listen is ignored. Each socket's kind
// comes from its FileDescriptorName= (LISTEN_FDNAMES: smtp, submission,
// smtps, local); without a name, from its port (465 smtps, 587
// submission, otherwise smtp, or local when bound to a loopback address).
// The variables are removed from the environment afterwards, so no child
// (the flush) inherits them.
//
// Otherwise each "KIND HOST:PORT" is bound with SO_REUSEADDR; an empty
// host ("[::]", "*") is one dual-stack IPv6 socket that also takes IPv4,
// an IPv6 address is bound IPv6-only. Every socket is non-blocking and
// close-on-exec. A socket that cannot be bound is an error naming it.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace relay::server {

struct Listener {
    util::UniqueFd fd;
    config::ListenerKind kind = config::ListenerKind::Smtp;
    std::string name;  // "submission [::]:587"
};

const char *kind_name(config::ListenerKind kind);

// The sockets passed by systemd, or none (ACTIVATED false).
Result<std::vector<Listener>> activated_listeners(bool &activated);
Result<std::vector<Listener>> bind_listeners(const std::vector<config::ListenerSpec> &specs);

}  // namespace relay::server
