// connection.hpp - one client socket: bytes between the kernel and a Session.
//
// A Connection moves bytes (plain or through TlsStream), keeps the one
// deadline that applies in its state, and runs the session's slow hooks on
// the worker pool. Its states:
//
//   Lookup     the client's host name is being looked up (peername.hpp,
//              [server] peername_lookup): at most lookup_wait, nothing read
//   PreGreet   smtp listener, client outside mynetworks: the banner waits
//              greet_pause; a client that talks first is told 554 and
//              dropped (postscreen's pregreet test)
//   Handshake  TLS handshake (smtps at once, or after STARTTLS's 220)
//   Active     conversation; input is read only while the session is not
//              waiting for a hook, so replies stay in order
//   Sleeping   tarpit: the pending reply goes out after error_sleep_time
//   Closed
//
// Timeouts: greet_pause before the banner; [server] timeout for each line
// in the command phase (a read that does not complete a line does not
// extend it) and for the handshake, data_timeout per line in DATA; none while
// a hook runs. Output is written as one buffer per batch of replies
// (TCP_NODELAY), and input stops being read while more than 256 KiB of
// output waits for a client that does not read.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "server/policy.hpp"
#include "server/session.hpp"
#include "server/tls.hpp"
#include "server/users.hpp"
#include "server/workers.hpp"
#include "util/fd.hpp"

namespace relay::server {

using Clock = std::chrono::steady_clock;

class Connection;

// What a connection needs from the server around it.
class ConnectionHost {
public:
    virtual ~ConnectionHost() = default;
    virtual void interest_changed(Connection &c) = 0;
    virtual void schedule(Connection &c) = 0;
    virtual void submit(uint64_t owner, WorkerPool::Job job) = 0;
    // Runs JOB on a free lookup thread; false when none is free (the
    // client then stays "unknown").
    virtual bool lookup(uint64_t owner, WorkerPool::Job job) = 0;
    virtual bool auth_blocked(const IpAddress &a) = 0;
    virtual void auth_failed(const IpAddress &a) = 0;
    virtual std::shared_ptr<UserDb> users() = 0;
    virtual void mail_queued() = 0;
    virtual bool stopping() const = 0;
};

class Connection : public SessionHooks {
public:
    Connection(ConnectionHost &host, uint64_t id, util::UniqueFd fd, config::ListenerKind kind,
               IpAddress client, std::shared_ptr<const Runtime> rt,
               std::shared_ptr<TlsContext> tls);
    ~Connection() override;

    void start();
    void refuse(const std::string &line);  // instead of start(): limits
    void on_event(uint32_t events);
    void on_timer();
    void pump();

    bool closed() const { return state_ == State::Closed; }
    uint32_t interest() const;
    int fd() const { return fd_.get(); }
    uint64_t id() const { return id_; }
    const IpAddress &client() const { return client_; }
    Clock::time_point deadline() const { return deadline_; }
    Clock::time_point heap_time = Clock::time_point::max();  // owned by the server
    uint32_t registered = 0;                                  // owned by the server

    // SessionHooks
    void authenticate(const std::string &user, const std::string &password,
                      std::function<void(bool)> done) override;
    void deliver(Transaction tx, std::function<void(std::string)> done) override;
    bool auth_blocked() override { return host_.auth_blocked(client_); }
    void auth_failed() override { host_.auth_failed(client_); }

private:
    enum class State { Lookup, PreGreet, Handshake, Active, Sleeping, Closed };

    void begin();
    void looked_up(const std::string &name);
    void greet();
    void do_read();
    bool flush();
    void step_handshake();
    void close_now(const std::string &why);
    void arm(Clock::duration d);
    void disarm() { deadline_ = Clock::time_point::max(); }
    void update();

    ConnectionHost &host_;
    uint64_t id_;
    util::UniqueFd fd_;
    config::ListenerKind kind_;
    IpAddress client_;
    std::shared_ptr<const Runtime> rt_;
    std::shared_ptr<TlsContext> tls_ctx_;
    std::unique_ptr<TlsStream> tls_;
    std::unique_ptr<Session> session_;
    State state_ = State::Active;
    bool implicit_tls_ = false;
    bool want_read_ = false, want_write_ = false;  // TLS wants the socket
    std::string out_;
    size_t out_pos_ = 0;
    Clock::time_point deadline_ = Clock::time_point::max();
    std::string last_command_ = "CONNECT";
};

}  // namespace relay::server
