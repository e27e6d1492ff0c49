// bounce.hpp - delivery status notifications (RFC 3464) for failed mail.
//
// When recipients of a message fail for good (a 5xx reply, or the message
// outlived maximal_queue_lifetime), flush asks make_bounce() for ONE
// notification per message and attempt, covering every such recipient,
// and commits it to the queue as a new entry from the null sender <> to
// the original envelope sender. It is sent like any other message.
//
// Rules, as Postfix's bounce(8) applies them:
//  - never a bounce of a bounce: a message from <> that fails is logged and
//    dropped (want_bounce() is false);
//  - recipients with NOTIFY=NEVER, or a NOTIFY list without FAILURE, get no
//    notification;
//  - the report is multipart/report; report-type=delivery-status with a
//    human-readable part, the message/delivery-status part (Reporting-MTA,
//    Arrival-Date, per recipient Final-Recipient, Original-Recipient,
//    Action: failed, Status, Remote-MTA, Diagnostic-Code), and the original
//    message (message/rfc822), or only its headers (text/rfc822-headers)
//    when RET=HDRS was asked for or the message is larger than
//    bounce_size_limit (50,000 bytes, Postfix's default);
//  - From: MAILER-DAEMON@myhostname, Auto-Submitted: auto-replied.
// The caller commits the notification before it records the recipients as
// bounced: a crash between the two sends the notification twice, never
// zero times.
//
// Delay warnings (delay_warning_time, Postfix's parameter): once a message
// has waited that long, make_delay_warning() builds ONE notice for the
// recipients still deferred: the same report with Action: delayed, a 4.x.x
// Status, Will-Retry-Until (arrival + maximal_queue_lifetime), "THIS IS A
// WARNING ONLY" in the text and only the original's headers attached.
// want_delay_warning() is false for a bounce (never to the null sender),
// for a message already warned (envelope "warned"), and when no such
// recipient asked for it: NOTIFY must name DELAY or be the default.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "queue/envelope.hpp"

namespace relay::queue {

struct Failure {
    Recipient rcpt;
    std::string reason;   // the server's reply ("550 5.1.1 <x>: unknown") or a local reason
    std::string remote;   // "host[ip]:port" of the server that said it, "" when local
};

inline constexpr size_t bounce_size_limit = 50000;

// True when FAILURES warrant a notification to ENV's sender.
bool want_bounce(const Envelope &env, const std::vector<Failure> &failures);

// Builds the notification: its envelope (new id, null sender, one
// recipient = env.sender) and message text (LF line ends).
// ORIGINAL is the queued message (may be cut to its headers).
struct Bounce {
    Envelope envelope;
    std::string message;
};
Bounce make_bounce(const config::Config &cfg, const Envelope &env,
                   const std::vector<Failure> &failures, std::string_view original);

// True when DELAYED (recipients still deferred) warrant a delay warning.
bool want_delay_warning(const Envelope &env, const std::vector<Failure> &delayed);

// The warning for DELAYED: Action: delayed, the original's headers only.
Bounce make_delay_warning(const config::Config &cfg, const Envelope &env,
                          const std::vector<Failure> &delayed, std::string_view original);

// "4.3.0" from "451 4.3.0 ..." (a 5.x.x reply becomes 4.x.x: still retried),
// else 4.0.0.
std::string dsn_delay_status(const std::string &reason);

// The RFC 3463 status for a reason: "5.1.1" from "550 5.1.1 ...", else
// 5.0.0 for a 5xx reply and 4.4.7 for an expired message.
std::string dsn_status(const std::string &reason);

}  // namespace relay::queue
