#include "smtp/client.hpp"

#include <cstring>
#include <mutex>

#include "log/log.hpp"
#include "smtp/credentials.hpp"
#include "smtp/curl_api.hpp"
#include "smtp/message_reader.hpp"
#include "smtp/oauth2.hpp"
#include "smtp/reason.hpp"
#include "smtp/relayhost.hpp"
#include "smtp/transcript.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace relay::smtp {
namespace {

struct RelayState {
    Relay relay;
    bool creds_loaded = false;
    Credentials creds;
    bool dead = false;          // unusable for the rest of this run
    bool dead_config = false;
    std::string dead_reason;
};

// Credential sources may run commands and write the OAuth2 token cache:
// one thread at a time.
std::mutex credentials_lock;

const char *const known_mechanisms[] = {"PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "XOAUTH2",
                                        "OAUTHBEARER", "EXTERNAL", "NTLM", "GSSAPI"};

bool valid_address(std::string_view a) {
    for (char c : a)
        if (c == '\r' || c == '\n' || c == '\0' || c == '<' || c == '>') return false;
    return true;
}

size_t on_debug(CURL *, curl_infotype type, char *data, size_t size, void *userp) {
    auto *t = static_cast<Transcript *>(userp);
    if (type == CURLINFO_HEADER_OUT) t->on_out(std::string_view(data, size));
    else if (type == CURLINFO_HEADER_IN) t->on_in(std::string_view(data, size));
    else if (type == CURLINFO_TEXT) t->on_text(std::string_view(data, size));
    return 0;
}

size_t on_read(char *buf, size_t size, size_t nitems, void *userp) {
    auto *r = static_cast<MessageReader *>(userp);
    long n = r->read(buf, size * nitems);
    return n < 0 ? CURL_READFUNC_ABORT : static_cast<size_t>(n);
}

size_t on_write(char *, size_t size, size_t nmemb, void *) { return size * nmemb; }

}  // namespace

struct Client::Impl {
    config::Config full;
    config::SmtpConfig cfg;
    std::string helo_name;
    std::vector<RelayState> relays;
    std::string sasl_key;     // sender-dependent password map key (route.hpp)
    std::vector<std::string> resolve;  // Route::resolve
    SlistPtr resolve_list;
    std::string setup_error;  // non-empty: nothing can be delivered
    const CurlApi *api = nullptr;
    EasyPtr easy;
    int configured_for = -1;
    Transcript transcript;
    char errbuf[CURL_ERROR_SIZE] = {};
    std::string option_error;
    unsigned conns = 0, msgs = 0, on_conn = 0;

    // Typed setopt wrappers: curl's varargs need the exact type.
    void opt(CURLoption o, long v, const char *name) { check(api->easy_setopt(easy.get(), o, v), name); }
    void opt(CURLoption o, const char *v, const char *name) {
        check(api->easy_setopt(easy.get(), o, v), name);
    }
    void opt_ptr(CURLoption o, void *v, const char *name) {
        check(api->easy_setopt(easy.get(), o, v), name);
    }
    template <typename Fn>
    void opt_fn(CURLoption o, Fn fn, const char *name) {
        check(api->easy_setopt(easy.get(), o, fn), name);
    }
    void check(CURLcode rc, const char *name) {
        if (rc != CURLE_OK && option_error.empty())
            option_error = std::string("libcurl ") + api->version + " rejects " + name + ": " +
                           api->easy_strerror(rc);
    }

    ~Impl() { easy.reset(); }  // QUIT goes through on_debug: transcript must still exist

    Result<void> configure(int index);
    Delivery send(const Job &job);
    void perform(RelayState &rs, const Job &job, const std::vector<size_t> &sent,
                 Delivery &d, bool &fallback, std::string &reason, bool &config_failure);
};

