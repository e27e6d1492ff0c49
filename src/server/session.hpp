// session.hpp - one SMTP server conversation, without any I/O.
//
// A Session is fed the bytes a client sent and produces the bytes to send
// back; it never touches a socket, a clock or a file. Slow work (password
// checks, the durable commit of a message) goes out through SessionHooks
// and comes back as a callback, during which the session reads no further
// commands: replies stay in order however much the client pipelines
// (RFC 2920). The connection (server.cpp) moves bytes, runs timers and
// performs the actions the session asks for (start TLS, close, sleep).
//
// The conversation follows RFC 5321 with the ESMTP extensions PIPELINING,
// SIZE, 8BITMIME, SMTPUTF8, DSN, ENHANCEDSTATUSCODES, STARTTLS (RFC 3207)
// and AUTH PLAIN/LOGIN (RFC 4954), and Postfix's smtpd for the wording of
// replies and the order of checks:
//   - HELO/EHLO first; AUTH only over TLS and only on submission/smtps
//     listeners, which also require it before MAIL;
//   - reject_non_fqdn_sender/recipient, the sender login check
//     (sender_login_maps), reject_unauth_destination, unknown users of
//     hosted domains (550 5.1.1) at RCPT;
//   - after STARTTLS whatever the client pipelined behind it is discarded
//     and the session starts over (no HELO, no AUTH, no transaction);
//   - errors count: past soft_error_limit each reply is delayed by
//     error_sleep_time, at hard_error_limit the session ends (421);
//   - a message is answered 250 only after the hook reported it durable.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "queue/maildrop.hpp"
#include "server/policy.hpp"
#include "server/protocol.hpp"

namespace relay::server {

// Immutable state shared by the sessions started under one configuration
// (replaced as a whole on SIGHUP).
struct Runtime {
    config::Config cfg;
    std::unique_ptr<Policy> policy;
    bool tls = false;  // a certificate is loaded: STARTTLS and smtps work
};

// One accepted message, as the delivery hook gets it.
struct Transaction {
    std::optional<std::string> sender;   // "" = null sender
    std::vector<std::string> recipients; // as given in RCPT TO
    std::vector<MaildirTarget> local;    // hosted mailboxes
    std::vector<std::string> remote;     // for the queue
    std::vector<queue::RcptParams> remote_params;  // NOTIFY, ORCPT: one per remote[i]
    std::string body_type;               // "", "7BIT", "8BITMIME"
    std::string ret, envid;              // DSN (RFC 3461)
    bool smtputf8 = false;
    std::string login;                   // SASL user, "" when none
    std::string message;                 // LF line ends, Received: on top
};

class SessionHooks {
public:
    virtual ~SessionHooks() = default;
    // Checks a password; DONE(true) when it is right. DONE is called later,
    // from the event loop, never from inside this call.
    virtual void authenticate(const std::string &user, const std::string &password,
                              std::function<void(bool)> done) = 0;
    // Commits TX (maildirs, queue); DONE gets the complete reply line.
    virtual void deliver(Transaction tx, std::function<void(std::string)> done) = 0;
    // AUTH brute-force limit for the client address.
    virtual bool auth_blocked() = 0;
    virtual void auth_failed() = 0;
};

struct ClientInfo {
    config::ListenerKind kind = config::ListenerKind::Smtp;
    IpAddress address;
    bool mynetworks = false;
    bool tls_active = false;  // implicit TLS (smtps)
};

enum class SessionAction { None, StartTls, Close };

class Session {
public:
    Session(std::shared_ptr<const Runtime> rt, ClientInfo client, SessionHooks &hooks);

    void greet();                         // queues the 220 banner
    void refuse(const std::string &line); // queues LINE and closes (limits)
    void pregreet_violation();            // the client spoke before the banner
    void feed(std::string_view bytes);
    void process();                       // handles what it can of the input

    std::string take_output() { return std::move(out_); }
    bool has_output() const { return !out_.empty(); }
    SessionAction action() const { return action_; }
    // A tarpit delay requested before the pending output may be sent.
    std::chrono::milliseconds take_delay() {
        auto d = delay_;
        delay_ = std::chrono::milliseconds(0);
        return d;
    }
    bool busy() const { return pending_ > 0; }   // waiting for a hook
    // Not busy and part of a line waits for the rest (see Connection).
    bool mid_line() const { return framer_.mid_line(); }
    bool in_data() const { return data_ != nullptr; }
    void tls_started(const std::string &cipher_info);
    // Called when a timeout ends the session.
    void timed_out();

    const std::string &helo() const { return helo_; }
    const std::string &login() const { return login_; }
    const std::string &client_name() const { return client_name_; }
    const ClientInfo &client() const { return client_; }
    // The verified host name of the client (peername.hpp); "" = unknown.
    void set_client_hostname(const std::string &name);

private:
    enum class AuthStep { None, PlainResponse, LoginUser, LoginPassword };

    void reply(const std::string &line);
    void error_reply(const std::string &line);
    void reset_transaction();
    void handle_line(Line line);
    void handle_command(const Command &cmd);
    void handle_auth_response(const Line &line);
    void handle_data_line(Line line);
    void finish_data();
    void cmd_ehlo(const Command &cmd, bool extended);
    void cmd_mail(const Command &cmd);
    void cmd_rcpt(const Command &cmd);
    void cmd_data(const Command &cmd);
    void cmd_auth(const Command &cmd);
    void cmd_starttls(const Command &cmd);
    void check_password(const std::string &user, const std::string &password);
    bool may_relay() const;
    bool auth_offered() const;
    std::string received_header() const;
    std::string host() const;

    std::shared_ptr<const Runtime> rt_;
    const config::Config &cfg_;
    ClientInfo client_;
    SessionHooks &hooks_;
    std::string client_name_;             // "unknown[192.0.2.1]" or "host.example[192.0.2.1]"
    std::string client_host_ = "unknown"; // for Received:
    LineFramer framer_;
    std::string out_;
    SessionAction action_ = SessionAction::None;
    std::chrono::milliseconds delay_{0};
    int pending_ = 0;
    unsigned errors_ = 0;
    bool esmtp_ = false;
    bool tls_ = false;
    std::string tls_info_;
    std::string helo_;
    std::string login_;
    AuthStep auth_step_ = AuthStep::None;
    std::string auth_mech_, auth_user_;
    bool have_mail_ = false;
    Transaction tx_;
    std::unique_ptr<DataReader> data_;
};

}  // namespace relay::server
