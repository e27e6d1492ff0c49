// policy.hpp - the one place that decides what a delivery failure means.
//
// Protocol code only observes: which phase of the conversation failed, the
// libcurl result, and the server's reply (code and enhanced status). It
// hands those to decide(), which returns the outcome, following the ideas
// of Postfix's smtp/smtp_trouble.c:
//
//   - a 2xx/3xx reply where one was expected is no failure (Delivered);
//   - a 5xx reply to RCPT TO bounces that one recipient;
//   - a 5xx reply to MAIL FROM, DATA or the final "." bounces the message;
//   - every 4xx, every network, timeout, TLS or local failure defers;
//   - a reply in the connection phases (greeting, EHLO, STARTTLS, AUTH)
//     defers, whatever its code: the server or our configuration is at
//     fault, not the message, and the next relay may work;
//   - an AUTH failure, a TLS certificate failure, or a server that does not
//     offer the TLS we require defers and marks the run as failed for
//     configuration (config_failure), so `relay --flush` exits non-zero and
//     an admin learns about it instead of mail silently piling up.
//
// Scope says whom the outcome is for: one recipient, the whole message, or
// the whole connection (every message queued for this relay). A connection
// scope also means "try the next relay". decide() is a pure function.
#pragma once

#include <string>
#include <string_view>

#include <curl/curl.h>

namespace relay::smtp {

enum class Outcome { Delivered, Deferred, Bounced };

// The conversation phases, in order.
enum class Phase { Connect, Greeting, Tls, Helo, Auth, Mail, Rcpt, Data, Dot, Local };

enum class Scope { Recipient, Message, Connection };

struct Decision {
    Outcome outcome = Outcome::Deferred;
    Scope scope = Scope::Message;
    bool config_failure = false;  // the run should end non-zero (auth/TLS setup)
};

struct Observation {
    Phase phase = Phase::Connect;
    CURLcode curl = CURLE_OK;  // CURLE_OK when the phase's reply is all we know
    int reply_code = 0;        // 0 = no reply received in this phase
    std::string_view enhanced; // "5.1.1" or empty
};

Decision decide(const Observation &obs);

const char *to_string(Outcome o);  // "sent", "deferred", "bounced" (log status=)
const char *to_string(Phase p);    // "connect", "greeting", ...
// Postfix's "(in reply to RCPT TO command)" wording for a phase.
const char *in_reply_to(Phase p);

// Splits "550 5.1.1 <x>: unknown" into code 550 and enhanced "5.1.1";
// returns false when the text does not start with a 3-digit code.
bool parse_reply_code(std::string_view reply, int &code, std::string_view &enhanced);

}  // namespace relay::smtp
