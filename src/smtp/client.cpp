#include "smtp/client.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "log/log.hpp"
#include "smtp/client_impl.hpp"
#include "smtp/oauth2.hpp"
#include "util/error.hpp"

namespace relay::smtp {
namespace {

// Credential sources may run commands and write the OAuth2 token cache:
// one thread at a time.
std::mutex credentials_lock;

const char *const known_mechanisms[] = {"PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "XOAUTH2",
                                        "OAUTHBEARER", "EXTERNAL", "NTLM", "GSSAPI"};

size_t on_debug(CURL *, curl_infotype type, char *data, size_t size, void *userp) {
    auto *t = static_cast<Transcript *>(userp);
    if (type == CURLINFO_HEADER_OUT) t->on_out(std::string_view(data, size));
    else if (type == CURLINFO_HEADER_IN) t->on_in(std::string_view(data, size));
    else if (type == CURLINFO_TEXT) t->on_text(std::string_view(data, size));
    return 0;
}

}  // namespace

void Client::Impl::drop(bool polite) {
    if (wire && polite && connected) {
        // libcurl closes a CONNECT_ONLY connection without a word: say QUIT.
        auto t = std::min(cfg.command_timeout, std::chrono::seconds(30));
        wire->command("QUIT");
        Reply r;
        if (wire->flush(t) == CURLE_OK) wire->read_reply(r, t);
    }
    if (wire && !polite) wire->cut();
    wire.reset();
    easy.reset();  // curl_easy_cleanup: QUIT on a connection left in order
    connected = false;
    conn_relay = -1;
    need_rset = false;
    on_conn = 0;
}

// Loads the relay's credentials (once) and sets up a fresh easy handle for
// a connection to it.
Result<void> Client::Impl::configure(int index) {
    RelayState &rs = relays[static_cast<size_t>(index)];
    if (!rs.creds_loaded) {
        std::lock_guard<std::mutex> hold(credentials_lock);
        auto c = load_credentials(cfg, rs.relay, sasl_key);
        if (!c) return c.error();
        rs.creds = std::move(*c);
        if (rs.creds.bearer.empty() && !cfg.oauth2_token_endpoint.empty()) {
            if (cfg.username.empty() && rs.creds.username.empty())
                return make_error("[smtp] oauth2_token_endpoint needs username");
            if (rs.creds.username.empty()) rs.creds.username = cfg.username;
            auto t = oauth2_access_token(full);
            if (!t) return t.error();
            rs.creds.bearer = std::move(*t);
        }
        rs.creds_loaded = true;
    }
    if (cfg.tls == config::TlsMode::None && rs.creds.wanted() && !cfg.allow_plaintext_auth)
        return make_error("refusing to send AUTH credentials to " + rs.relay.label() +
                          " without TLS (tls = \"none\"); set allow_plaintext_auth = true to allow it");
    drop(true);
    easy.reset(api->easy_init());
    if (!easy) return make_error("curl_easy_init failed");
    option_error.clear();

    opt(CURLOPT_URL, rs.relay.url(cfg.tls, helo_name).c_str(), "URL");
    if (!resolve.empty()) {
        if (!resolve_list)
            for (auto &r : resolve)
                if (!slist_append(resolve_list, r.c_str())) throw std::bad_alloc();
        opt_ptr(CURLOPT_RESOLVE, resolve_list.get(), "RESOLVE");
    }
    // libcurl connects, says EHLO, STARTTLS and AUTH, then hands the
    // connection over (wire.hpp).
    opt(CURLOPT_CONNECT_ONLY, 1L, "CONNECT_ONLY");
    opt(CURLOPT_PROTOCOLS_STR, "smtp,smtps", "PROTOCOLS_STR");
    opt(CURLOPT_NOSIGNAL, 1L, "NOSIGNAL");
    opt(CURLOPT_TCP_NODELAY, 1L, "TCP_NODELAY");
    opt(CURLOPT_CONNECTTIMEOUT, static_cast<long>(cfg.connect_timeout.count()), "CONNECTTIMEOUT");
    opt(CURLOPT_SERVER_RESPONSE_TIMEOUT, static_cast<long>(cfg.command_timeout.count()),
        "SERVER_RESPONSE_TIMEOUT");
    opt_fn(CURLOPT_DEBUGFUNCTION, &on_debug, "DEBUGFUNCTION");
    opt_ptr(CURLOPT_DEBUGDATA, &transcript, "DEBUGDATA");
    opt(CURLOPT_VERBOSE, 1L, "VERBOSE");  // the debug callback only runs with VERBOSE
    opt_ptr(CURLOPT_ERRORBUFFER, errbuf, "ERRORBUFFER");

    // TLS: never a downgrade. smtps:// is TLS from the first byte; with
    // starttls, CURLUSESSL_ALL makes a server without STARTTLS a failure.
    // Only direct delivery with direct_tls = "may" takes TLS when offered.
    long use_ssl = cfg.tls == config::TlsMode::None            ? CURLUSESSL_NONE
                   : cfg.tls == config::TlsMode::Opportunistic ? CURLUSESSL_TRY
                                                               : CURLUSESSL_ALL;
    opt(CURLOPT_USE_SSL, use_ssl, "USE_SSL");
    if (cfg.tls != config::TlsMode::None) {
        opt(CURLOPT_SSL_VERIFYPEER, cfg.tls_verify ? 1L : 0L, "SSL_VERIFYPEER");
        opt(CURLOPT_SSL_VERIFYHOST, cfg.tls_verify ? 2L : 0L, "SSL_VERIFYHOST");
        if (!cfg.ca_file.empty()) opt(CURLOPT_CAINFO, cfg.ca_file.c_str(), "CAINFO (ca_file)");
        if (!cfg.ca_path.empty()) opt(CURLOPT_CAPATH, cfg.ca_path.c_str(), "CAPATH (ca_path)");
        if (!cfg.tls_pin_sha256.empty())
            opt(CURLOPT_PINNEDPUBLICKEY, cfg.tls_pin_sha256.c_str(),
                "PINNEDPUBLICKEY (tls_pin_sha256)");
        if (!cfg.client_cert.empty())
            opt(CURLOPT_SSLCERT, cfg.client_cert.c_str(), "SSLCERT (client_cert)");
        if (!cfg.client_key.empty()) opt(CURLOPT_SSLKEY, cfg.client_key.c_str(), "SSLKEY (client_key)");
        long v;
        if (cfg.tls_min_version == "1.0") v = CURL_SSLVERSION_TLSv1_0;
        else if (cfg.tls_min_version == "1.1") v = CURL_SSLVERSION_TLSv1_1;
        else if (cfg.tls_min_version == "1.2" || cfg.tls_min_version.empty()) v = CURL_SSLVERSION_TLSv1_2;
        else if (cfg.tls_min_version == "1.3") v = CURL_SSLVERSION_TLSv1_3;
        else return make_error("[smtp] tls_min_version \"" + cfg.tls_min_version +
                               "\": expected 1.0, 1.1, 1.2 or 1.3");
        opt(CURLOPT_SSLVERSION, v, "SSLVERSION (tls_min_version)");
    }

    const Credentials &c = rs.creds;
    if (c.wanted()) {
        opt(CURLOPT_USERNAME, c.username.c_str(), "USERNAME");
        if (!c.password.empty()) opt(CURLOPT_PASSWORD, c.password.c_str(), "PASSWORD");
        if (!c.bearer.empty()) opt(CURLOPT_XOAUTH2_BEARER, c.bearer.c_str(), "XOAUTH2_BEARER");
        opt(CURLOPT_SASL_IR, 1L, "SASL_IR");  // saves a round trip
        std::string login;
        for (auto &m : cfg.auth_mechanisms) {
            std::string up;
            for (char ch : m) up += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            bool known = false;
            for (auto *k : known_mechanisms) known = known || up == k;
            if (!known) return make_error("[smtp] auth_mechanisms: unknown mechanism \"" + m + "\"");
            login += (login.empty() ? "AUTH=" : ";AUTH=") + up;
        }
        if (!login.empty()) opt(CURLOPT_LOGIN_OPTIONS, login.c_str(), "LOGIN_OPTIONS");
    }
    if (!option_error.empty()) {
        easy.reset();
        return make_error(option_error);
    }
    return {};
}

// The connection phases, all libcurl's: connect, TLS, greeting, EHLO, AUTH.
CURLcode Client::Impl::open(RelayState &rs) {
    errbuf[0] = '\0';
    CURLcode rc = api->easy_perform(easy.get());
    if (rc != CURLE_OK) return rc;
    long port = 0;
    char *ip = nullptr;
    api->easy_getinfo(easy.get(), CURLINFO_PRIMARY_IP, &ip);
    api->easy_getinfo(easy.get(), CURLINFO_PRIMARY_PORT, &port);
    conn_peer = Peer{rs.relay.host, ip && *ip ? ip : transcript.tried_ip(),
                     port ? static_cast<unsigned>(port) : rs.relay.port};
    caps = Capabilities::parse(transcript.capabilities());
    wire = std::make_unique<Wire>(*api, easy.get(), transcript);
    connected = true;
    need_rset = false;
    on_conn = 0;
    ++conns;
    if (rs.creds.wanted() && !transcript.auth_sent())
        log::warning(conn_peer.name() + " offered no AUTH mechanism relay can use; mail is "
                     "sent without authentication");
    return CURLE_OK;
}

void Client::Impl::perform(int index, const Job &job, const std::vector<size_t> &sent,
                           Delivery &d, bool &fallback, std::string &reason,
                           bool &config_failure) {
    RelayState &rs = relays[static_cast<size_t>(index)];
    fallback = false;
    ++msgs;
    if (connected && (conn_relay != index || on_conn >= cfg.max_messages_per_connection))
        drop(true);
    if (connected && wire->stale()) drop(false);  // the server timed it out (421) or hung up

    std::vector<Reply> rr;
    TxResult tx;
    CURLcode rc = CURLE_OK;
    Phase phase = Phase::Connect;
    Reply reply;
    long os_errno = 0;
    for (int attempt = 0;; ++attempt) {
        transcript.begin_message();
        bool fresh = !connected;
        if (fresh) {
            if (auto r = configure(index); !r) {
                rs.dead = true;
                rs.dead_config = true;
                rs.dead_reason = r.error().message;
                log::error(rs.relay.label() + ": " + r.error().message);
                reason = rs.dead_reason;
                config_failure = true;
                fallback = true;
                return;
            }
            rc = open(rs);
            if (rc != CURLE_OK) break;
            conn_relay = index;
        }
        rr.clear();
        tx = transaction(job, sent, rr, d);
        rc = tx.rc;
        // A reused connection that died unnoticed before the server said
        // anything: the message was not started; send it on a new one.
        bool lost = rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR;
        if (!fresh && attempt == 0 && lost && !tx.answered) {
            drop(false);
            continue;
        }
        phase = tx.phase;
        reply = tx.reply;
        os_errno = tx.os_errno;
        ++on_conn;
        break;
    }

    Peer peer = conn_peer;
    if (!connected) {
        // The connection phases failed: what libcurl saw is in the transcript.
        long port = 0;
        char *ip = nullptr;
        curl_off_t connect_us = 0;
        api->easy_getinfo(easy.get(), CURLINFO_PRIMARY_IP, &ip);
        api->easy_getinfo(easy.get(), CURLINFO_PRIMARY_PORT, &port);
        api->easy_getinfo(easy.get(), CURLINFO_CONNECT_TIME_T, &connect_us);
        api->easy_getinfo(easy.get(), CURLINFO_OS_ERRNO, &os_errno);
        peer = Peer{rs.relay.host, ip && *ip ? ip : transcript.tried_ip(),
                    port ? static_cast<unsigned>(port) : rs.relay.port};
        bool reached = transcript.greeted() || !transcript.last_reply().empty() || connect_us > 0;
        if (reached) d.relay = peer.label();
        phase = transcript.phase();
        reply = transcript.phase_reply();
        Phase forced = phase;
        if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) forced = Phase::Connect;
        else if (rc == CURLE_USE_SSL_FAILED || rc == CURLE_PEER_FAILED_VERIFICATION ||
                 rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
                 rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM)
            forced = Phase::Tls;
        else if (rc == CURLE_LOGIN_DENIED) forced = Phase::Auth;
        else if (phase == Phase::Connect && reached)
            forced = cfg.tls == config::TlsMode::Smtps ? Phase::Tls : Phase::Greeting;
        else if (phase >= Phase::Mail && phase != Phase::Local)
            forced = Phase::Helo;  // libcurl stops after AUTH: nothing later was said
        if (forced != phase) reply = {};
        phase = forced;
        easy.reset();
    } else {
        d.relay = peer.label();
    }

