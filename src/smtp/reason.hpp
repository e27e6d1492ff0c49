// reason.hpp - the words for a delivery failure, in Postfix's phrasing.
//
// These texts end up in the log ("status=deferred (...)"), in the envelope
// for mailq, and in bounce messages, so they follow what admins already
// grep for:
//
//   connect to mail.example.net[192.0.2.1]:587: Connection refused
//   host mail.example.net[192.0.2.1] said: 550 5.1.1 <x>: unknown (in reply to RCPT TO command)
//   conversation with mail.example.net[192.0.2.1] timed out while receiving the initial server greeting
//   TLS is required, but was not offered by host mail.example.net[192.0.2.1]
//   SASL authentication failed; server mail.example.net[192.0.2.1] said: 535 5.7.8 ...
//
// Describing is all this does: outcomes are decided in policy.hpp. No text
// built here contains a secret (AUTH data never reaches a Reply).
#pragma once

#include <string>

#include <curl/curl.h>

#include "smtp/policy.hpp"
#include "smtp/transcript.hpp"

namespace relay::smtp {

struct Peer {
    std::string host;  // as configured
    std::string ip;    // empty when not known
    unsigned port = 0;

    std::string name() const;   // "host[ip]" or "host"
    std::string label() const;  // "host[ip]:port"
};

struct Failure {
    Peer peer;
    Phase phase = Phase::Connect;
    CURLcode rc = CURLE_OK;
    Reply reply;               // the failing reply, if the server sent one
    std::string curl_error;    // CURLOPT_ERRORBUFFER text
    int os_errno = 0;          // CURLINFO_OS_ERRNO
    int read_errno = 0;        // reading the queue file failed
    bool body_started = false; // some of the message was read
};

// "host H[ip] said: TEXT (in reply to X command)".
std::string server_said(const Peer &peer, const Reply &reply, Phase phase);

std::string describe_failure(const Failure &f);

}  // namespace relay::smtp