Result<void> Client::Impl::configure(int index) {
    if (configured_for == index) return {};
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
    if (!easy) {
        easy.reset(api->easy_init());
        if (!easy) return make_error("curl_easy_init failed");
    } else {
        api->easy_reset(easy.get());  // keeps the connection cache
    }
    configured_for = -1;
    option_error.clear();

    opt(CURLOPT_URL, rs.relay.url(cfg.tls, helo_name).c_str(), "URL");
    if (!resolve.empty()) {
        if (!resolve_list)
            for (auto &r : resolve)
                if (!slist_append(resolve_list, r.c_str())) throw std::bad_alloc();
        opt_ptr(CURLOPT_RESOLVE, resolve_list.get(), "RESOLVE");
    }
    opt(CURLOPT_PROTOCOLS_STR, "smtp,smtps", "PROTOCOLS_STR");
    opt(CURLOPT_NOSIGNAL, 1L, "NOSIGNAL");
    opt(CURLOPT_TCP_NODELAY, 1L, "TCP_NODELAY");
    opt(CURLOPT_CONNECTTIMEOUT, static_cast<long>(cfg.connect_timeout.count()), "CONNECTTIMEOUT");
    opt(CURLOPT_SERVER_RESPONSE_TIMEOUT, static_cast<long>(cfg.command_timeout.count()),
        "SERVER_RESPONSE_TIMEOUT");
    // A body upload that makes no progress at all for data_timeout fails.
    opt(CURLOPT_LOW_SPEED_LIMIT, 1L, "LOW_SPEED_LIMIT");
    opt(CURLOPT_LOW_SPEED_TIME, static_cast<long>(cfg.data_timeout.count()), "LOW_SPEED_TIME");
    opt(CURLOPT_UPLOAD, 1L, "UPLOAD");
    opt(CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L, "MAIL_RCPT_ALLLOWFAILS");
    opt_fn(CURLOPT_READFUNCTION, &on_read, "READFUNCTION");
    opt_fn(CURLOPT_WRITEFUNCTION, &on_write, "WRITEFUNCTION");
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
    if (!option_error.empty()) return make_error(option_error);
    configured_for = index;
    return {};
}