    if (log::verbose()) {
        for (auto &l : transcript.redacted())
            log::debug(job.id + ": " + peer.name() + " " + l);
    }

    // Recipient replies, in the order the RCPT TO commands went out.
    std::vector<bool> decided(job.recipients.size(), false);
    for (size_t k = 0; k < rr.size() && k < sent.size(); ++k) {
        Decision dec = decide(Observation{Phase::Rcpt, CURLE_OK, rr[k].code, rr[k].enhanced});
        if (dec.scope == Scope::Connection) {
            rs.dead = true;
            rs.dead_reason = server_said(peer, rr[k], Phase::Rcpt);
        }
        if (dec.outcome == Outcome::Delivered) continue;
        size_t idx = sent[k];
        d.rcpts[idx] = {dec.outcome, server_said(peer, rr[k], Phase::Rcpt)};
        decided[idx] = true;
    }

    if (connected && rc == CURLE_OK) {
        if (d.reply.empty()) d.reply = "250 Ok";
        for (size_t idx : sent)
            if (!decided[idx]) d.rcpts[idx] = {Outcome::Delivered, d.reply};
        return;
    }

    // The delivery failed: ask the policy what the phase and reply mean.
    Decision dec = decide(Observation{phase, rc, reply.code, reply.enhanced});
    Failure f{peer, phase, rc, reply, connected ? std::string() : std::string(errbuf),
              static_cast<int>(os_errno), tx.read_errno, tx.body_started || phase == Phase::Dot};
    reason = describe_failure(f);
    config_failure = dec.config_failure;
    if (dec.config_failure) d.config_failure = true;
    // A refused access token may have been revoked early: ask for a new one next time.
    if (phase == Phase::Auth && !cfg.oauth2_token_endpoint.empty()) oauth2_forget_token(full);
    if (dec.scope == Scope::Connection) {
        rs.dead = true;
        rs.dead_config = dec.config_failure;
        rs.dead_reason = reason;
        if (connected) drop(false);
        // Nothing was decided for this message yet: the next relay may take it.
        bool started = phase >= Phase::Mail && phase != Phase::Local;
        bool any = false;
        for (bool b : decided) any = any || b;
        if (!started && !any) {
            fallback = true;
            return;
        }
    } else if (connected && (phase == Phase::Dot || phase == Phase::Local) && rc != CURLE_WEIRD_SERVER_REPLY) {
        drop(false);  // the data phase cannot be resumed
    }
    Outcome o = dec.outcome == Outcome::Delivered ? Outcome::Deferred : dec.outcome;
    for (size_t idx : sent)
        if (!decided[idx]) d.rcpts[idx] = {o, reason};
    d.reply = reason;
}

