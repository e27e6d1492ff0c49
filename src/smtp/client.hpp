// client.hpp - delivers messages to the smarthost over one reused connection.
//
// A Client owns at most one connection. libcurl opens it (CONNECT_ONLY:
// TCP, implicit TLS or STARTTLS with certificate checks, EHLO and SASL
// AUTH); relay then speaks each mail transaction itself over that
// connection (wire.hpp), so consecutive send() calls share one TCP and
// TLS handshake and one AUTH until max_messages_per_connection messages
// have used it; then it is closed with QUIT and the next send() opens a
// fresh one. TCP_NODELAY is on: the body goes out in 64 KiB writes.
//
// What a send() does: MAIL FROM, one RCPT TO per recipient (a refused
// recipient does not stop the others), DATA, the body from
// Job::message_fd (see message_reader.hpp: CRLF only, lines of at most
// 998 octets), dot-stuffed, and the final dot. The ESMTP parameters
// (SIZE, BODY=8BITMIME, SMTPUTF8, RET, ENVID, NOTIFY, ORCPT) go out when
// the server offers their extension (esmtp.hpp); with PIPELINING, MAIL,
// every RCPT and DATA are one write, and the replies are read after it.
// An unfinished transaction is reset with RSET before the next one. Each
// reply is matched to its command, and every outcome is decided by
// policy.hpp's decide(): this file observes, it never decides.
//
// Routes (route.hpp): a Client serves one route, the relay list and the
// account chosen for a group of senders; the flush keeps one Client per
// route and thread, so mail of two accounts never shares a connection.
// Clients are independent: each owns its easy handle, and one thread at a
// time may use a Client (max_connections threads run one each).
//
// Relays are tried in configuration order. A failure before the mail
// transaction starts (connect, greeting, TLS, EHLO, AUTH) moves on to the
// next relay for the same message; any failure with connection scope
// marks the relay unusable for the rest of this Client's life, so a dead
// or hung smarthost costs one timeout per run, not one per message. A
// reused connection that the server closed meanwhile (an idle "421", a
// hang-up) is noticed before the next message, or when the first command
// finds it dead, and that message goes over a new connection.
//
// TLS: "starttls" requires STARTTLS (CURLUSESSL_ALL): a server that does
// not offer it is a deferral, never a plaintext fallback. "smtps" is
// implicit TLS. Certificates and host names are verified unless
// tls_verify = false; ca_file, ca_path, tls_pin_sha256, client_cert,
// client_key and tls_min_version map to the corresponding curl options.
// tls = "none" with credentials is refused unless allow_plaintext_auth.
//
// Addresses: relay sends them as queued when the server offers SMTPUTF8.
// Without it, an address whose domain alone is not ASCII goes out with
// the domain as A-labels (idna.hpp); one whose local part is not ASCII
// bounces with 553 5.6.7 (the recipient, or for the sender the message),
// as in Postfix.
//
// Timeouts: connect_timeout for the TCP connect; command_timeout for
// every server reply up to DATA's; data_timeout for a body upload that
// makes no progress and for the reply to the final dot.
//
// Errors: send() never throws for delivery problems; they come back as
// outcomes. Setup problems (libcurl missing, a bad relayhost, unreadable
// credentials, plaintext AUTH not allowed) are reported as every
// recipient Deferred with config_failure set and the reason.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "smtp/message_reader.hpp"
#include "smtp/policy.hpp"
#include "smtp/route.hpp"

namespace relay::smtp {

struct Job {
    std::string id;                       // queue id, for -v logging only
    std::string sender;                   // "" = null sender <>
    std::vector<std::string> recipients;
    int message_fd = -1;                  // read with pread from offset 0; not owned
    uint64_t size = 0;
    bool eight_bit = false;               // BODY=8BITMIME
    bool smtputf8 = false;                // the header section needs SMTPUTF8
    std::string ret, envid;               // DSN RET and ENVID (envid decoded)
    // Per recipient, same index as recipients (or empty): DSN NOTIFY
    // ("FAILURE,DELAY", "" = not given) and the address as first given (ORCPT).
    std::vector<std::string> notify, orcpt;
    // Rewrites the header section on the wire (smtp_generic_maps); empty = none.
    MessageReader::HeaderFilter header_filter;
};

struct RecipientOutcome {
    Outcome outcome = Outcome::Deferred;
    std::string reply;  // "250 2.0.0 Ok: queued as X" or the failure, Postfix style
};

struct Delivery {
    std::vector<RecipientOutcome> rcpts;  // one per Job::recipients, same order
    std::string relay = "none";           // "host[ip]:port" once connected
    std::string reply;                    // final reply or the message-level reason
    bool config_failure = false;          // AUTH/TLS/setup problem: the run should fail
    bool folded = false;                  // a line over 998 octets had to be broken
};

class Client {
public:
    // Delivers to [smtp] relayhost with the relay's own account.
    explicit Client(const config::Config &cfg);
    // Delivers along ROUTE: its relay list, and its sender account if any.
    Client(const config::Config &cfg, const Route &route);
    ~Client();
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;

    Delivery send(const Job &job);

    // Closes the connection (QUIT). send() after close() reconnects.
    void close();

    unsigned connections_opened() const;
    unsigned messages_sent() const;  // transfers attempted

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace relay::smtp
