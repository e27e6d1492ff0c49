// flush.hpp - send every due queue entry to the smarthost.
//
// flush() walks queue/ in arrival order, skips entries whose next_attempt
// lies in the future (unless FlushOptions::now), and hands each due entry's
// pending recipients to one smtp::Client, so one connection carries many
// messages (up to max_messages_per_connection each). For every recipient
// outcome it logs one line, the way Postfix's smtp(8) does:
//
//   ID: to=<rcpt>, orig_to=<orig>, relay=host[ip]:port, delay=0.4, tries=1,
//       status=sent (250 2.0.0 Ok: queued as X)
//
// and records it in the envelope (atomically replaced): Sent and Bounced
// recipients are never sent again; deferred ones stay pending with the
// reason, and the entry gets its next attempt time by exponential back-off
// (minimal_backoff_time doubling up to maximal_backoff_time, plus up to
// 10% jitter so entries deferred together do not retry together). An
// entry with no pending recipient left is removed. An entry still
// deferred after maximal_queue_lifetime (bounce_queue_lifetime for a
// bounce) is given up: its pending recipients are bounced as expired.
//
// Bounced recipients get one delivery status notification per message and
// attempt (queue/bounce.hpp), committed to the queue before the envelope
// records them as bounced; when it cannot be queued they stay pending.
// A bounce is never bounced: it is logged and dropped.
//
// The caller holds SPOOL/flush.lock (cli/flush_cmd.cpp): one runner at a
// time. Errors: a corrupt or unreadable entry is logged and skipped (the
// queue's recover() quarantines it); a failed envelope update is logged and
// leaves the old envelope, so at worst a recipient is tried again. A
// configuration failure (AUTH refused, TLS verification, libcurl missing)
// sets FlushReport::config_failure: the run exits EX_CONFIG.
#pragma once

#include <cstdint>
#include <string>

#include "config/config.hpp"
#include "queue/envelope.hpp"
#include "queue/queue_fs.hpp"
#include "util/error.hpp"

namespace relay::smtp {

struct FlushOptions {
    bool now = false;      // also entries whose next attempt is not due yet
    bool verbose = false;  // log skipped entries and the SMTP conversation
    int64_t clock = 0;     // "now" in seconds since the epoch; 0 = the real time (tests)
};

struct FlushReport {
    unsigned messages = 0;     // entries attempted
    unsigned not_due = 0;      // skipped: next attempt in the future
    unsigned removed = 0;      // entries finished and deleted
    unsigned sent = 0, deferred = 0, bounced = 0;  // recipients
    unsigned connections = 0;
    bool config_failure = false;
    std::string config_reason;

    Exit exit_status() const { return config_failure ? Exit::Config : Exit::Ok; }
};

FlushReport flush(const config::Config &cfg, queue::FsQueue &q, const FlushOptions &opt);

// The delay before the attempt after TRIES failed ones, without jitter.
int64_t backoff_seconds(const config::QueueConfig &q, uint32_t tries);


}  // namespace relay::smtp
