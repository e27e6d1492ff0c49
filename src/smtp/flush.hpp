// flush.hpp - send every due queue entry to its smarthost.
//
// flush() walks queue/ in arrival order, skips entries whose next_attempt
// lies in the future (unless FlushOptions::now), and sorts the due ones by
// route (route.hpp): the relayhost list for the envelope sender
// (sender_dependent_relayhost_maps, else [smtp] relayhost) and the account
// (sender_dependent_authentication). Each route's messages share
// connections; two routes never share one.
//
// Parallel delivery: up to [smtp] max_connections connections are open at
// once, each in its own thread with its own smtp::Client (and libcurl
// handle). A route gets one connection per kMessagesPerLane (10) due
// messages, at most max_connections: a handful of messages goes over one
// connection, 1,000 over all of them. Every connection still carries at
// most max_messages_per_connection messages before it is replaced. Each
// queue entry is handed to exactly one thread, so no two threads touch one
// entry; every log line is written whole (one write per line).
//
// Memory: the queue is walked kFlushChunk entries at a time (their
// envelopes are loaded, sent, and dropped before the next chunk's), so a
// run holds a bounded number of envelopes whatever the queue size; message
// bodies are always streamed from their files. A chunk holds ten times
// max_messages_per_connection's default, so chunking costs no connection
// reuse in practice.
//
// For every recipient outcome it logs one line, the way Postfix's smtp(8)
// does:
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
// Addresses are rewritten with smtp_generic_maps on the wire only
// (generic.hpp); the log and the queue keep the queued addresses.
//
// Bounced recipients get one delivery status notification per message and
// attempt (queue/bounce.hpp), committed to the queue before the envelope
// records them as bounced; when it cannot be queued they stay pending.
// A bounce is never bounced: it is logged and dropped. Notifications
// queued during a run are sent in the same run.
//
// The caller holds SPOOL/flush.lock (cli/flush_cmd.cpp): one runner at a
// time. Errors: a corrupt or unreadable entry is logged and skipped (the
// queue's recover() quarantines it); a failed envelope update is logged and
// leaves the old envelope, so at worst a recipient is tried again. A
// configuration failure (AUTH refused, TLS verification, libcurl missing)
// sets FlushReport::config_failure: the run exits EX_CONFIG. A table that
// cannot be opened (smtp_generic_maps, sender_dependent_relayhost_maps) is
// relay::Fatal before anything is sent.
#pragma once

#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "queue/envelope.hpp"
#include "queue/queue_fs.hpp"
#include "util/error.hpp"

namespace relay::smtp {

struct FlushOptions {
    bool now = false;      // also entries whose next attempt is not due yet
    bool verbose = false;  // log skipped entries and the SMTP conversation
    bool progress = false; // a progress line on stderr (a terminal) for large queues
    int64_t clock = 0;     // "now" in seconds since the epoch; 0 = the real time (tests)
    // Set (by a signal handler) to stop starting new messages; the ones in
    // flight finish and are recorded.
    const volatile std::sig_atomic_t *stop = nullptr;
};

struct FlushReport {
    unsigned messages = 0;     // entries attempted
    unsigned not_due = 0;      // skipped: next attempt in the future
    unsigned removed = 0;      // entries finished and deleted
    unsigned sent = 0, deferred = 0, bounced = 0;  // recipients
    unsigned warned = 0;       // delay warnings queued
    unsigned unrouted = 0;     // entries with no relayhost for their sender
    unsigned connections = 0;
    int64_t next_due = 0;      // earliest next attempt of what is left; 0 = nothing waits
    bool config_failure = false;
    std::string config_reason;
    std::vector<std::string> config_reasons;  // distinct, first ten

    Exit exit_status() const { return config_failure ? Exit::Config : Exit::Ok; }
};

FlushReport flush(const config::Config &cfg, queue::FsQueue &q, const FlushOptions &opt);

// A route gets one more connection for every kMessagesPerLane due messages.
inline constexpr size_t kMessagesPerLane = 10;
// Queue entries loaded and sent at a time (see the header).
inline constexpr size_t kFlushChunk = 1000;
// How many connections a route with MESSAGES due messages uses.
unsigned connection_lanes(size_t messages, unsigned max_connections);

// The delay before the attempt after TRIES failed ones, without jitter.
int64_t backoff_seconds(const config::QueueConfig &q, uint32_t tries);


}  // namespace relay::smtp
