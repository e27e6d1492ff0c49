// transcript.hpp - what was said on the wire, command by command.
//
// libcurl's debug callback shows the connection phases it runs (greeting,
// EHLO, STARTTLS, AUTH: CURLINFO_HEADER_OUT / CURLINFO_HEADER_IN); the
// mail transaction relay speaks itself is fed in by wire.hpp the same
// way. Transcript matches each complete reply to the command it answers
// (SMTP replies come in command order, pipelined or not), so the client
// knows which phase failed, the EHLO keywords, and what each command got,
// and -v can print the conversation.
//
// Secrets: AUTH arguments and the SASL continuation lines sent after a 334
// are never stored; redacted() shows them as "AUTH PLAIN <redacted>".
// Nothing else here is secret (the message body is never given to it).
#pragma once

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/policy.hpp"

namespace relay::smtp {

struct Reply {
    int code = 0;          // 0 = no reply
    std::string text;      // "250 2.0.0 Ok: queued as X"; multi-line joined by spaces
    std::string enhanced;  // "2.0.0" or empty

    bool empty() const { return code == 0; }
};

class Transcript {
public:
    // Starts a new transfer (one message) on the same or a new connection.
    void begin_message();

    void on_out(std::string_view data);  // CURLINFO_HEADER_OUT
    void on_in(std::string_view data);   // CURLINFO_HEADER_IN
    void on_text(std::string_view data); // CURLINFO_TEXT: picks up "Trying IP:port..."
    // Shows what went out that is no command (the message, the final dot)
    // in redacted() only; it expects no reply.
    void note_out(std::string_view what) { lines_.push_back("> " + std::string(what)); }

    // The address curl last tried to connect to ("" = none): known even
    // when the connect failed, unlike CURLINFO_PRIMARY_IP.
    const std::string &tried_ip() const { return tried_ip_; }

    // The phase that is in progress or was last reached: the one a failure
    // belongs to. Connect when nothing was exchanged in this transfer.
    Phase phase() const;
    // The last complete reply received in the current phase(), if any.
    const Reply &phase_reply() const;

    bool greeted() const { return greeted_; }  // a new connection in this transfer
    bool auth_sent() const { return auth_sent_; }
    const Reply &mail_reply() const { return mail_; }
    const std::vector<Reply> &rcpt_replies() const { return rcpts_; }
    const Reply &dot_reply() const { return dot_; }
    const Reply &last_reply() const { return last_; }
    // EHLO keywords of the current connection ("8BITMIME", "SMTPUTF8", "AUTH PLAIN LOGIN").
    const std::vector<std::string> &capabilities() const { return caps_; }
    bool has_capability(std::string_view keyword) const;

    // The conversation of this transfer, one "> cmd" / "< reply" per line,
    // with AUTH data redacted: for -v output.
    const std::vector<std::string> &redacted() const { return lines_; }

private:
    void on_command(std::string_view line);
    void on_reply_line(std::string_view line);
    void on_reply(Reply r, bool multi, std::vector<std::string> &&lines);

    std::string out_buf_, in_buf_;
    std::deque<Phase> pending_;   // commands awaiting their reply, in order
    Phase state_ = Phase::Connect;
    Reply state_reply_;
    bool greeted_ = false;
    bool in_auth_ = false;        // lines sent now are SASL data (secret)
    bool auth_sent_ = false;
    Reply partial_;               // multi-line reply being assembled
    std::vector<std::string> partial_lines_;
    Reply mail_, dot_, last_;
    std::vector<Reply> rcpts_;
    std::vector<std::string> caps_;
    std::vector<std::string> lines_;
    std::string tried_ip_;
};

}  // namespace relay::smtp
