#include "server/connection.hpp"

#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log/log.hpp"
#include "server/delivery.hpp"
#include "server/peername.hpp"
#include "util/error.hpp"

namespace relay::server {
namespace {

constexpr size_t output_high_water = 256 * 1024;
constexpr size_t read_chunk = 16384;
constexpr size_t reads_per_event = 8;

}  // namespace

Connection::Connection(ConnectionHost &host, uint64_t id, util::UniqueFd fd,
                       config::ListenerKind kind, IpAddress client,
                       std::shared_ptr<const Runtime> rt, std::shared_ptr<TlsContext> tls)
    : host_(host), id_(id), fd_(std::move(fd)), kind_(kind), client_(std::move(client)),
      rt_(std::move(rt)), tls_ctx_(std::move(tls)) {
    int one = 1;
    setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ClientInfo info;
    info.kind = kind_;
    info.address = client_;
    info.mynetworks = rt_->policy->in_mynetworks(client_);
    info.tls_active = kind_ == config::ListenerKind::Smtps;
    session_ = std::make_unique<Session>(rt_, info, *this);
}

Connection::~Connection() = default;

void Connection::arm(Clock::duration d) { deadline_ = Clock::now() + d; }

void Connection::start() {
    if (rt_->cfg.server.peername_lookup) {
        IpAddress addr = client_;
        bool queued = host_.lookup(id_, [this, addr]() -> WorkerPool::Completion {
            std::string name = verified_hostname(addr);
            return [this, name]() { looked_up(name); };
        });
        if (queued) {
            state_ = State::Lookup;
            arm(lookup_wait);
            return update();
        }
    }
    begin();
}

void Connection::looked_up(const std::string &name) {
    session_->set_client_hostname(name);
    if (state_ != State::Lookup) return;  // lookup_wait ran out before: too late for the log
    disarm();
    begin();
}

void Connection::begin() {
    log::info("connect from " + session_->client_name());
    const auto &sc = rt_->cfg.server;
    if (kind_ == config::ListenerKind::Smtps) {
        if (!tls_ctx_) return close_now("no TLS certificate for smtps");
        implicit_tls_ = true;
        tls_ = std::make_unique<TlsStream>(tls_ctx_, fd_.get());
        state_ = State::Handshake;
        arm(sc.timeout);
        return step_handshake();
    }
    if (kind_ == config::ListenerKind::Smtp && sc.greet_pause.count() > 0 &&
        !session_->client().mynetworks) {
        state_ = State::PreGreet;
        arm(sc.greet_pause);
        return update();
    }
    greet();
}

void Connection::refuse(const std::string &line) {
    state_ = State::Active;
    session_->refuse(line);
    pump();
}

void Connection::greet() {
    state_ = State::Active;
    session_->greet();
    pump();
}

uint32_t Connection::interest() const {
    uint32_t ev = 0;
    switch (state_) {
    case State::Lookup: break;
    case State::PreGreet: ev = EPOLLIN; break;
    case State::Handshake:
        if (want_read_) ev |= EPOLLIN;
        if (want_write_) ev |= EPOLLOUT;
        break;
    case State::Active:
        if (!session_->busy() && session_->action() == SessionAction::None &&
            out_.size() - out_pos_ < output_high_water)
            ev |= EPOLLIN;
        if (want_write_) ev |= EPOLLOUT;
        break;
    case State::Sleeping:
    case State::Closed: break;
    }
    if (out_pos_ < out_.size()) ev |= EPOLLOUT;
    return ev;
}

void Connection::update() {
    if (state_ == State::Closed) return;
    host_.interest_changed(*this);
    host_.schedule(*this);
}

void Connection::close_now(const std::string &why) {
    if (state_ == State::Closed) return;
    if (tls_ && state_ != State::Handshake) tls_->shutdown();
    state_ = State::Closed;
    log::info("disconnect from " + session_->client_name() + (why.empty() ? "" : " (" + why + ")"));
    host_.interest_changed(*this);
}

void Connection::on_timer() {
    if (state_ == State::Closed || Clock::now() < deadline_) return;
    disarm();
    switch (state_) {
    case State::Lookup: return begin();  // no name in time: "unknown"
    case State::PreGreet: return greet();
    case State::Sleeping:
        state_ = State::Active;
        return pump();
    case State::Handshake: return close_now("timeout during the TLS handshake");
    case State::Active:
        if (session_->busy()) return;
        session_->timed_out();
        return pump();
    case State::Closed: return;
    }
}

void Connection::on_event(uint32_t events) {
    if (state_ == State::Closed) return;
    if (state_ == State::Lookup) {
        if (events & (EPOLLHUP | EPOLLERR)) return close_now("lost connection before the greeting");
        return;
    }
    if (state_ == State::PreGreet) {
        char c;
        ssize_t n = ::recv(fd_.get(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return close_now("lost connection before the greeting");
        if (n > 0) {
            state_ = State::Active;
            session_->pregreet_violation();
            return pump();
        }
        return;
    }
    if (state_ == State::Handshake) return step_handshake();
    if ((events & EPOLLOUT) && !flush()) return;
    if (state_ == State::Active && (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLOUT))) do_read();
    if (state_ != State::Closed) pump();
}

void Connection::do_read() {
    static char buf[read_chunk];
    for (size_t i = 0; i < reads_per_event && state_ == State::Active; ++i) {
        if (session_->busy() || session_->action() != SessionAction::None) return;
        if (out_.size() - out_pos_ >= output_high_water) return;
        size_t got = 0;
        if (tls_) {
            want_write_ = false;
            TlsIo r = tls_->read(buf, sizeof buf, got);
            if (r == TlsIo::WantRead) return;
            if (r == TlsIo::WantWrite) {
                want_write_ = true;
                return;
            }
            if (r == TlsIo::Eof) return close_now("lost connection after " + last_command_);
            if (r == TlsIo::Error) return close_now("TLS error: " + tls_->error_text());
        } else {
            ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
            if (n < 0) return close_now("read error: " + errno_text(errno));
            if (n == 0) return close_now("lost connection after " + last_command_);
            got = static_cast<size_t>(n);
        }
        session_->feed(std::string_view(buf, got));
        session_->process();
        // One deadline per line (Postfix's smtpd_per_record_deadline):
        // bytes that do not complete a line do not extend it, so a client
        // that trickles a byte at a time cannot hold the connection.
        if (state_ == State::Active && (!session_->mid_line() || deadline_ == Clock::time_point::max())) {
            if (session_->in_data()) arm(rt_->cfg.server.data_timeout);
            else arm(rt_->cfg.server.timeout);
        }
        if (session_->has_output() || session_->busy()) return;
    }
}

bool Connection::flush() {
    while (out_pos_ < out_.size()) {
        size_t put = 0;
        if (tls_ && state_ != State::Handshake) {
            TlsIo r = tls_->write(out_.data() + out_pos_, out_.size() - out_pos_, put);
            if (r == TlsIo::WantWrite || r == TlsIo::WantRead) return true;
            if (r != TlsIo::Ok) {
                close_now("TLS write error");
                return false;
            }
        } else {
            ssize_t n = ::send(fd_.get(), out_.data() + out_pos_, out_.size() - out_pos_,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
            if (n < 0) {
                close_now("write error: " + errno_text(errno));
                return false;
            }
            put = static_cast<size_t>(n);
        }
        out_pos_ += put;
    }
    out_.clear();
    out_pos_ = 0;
    return true;
}

void Connection::pump() {
    if (state_ == State::Closed) return;
    if (state_ == State::Active) {
        if (host_.stopping() && !session_->busy() && session_->action() == SessionAction::None)
            session_->refuse("421 4.3.2 " + rt_->cfg.myhostname + " Service shutting down");
        session_->process();
        auto delay = session_->take_delay();
        if (delay.count() > 0) {
            state_ = State::Sleeping;
            arm(delay);
            return update();
        }
        if (session_->has_output()) {
            std::string more = session_->take_output();
            if (out_pos_ == out_.size()) {
                out_ = std::move(more);
                out_pos_ = 0;
            } else {
                out_ += more;
            }
        }
        if (session_->busy()) disarm();
        else if (deadline_ == Clock::time_point::max())
            arm(session_->in_data() ? rt_->cfg.server.data_timeout : rt_->cfg.server.timeout);
    }
    if (!flush()) return;
    if (state_ == State::Active && out_pos_ == out_.size()) {
        switch (session_->action()) {
        case SessionAction::Close: return close_now("");
        case SessionAction::StartTls:
            tls_ = std::make_unique<TlsStream>(tls_ctx_, fd_.get());
            state_ = State::Handshake;
            arm(rt_->cfg.server.timeout);
            return step_handshake();
        case SessionAction::None: break;
        }
    }
    update();
}

void Connection::step_handshake() {
    want_read_ = want_write_ = false;
    TlsIo r = tls_->handshake();
    if (r == TlsIo::WantRead) want_read_ = true;
    else if (r == TlsIo::WantWrite) want_write_ = true;
    else if (r != TlsIo::Ok) {
        log::info("SSL_accept error from " + session_->client_name() + ": " + tls_->error_text());
        return close_now("TLS handshake failed");
    }
    if (r != TlsIo::Ok) return update();
    std::string info = tls_->info();
    log::info("TLS connection established from " + session_->client_name() + ": " + info);
    state_ = State::Active;
    disarm();
    if (implicit_tls_) {
        session_->tls_started(info);
        session_->greet();
    } else {
        session_->tls_started(info);
    }
    pump();
}

void Connection::authenticate(const std::string &user, const std::string &password,
                              std::function<void(bool)> done) {
    last_command_ = "AUTH";
    auto users = host_.users();
    host_.submit(id_, [users, user, password, done = std::move(done)]() -> WorkerPool::Completion {
        bool ok = false;
        if (!user.empty()) ok = UserDb::verify(users->hash_of(user), password);
        else UserDb::verify(std::nullopt, password);
        return [done, ok] { done(ok); };
    });
}

void Connection::deliver(Transaction tx, std::function<void(std::string)> done) {
    last_command_ = "DATA";
    auto rt = rt_;
    std::string client = session_->client_name();
    ConnectionHost *host = &host_;
    host_.submit(id_, [rt, tx = std::move(tx), done = std::move(done), client, host]() mutable
                      -> WorkerPool::Completion {
        std::string id;
        std::string reply = deliver_transaction(rt->cfg, tx, id);
        bool ok = reply.rfind("250", 0) == 0;
        if (ok)
            log::info(id + ": client=" + client +
                      (tx.login.empty() ? "" : ", sasl_username=" + tx.login) + ", from=<" +
                      tx.sender.value_or("") + ">, nrcpt=" + std::to_string(tx.recipients.size()) +
                      ", size=" + std::to_string(tx.message.size()));
        bool queued = ok && !tx.remote.empty();
        return [done, reply, queued, host] {
            if (queued) host->mail_queued();
            done(reply);
        };
    });
}

}  // namespace relay::server