Delivery Client::Impl::send(const Job &job) {
    Delivery d;
    d.rcpts.resize(job.recipients.size());
    auto all = [&](Outcome o, const std::string &why) {
        for (auto &r : d.rcpts) r = {o, why};
        d.reply = why;
    };
    if (!setup_error.empty()) {
        all(Outcome::Deferred, setup_error);
        d.config_failure = true;
        return d;
    }
    // Addresses that would break the command line never go out; the
    // synthesized replies go through the policy like a server's would.
    if (!safe_address(job.sender)) {
        Reply r{501, "501 5.1.7 Bad sender address syntax", "5.1.7"};
        Decision dec = decide(Observation{Phase::Mail, CURLE_OK, r.code, r.enhanced});
        all(dec.outcome, r.text);
        return d;
    }
    std::vector<size_t> sent;
    for (size_t i = 0; i < job.recipients.size(); ++i) {
        if (safe_address(job.recipients[i]) && !job.recipients[i].empty()) {
            sent.push_back(i);
            continue;
        }
        Reply r{501, "501 5.1.3 Bad recipient address syntax", "5.1.3"};
        Decision dec = decide(Observation{Phase::Rcpt, CURLE_OK, r.code, r.enhanced});
        d.rcpts[i] = {dec.outcome, r.text};
    }
    if (sent.empty()) return d;

    std::string last_reason;
    bool any_config = false;
    for (size_t i = 0; i < relays.size(); ++i) {
        RelayState &rs = relays[i];
        if (rs.dead) {
            last_reason = rs.dead_reason;
            any_config = any_config || rs.dead_config;
            continue;
        }
        bool fallback = false, config = false;
        std::string reason;
        perform(static_cast<int>(i), job, sent, d, fallback, reason, config);
        if (!fallback) return d;
        last_reason = reason;
        any_config = any_config || config;
        if (i + 1 < relays.size()) log::info(job.id + ": " + reason + "; trying the next relayhost");
    }
    for (size_t idx : sent) d.rcpts[idx] = {Outcome::Deferred, last_reason};
    d.reply = last_reason;
    d.config_failure = d.config_failure || any_config;
    return d;
}

