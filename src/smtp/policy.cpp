#include "smtp/policy.hpp"

#include <cctype>

namespace relay::smtp {
namespace {

// curl failures that mean "our TLS setup or the server's certificate is
// wrong": retrying will not help until someone changes the configuration.
bool is_tls_setup_failure(CURLcode c) {
    switch (c) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:  // STARTTLS required but not offered or refused
        return true;
    default:
        return false;
    }
}

// curl failures that say relay itself was set up wrongly (bad URL, an
// option this libcurl lacks): the run fails for configuration.
bool is_local_setup_failure(CURLcode c) {
    switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_FUNCTION_NOT_FOUND:
        return true;
    default:
        return false;
    }
}

// Failures of our own side while sending one message (reading the queue
// file, memory): the message is deferred, the connection may carry on.
bool is_local_message_failure(CURLcode c) {
    switch (c) {
    case CURLE_READ_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR:
        return true;
    default:
        return false;
    }
}

bool is_connection_phase(Phase p) {
    return p == Phase::Connect || p == Phase::Greeting || p == Phase::Tls || p == Phase::Helo ||
           p == Phase::Auth;
}

Decision make(Outcome o, Scope s, bool config = false) { return Decision{o, s, config}; }

// The server answered REPLY_CODE in PHASE.
Decision decide_reply(Phase phase, int code, std::string_view enhanced) {
    int cls = code / 100;
    bool ok = (cls == 2 || cls == 3);
    // 421: the server is going away; nothing more goes over this connection.
    if (code == 421) return make(Outcome::Deferred, Scope::Connection);
    if (is_connection_phase(phase)) {
        if (ok) return make(Outcome::Delivered, Scope::Connection);
        bool permanent = cls == 5;
        // A refused AUTH (535) or STARTTLS (5xx) needs an admin; a 4xx
        // ("454 4.7.0 Temporary authentication failure") does not.
        bool config = permanent && (phase == Phase::Auth || phase == Phase::Tls);
        return make(Outcome::Deferred, Scope::Connection, config);
    }
    if (phase == Phase::Rcpt) {
        if (ok) return make(Outcome::Delivered, Scope::Recipient);
        // RFC 5321 4.5.3.1.10: old servers say 552 for "too many recipients";
        // that is a temporary condition (Postfix treats it as 452).
        if (code == 552) return make(Outcome::Deferred, Scope::Recipient);
        if (cls == 5) return make(Outcome::Bounced, Scope::Recipient);
        return make(Outcome::Deferred, Scope::Recipient);
    }
    // MAIL, DATA, the final dot (and Local, which has no reply).
    if (ok) return make(Outcome::Delivered, Scope::Message);
    if (cls == 5) {
        // "530 5.7.0 Authentication required" (RFC 4954): our credentials
        // are missing, not the message at fault. Bouncing all mail because
        // of a configuration slip would be worse than waiting.
        if (phase == Phase::Mail && (code == 530 || enhanced == "5.7.0"))
            return make(Outcome::Deferred, Scope::Connection, true);
        return make(Outcome::Bounced, Scope::Message);
    }
    // 4xx and anything unexpected (1xx, 6xx...): try again later.
    return make(Outcome::Deferred, Scope::Message);
}

}  // namespace

Decision decide(const Observation &obs) {
    const CURLcode c = obs.curl;
    if (obs.phase == Phase::Local || is_local_message_failure(c))
        return make(Outcome::Deferred, Scope::Message);
    if (is_local_setup_failure(c)) return make(Outcome::Deferred, Scope::Connection, true);

    // A failure reply explains the failure better than curl's code for it.
    if (obs.reply_code >= 400 || (obs.reply_code > 0 && c == CURLE_OK))
        return decide_reply(obs.phase, obs.reply_code, obs.enhanced);

    if (c == CURLE_OK) {
        // No reply and no error: nothing went wrong (e.g. a reused connection
        // skipped the connection phases).
        return make(Outcome::Delivered, obs.phase == Phase::Rcpt ? Scope::Recipient
                                                                 : Scope::Message);
    }
    if (is_tls_setup_failure(c)) return make(Outcome::Deferred, Scope::Connection, true);
    if (c == CURLE_LOGIN_DENIED) return make(Outcome::Deferred, Scope::Connection, true);
    // Everything else is the network or the server misbehaving: resolve and
    // connect failures, timeouts, lost connections, garbage replies. The
    // relay is unusable for the rest of this run.
    return make(Outcome::Deferred, Scope::Connection);
}

const char *to_string(Outcome o) {
    switch (o) {
    case Outcome::Delivered: return "sent";
    case Outcome::Deferred: return "deferred";
    case Outcome::Bounced: return "bounced";
    }
    return "?";
}

const char *to_string(Phase p) {
    switch (p) {
    case Phase::Connect: return "connect";
    case Phase::Greeting: return "greeting";
    case Phase::Tls: return "tls";
    case Phase::Helo: return "helo";
    case Phase::Auth: return "auth";
    case Phase::Mail: return "mail";
    case Phase::Rcpt: return "rcpt";
    case Phase::Data: return "data";
    case Phase::Dot: return "dot";
    case Phase::Local: return "local";
    }
    return "?";
}

const char *in_reply_to(Phase p) {
    switch (p) {
    case Phase::Connect: return "while connecting";
    case Phase::Greeting: return "while receiving the initial server greeting";
    case Phase::Tls: return "in reply to STARTTLS command";
    case Phase::Helo: return "in reply to EHLO command";
    case Phase::Auth: return "in reply to AUTH command";
    case Phase::Mail: return "in reply to MAIL FROM command";
    case Phase::Rcpt: return "in reply to RCPT TO command";
    case Phase::Data: return "in reply to DATA command";
    case Phase::Dot: return "in reply to end of DATA command";
    case Phase::Local: return "while reading the message";
    }
    return "";
}

bool parse_reply_code(std::string_view reply, int &code, std::string_view &enhanced) {
    enhanced = {};
    if (reply.size() < 3) return false;
    for (int i = 0; i < 3; ++i)
        if (!std::isdigit(static_cast<unsigned char>(reply[i]))) return false;
    if (reply.size() > 3 && reply[3] != ' ' && reply[3] != '-') return false;
    code = (reply[0] - '0') * 100 + (reply[1] - '0') * 10 + (reply[2] - '0');
    // Enhanced status (RFC 3463): class.subject.detail, class matching the code.
    std::string_view rest = reply.size() > 4 ? reply.substr(4) : std::string_view{};
    size_t n = 0;
    int dots = 0;
    bool digit_run = false;
    while (n < rest.size()) {
        char ch = rest[n];
        if (std::isdigit(static_cast<unsigned char>(ch))) {
            digit_run = true;
        } else if (ch == '.' && digit_run && dots < 2) {
            ++dots;
            digit_run = false;
        } else {
            break;
        }
        ++n;
    }
    if (dots == 2 && digit_run && (n == rest.size() || rest[n] == ' ') && n >= 5 &&
        (rest[0] == '2' || rest[0] == '4' || rest[0] == '5') && rest[1] == '.')
        enhanced = rest.substr(0, n);
    return true;
}

}  // namespace relay::smtp
