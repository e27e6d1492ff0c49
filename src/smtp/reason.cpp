#include "smtp/reason.hpp"

#include "util/error.hpp"

namespace relay::smtp {
namespace {

const char *timeout_when(Phase p, bool body_started) {
    switch (p) {
    case Phase::Connect: return "while connecting";
    case Phase::Greeting: return "while receiving the initial server greeting";
    case Phase::Tls: return "during the TLS handshake";
    case Phase::Helo: return "after EHLO";
    case Phase::Auth: return "after AUTH";
    case Phase::Mail: return "after MAIL FROM";
    case Phase::Rcpt: return "after RCPT TO";
    case Phase::Data: return "after DATA";
    case Phase::Dot:
        return body_started ? "while sending the message body or after END-OF-MESSAGE"
                            : "after DATA";
    case Phase::Local: return "while reading the message";
    }
    return "";
}

std::string detail(const Failure &f) {
    if (!f.curl_error.empty()) return f.curl_error;
    return "";
}

}  // namespace

std::string Peer::name() const { return ip.empty() ? host : host + "[" + ip + "]"; }

std::string Peer::label() const {
    return (ip.empty() ? host : host + "[" + ip + "]") + ":" + std::to_string(port);
}

std::string server_said(const Peer &peer, const Reply &reply, Phase phase) {
    return "host " + peer.name() + " said: " + reply.text + " (" + in_reply_to(phase) + ")";
}

std::string describe_failure(const Failure &f) {
    const std::string who = f.peer.name();
    if (f.read_errno)
        return "cannot read the queued message: " + errno_text(f.read_errno);
    if (!f.reply.empty() && f.reply.code >= 400) {
        if (f.phase == Phase::Auth) return "SASL authentication failed; server " + who + " said: " + f.reply.text;
        if (f.phase == Phase::Tls)
            return "STARTTLS refused; server " + who + " said: " + f.reply.text;
        return server_said(f.peer, f.reply, f.phase);
    }
    std::string d = detail(f);
    switch (f.rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        return "Host or domain name not found. Name service error for name=" + f.peer.host;
    case CURLE_COULDNT_CONNECT:
        return "connect to " + f.peer.label() + ": " +
               (f.os_errno ? errno_text(f.os_errno) : d.empty() ? "connection failed" : d);
    case CURLE_OPERATION_TIMEDOUT:
        if (f.phase == Phase::Connect)
            return "connect to " + f.peer.label() + ": Connection timed out";
        return "conversation with " + who + " timed out " + timeout_when(f.phase, f.body_started);
    case CURLE_USE_SSL_FAILED:
        if (!f.reply.empty())  // a 2xx/3xx is not what STARTTLS should get
            return "STARTTLS refused; server " + who + " said: " + f.reply.text;
        return "TLS is required, but was not offered by host " + who;
    case CURLE_PEER_FAILED_VERIFICATION:
        return "TLS certificate verification failed for " + who + (d.empty() ? "" : ": " + d);
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return "TLS public key of " + who + " does not match tls_pin_sha256";
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        return "local TLS setup problem: " + (d.empty() ? std::string("bad certificate file") : d);
    case CURLE_SSL_CONNECT_ERROR:
        return "TLS handshake with " + who + " failed" + (d.empty() ? "" : ": " + d);
    case CURLE_LOGIN_DENIED:
        return "SASL authentication failed with " + who + (d.empty() ? "" : ": " + d);
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        return "lost connection with " + who + " " + timeout_when(f.phase, f.body_started);
    case CURLE_WEIRD_SERVER_REPLY:
        return "unexpected reply from " + who + " " + timeout_when(f.phase, f.body_started) +
               (d.empty() ? "" : ": " + d);
    default:
        break;
    }
    return "delivery via " + who + " failed " + timeout_when(f.phase, f.body_started) + ": " +
           (d.empty() ? std::string("libcurl error ") + std::to_string(static_cast<int>(f.rc)) : d);
}

}  // namespace relay::smtp
