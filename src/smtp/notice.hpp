// notice.hpp - telling the admin that mail is stuck for configuration reasons.
//
// When a flush fails for configuration reasons (AUTH refused, TLS
// certificate verification failed, the TLS we require not offered,
// credentials unreadable, libcurl missing), every message stays queued and
// `relay --flush` exits EX_CONFIG; on a host where nobody watches the exit
// status that goes unnoticed until the mail expires. With [smtp]
// notify_recipient set, notify_admin() queues ONE plain-text notice to that
// address listing the distinct reasons of the run.
//
// Never a storm: at most one notice per hour (SPOOL/notice.stamp records
// when the last one was queued and its id), and none while the previous
// notice is still in the queue undelivered, however many runs fail. The
// notice comes from the null sender <>, so it is never bounced, and it
// expires after bounce_queue_lifetime like a bounce. It is sent like any
// other message: when the default route itself is broken it waits in the
// queue and arrives once the problem is fixed (a "<>" entry in
// sender_dependent_relayhost_maps can send it another way).
//
// Errors: a notice that cannot be queued, or a stamp that cannot be
// written, is logged; the run's outcome does not change.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "queue/queue_fs.hpp"

namespace relay::smtp {

inline constexpr int64_t kNoticeInterval = 3600;  // seconds between two notices, at least

// Queues the notice unless the rate limit says no; returns its queue id.
// REASONS are the distinct configuration failures of the run, DEFERRED the
// number of recipients they held back, NOW the time (seconds).
std::optional<std::string> notify_admin(const config::Config &cfg, queue::FsQueue &q,
                                        const std::vector<std::string> &reasons,
                                        unsigned deferred, int64_t now);

}  // namespace relay::smtp
