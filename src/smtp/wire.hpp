// wire.hpp - SMTP commands and replies over a connection libcurl opened.
//
// libcurl opens the connection (CURLOPT_CONNECT_ONLY): TCP, implicit TLS
// or STARTTLS with certificate checks, EHLO and SASL AUTH all stay
// libcurl's. The mail transaction is relay's own, over curl_easy_send()
// and curl_easy_recv() (so through TLS when there is TLS): libcurl 7.88
// neither pipelines (RFC 2920) nor lets MAIL FROM and RCPT TO carry ESMTP
// parameters (SIZE, BODY, DSN), and it gives the reply after the final dot
// the same timeout as every other reply.
//
// Wire moves bytes and frames replies; it decides nothing. Every command
// line it sends and every reply line it receives is given to the
// Transcript (for -v and for matching replies to phases); message data is
// not.
//
// Timeouts are deadlines per operation: read_reply() waits at most
// TIMEOUT for the whole reply; flush() fails when the socket accepts no
// byte at all for IDLE. Failures come back as the CURLcode the policy
// knows: CURLE_OPERATION_TIMEDOUT, CURLE_GOT_NOTHING (the server closed
// the connection), CURLE_SEND_ERROR / CURLE_RECV_ERROR (with errno()),
// CURLE_WEIRD_SERVER_REPLY (a line that is not an SMTP reply, or a reply
// larger than max_reply).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "smtp/curl_api.hpp"
#include "smtp/transcript.hpp"

namespace relay::smtp {

class Wire {
public:
    static constexpr size_t max_reply = 64 * 1024;

    Wire(const CurlApi &api, CURL *easy, Transcript &transcript)
        : api_(api), easy_(easy), transcript_(transcript) {}

    // Queues a command line (without CRLF) for the next flush().
    void command(std::string_view line);
    // Queues data that is not a command (the message, the final dot).
    void data(std::string_view bytes) { out_.append(bytes); }
    size_t queued() const { return out_.size(); }
    // Sends everything queued.
    CURLcode flush(std::chrono::seconds idle);

    // Receives one complete reply (all its lines) into R.
    CURLcode read_reply(Reply &r, std::chrono::seconds timeout);

    // True when the server has said something or hung up while nothing was
    // asked of it (an idle connection the server timed out with "421"):
    // such a connection must not carry another message.
    bool stale();

    // Closes the socket at once, in both directions: whatever libcurl
    // sends when its handle is cleaned up (QUIT) then fails fast, and a
    // message cut short can never be completed by later bytes.
    void cut();

    int os_errno() const { return errno_; }

private:
    int socket() const;
    CURLcode wait(short events, std::chrono::steady_clock::time_point deadline);

    const CurlApi &api_;
    CURL *easy_;
    Transcript &transcript_;
    std::string out_;
    std::string in_;
    int errno_ = 0;
};

}  // namespace relay::smtp