void Client::Impl::perform(RelayState &rs, const Job &job, const std::vector<size_t> &sent,
                           Delivery &d, bool &fallback, std::string &reason,
                           bool &config_failure) {
    fallback = false;
    SlistPtr rcpts;
    for (size_t idx : sent)
        if (!slist_append(rcpts, job.recipients[idx].c_str())) throw std::bad_alloc();
    MessageReader reader(job.message_fd, job.header_filter);
    bool last_on_conn = on_conn + 1 >= cfg.max_messages_per_connection;
    opt(CURLOPT_MAIL_FROM, job.sender.c_str(), "MAIL_FROM");
    opt_ptr(CURLOPT_MAIL_RCPT, rcpts.get(), "MAIL_RCPT");
    opt_ptr(CURLOPT_READDATA, &reader, "READDATA");
    opt(CURLOPT_FORBID_REUSE, last_on_conn ? 1L : 0L, "FORBID_REUSE");
    errbuf[0] = '\0';
    transcript.begin_message();
    CURLcode rc = api->easy_perform(easy.get());
    opt_ptr(CURLOPT_MAIL_RCPT, nullptr, "MAIL_RCPT");
    opt_ptr(CURLOPT_READDATA, nullptr, "READDATA");
    ++msgs;

    long nconn = 0, port = 0;
    char *ip = nullptr;
    curl_off_t connect_us = 0;
    api->easy_getinfo(easy.get(), CURLINFO_NUM_CONNECTS, &nconn);
    api->easy_getinfo(easy.get(), CURLINFO_PRIMARY_IP, &ip);
    api->easy_getinfo(easy.get(), CURLINFO_PRIMARY_PORT, &port);
    api->easy_getinfo(easy.get(), CURLINFO_CONNECT_TIME_T, &connect_us);
    long os_errno = 0;
    api->easy_getinfo(easy.get(), CURLINFO_OS_ERRNO, &os_errno);
    if (nconn > 0) {
        ++conns;
        on_conn = 0;
    }
    ++on_conn;
    if (last_on_conn || rc != CURLE_OK) on_conn = 0;  // curl closed it
    d.folded = d.folded || reader.folded();
    if (reader.header_unfiltered())
        log::warning(job.id + ": header section larger than " +
                     std::to_string(MessageReader::max_header_section) +
                     " octets: smtp_generic_maps not applied to it");

    Peer peer{rs.relay.host, ip && *ip ? ip : transcript.tried_ip(),
              port ? static_cast<unsigned>(port) : rs.relay.port};
    bool connected = transcript.greeted() || !transcript.last_reply().empty() || connect_us > 0;
    if (connected) d.relay = peer.label();

    if (log::verbose()) {
        for (auto &l : transcript.redacted())
            log::debug(job.id + ": " + peer.name() + " " + l);
    }
    if (transcript.greeted() && rs.creds.wanted() && !transcript.auth_sent() && rc == CURLE_OK)
        log::warning(peer.name() + " offered no AUTH mechanism relay can use; mail was sent "
                     "without authentication");

    // Recipient replies, in the order the RCPT TO commands went out.
    const auto &rr = transcript.rcpt_replies();
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

    if (rc == CURLE_OK) {
        const Reply &dot = transcript.dot_reply();
        d.reply = dot.empty() ? "250 Ok" : dot.text;
        for (size_t idx : sent)
            if (!decided[idx]) d.rcpts[idx] = {Outcome::Delivered, d.reply};
        return;
    }

    // The transfer failed: find the phase and ask the policy.
    Phase phase = transcript.phase();
    Reply reply = transcript.phase_reply();
    Phase forced = phase;
    if (reader.error()) forced = Phase::Local;
    else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) forced = Phase::Connect;
    else if (rc == CURLE_USE_SSL_FAILED || rc == CURLE_PEER_FAILED_VERIFICATION ||
             rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
             rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM)
        forced = Phase::Tls;
    else if (rc == CURLE_LOGIN_DENIED) forced = Phase::Auth;
    else if (phase == Phase::Connect && connected)
        forced = cfg.tls == config::TlsMode::Smtps ? Phase::Tls : Phase::Greeting;
    if (forced != phase) reply = {};
    Decision dec = decide(Observation{forced, rc, reply.code, reply.enhanced});

    Failure f{peer, forced, rc, reply, errbuf, static_cast<int>(os_errno), reader.error(),
              reader.bytes_in() > 0 || forced == Phase::Dot};
    reason = describe_failure(f);
    config_failure = dec.config_failure;
    if (dec.config_failure) d.config_failure = true;
    // A refused access token may have been revoked early: ask for a new one next time.
    if (forced == Phase::Auth && !cfg.oauth2_token_endpoint.empty()) oauth2_forget_token(full);
    if (dec.scope == Scope::Connection) {
        rs.dead = true;
        rs.dead_config = dec.config_failure;
        rs.dead_reason = reason;
        // Nothing was decided for this message yet: the next relay may take it.
        bool started = forced >= Phase::Mail && forced != Phase::Local;
        bool any = false;
        for (bool b : decided) any = any || b;
        if (!started && !any) {
            fallback = true;
            return;
        }
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
    if (!valid_address(job.sender)) {
        Reply r{501, "501 5.1.7 Bad sender address syntax", "5.1.7"};
        Decision dec = decide(Observation{Phase::Mail, CURLE_OK, r.code, r.enhanced});
        all(dec.outcome, r.text);
        return d;
    }
    std::vector<size_t> sent;
    for (size_t i = 0; i < job.recipients.size(); ++i) {
        if (valid_address(job.recipients[i]) && !job.recipients[i].empty()) {
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
        if (auto r = configure(static_cast<int>(i)); !r) {
            rs.dead = true;
            rs.dead_config = true;
            rs.dead_reason = r.error().message;
            log::error(rs.relay.label() + ": " + r.error().message);
            last_reason = rs.dead_reason;
            any_config = true;
            continue;
        }
        bool fallback = false, config = false;
        std::string reason;
        perform(rs, job, sent, d, fallback, reason, config);
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

void Client::close() {
    impl_->easy.reset();  // curl_easy_cleanup sends QUIT on the cached connection
    impl_->configured_for = -1;
    impl_->on_conn = 0;
}

unsigned Client::connections_opened() const { return impl_->conns; }
unsigned Client::messages_sent() const { return impl_->msgs; }

}  // namespace relay::smtp