Client::Client(const config::Config &cfg) : Client(cfg, Route{cfg.smtp.relayhost, "", false}) {}

Client::Client(const config::Config &cfg, const Route &route) : impl_(std::make_unique<Impl>()) {
    Impl &m = *impl_;
    m.full = cfg;
    m.cfg = cfg.smtp;
    m.sasl_key = route.sasl_key;
    m.resolve = route.resolve;
    m.helo_name = cfg.smtp.helo_name.empty() ? cfg.myhostname : cfg.smtp.helo_name;
    if (m.helo_name.empty()) m.helo_name = "localhost";
    if (route.relayhost.empty()) {
        m.setup_error = "no relayhost";
        return;
    }
    auto relays = parse_relayhosts(route.relayhost, cfg.smtp.tls);
    if (!relays) {
        m.setup_error = relays.error().message;
        return;
    }
    for (auto &r : *relays) m.relays.push_back(RelayState{std::move(r)});
    auto api = load_curl();
    if (!api) {
        m.setup_error = api.error().message;
        log::error(m.setup_error);
        return;
    }
    m.api = *api;
    if (m.cfg.tls != config::TlsMode::None && !m.api->has_ssl)
        m.setup_error = std::string("libcurl ") + m.api->version + " has no TLS support";
}

Client::~Client() = default;

Delivery Client::send(const Job &job) { return impl_->send(job); }

void Client::close() { impl_->drop(true); }

unsigned Client::connections_opened() const { return impl_->conns; }
unsigned Client::messages_sent() const { return impl_->msgs; }

}  // namespace relay::smtp
