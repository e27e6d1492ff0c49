#include "smtp/client.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "log/log.hpp"
#include "smtp/credentials.hpp"
#include "smtp/curl_api.hpp"
#include "smtp/esmtp.hpp"
#include "smtp/idna.hpp"
#include "smtp/message_reader.hpp"
#include "smtp/oauth2.hpp"
#include "smtp/reason.hpp"
#include "smtp/relayhost.hpp"
#include "smtp/transcript.hpp"
#include "smtp/wire.hpp"
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

size_t on_debug(CURL *, curl_infotype type, char *data, size_t size, void *userp) {
    auto *t = static_cast<Transcript *>(userp);
    if (type == CURLINFO_HEADER_OUT) t->on_out(std::string_view(data, size));
    else if (type == CURLINFO_HEADER_IN) t->on_in(std::string_view(data, size));
    else if (type == CURLINFO_TEXT) t->on_text(std::string_view(data, size));
    return 0;
}


}  // namespace

// What a transaction came to, when it did not end in a 2xx after the dot.
struct TxResult {
    CURLcode rc = CURLE_OK;     // CURLE_OK: the message was accepted
    Phase phase = Phase::Mail;  // where it failed
    Reply reply;                // the failing reply, if the server sent one
    int os_errno = 0;
    int read_errno = 0;         // reading the queue file failed
    bool body_started = false;
    bool answered = false;      // the server replied to something in this transaction
};

// Commands in one pipelined group at most.
constexpr size_t kMaxGroup = 100;

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
    Transcript transcript;
    char errbuf[CURL_ERROR_SIZE] = {};
    std::string option_error;
    unsigned conns = 0, msgs = 0, on_conn = 0;

    // The open connection, if any.
    bool connected = false;
    int conn_relay = -1;
    Peer conn_peer;
    Capabilities caps;
    std::unique_ptr<Wire> wire;
    bool need_rset = false;  // the last transaction was left unfinished

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

    ~Impl() { drop(true); }  // QUIT goes through on_debug: transcript must still exist

    Result<void> configure(int index);
    void drop(bool polite);
    Delivery send(const Job &job);
    void perform(int index, const Job &job, const std::vector<size_t> &sent, Delivery &d,
                 bool &fallback, std::string &reason, bool &config_failure);
    CURLcode open(RelayState &rs);
    TxResult transaction(const Job &job, const std::vector<size_t> &sent,
                         std::vector<Reply> &rcpt_replies, Delivery &d);
    CURLcode send_body(const Job &job, TxResult &tx, bool &folded);
};

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

// The message as DATA: streamed from the queue file, dot-stuffed, in
// writes of about 64 KiB, then the final dot.
CURLcode Client::Impl::send_body(const Job &job, TxResult &tx, bool &folded) {
    MessageReader reader(job.message_fd, job.header_filter);
    DotStuffer stuffer;
    std::string chunk;
    char buf[64 * 1024];
    CURLcode rc = CURLE_OK;
    for (;;) {
        long n = reader.read(buf, sizeof buf);
        if (n < 0) {
            tx.read_errno = reader.error();
            rc = CURLE_READ_ERROR;
            break;
        }
        tx.body_started = tx.body_started || n > 0;
        if (n == 0) break;
        chunk.clear();
        stuffer.put(std::string_view(buf, static_cast<size_t>(n)), chunk);
        wire->data(chunk);
        if (wire->queued() >= sizeof buf)
            if ((rc = wire->flush(cfg.data_timeout)) != CURLE_OK) break;
    }
    folded = reader.folded();
    if (reader.header_unfiltered())
        log::warning(job.id + ": header section larger than " +
                     std::to_string(MessageReader::max_header_section) +
                     " octets: smtp_generic_maps not applied to it");
    if (rc != CURLE_OK) return rc;
    chunk.clear();
    stuffer.finish(chunk);
    wire->data(chunk);
    transcript.note_out("(message, " + std::to_string(reader.bytes_in()) + " octets)");
    transcript.note_out(".");
    return wire->flush(cfg.data_timeout);
}

// One mail transaction on the open connection. RCPT_REPLIES gets the
// reply to each RCPT TO (in the order of SENT) once MAIL FROM was accepted.
//
// With PIPELINING (RFC 2920) MAIL FROM, every RCPT TO and DATA go out in
// one write and the replies are read afterwards, in order; without it,
// each command waits for its reply. An unfinished transaction (MAIL
// refused, no recipient accepted, DATA refused) is reset with RSET before
// the next one.
TxResult Client::Impl::transaction(const Job &job, const std::vector<size_t> &sent,
                                   std::vector<Reply> &rcpt_replies, Delivery &d) {
    TxResult tx;
    auto fail = [&](CURLcode rc, Phase p, Reply r = {}) {
        tx.rc = rc;
        tx.phase = p;
        tx.reply = std::move(r);
        if (rc != CURLE_WEIRD_SERVER_REPLY || tx.reply.empty()) tx.os_errno = wire->os_errno();
        return tx;
    };
    const auto cmd_timeout = cfg.command_timeout;

    if (need_rset) {
        wire->command("RSET");
        Reply r;
        CURLcode rc = wire->flush(cmd_timeout);
        if (rc == CURLE_OK) rc = wire->read_reply(r, cmd_timeout);
        // A connection that cannot even be reset is given up for a new
        // one (perform() retries once): nothing of this message was sent.
        if (rc != CURLE_OK || r.code / 100 != 2) return fail(CURLE_GOT_NOTHING, Phase::Mail);
        need_rset = false;
    }

    TxEnvelope env{job.sender, job.size, job.eight_bit, job.smtputf8, job.ret, job.envid};
    std::vector<std::string> rcpts;
    for (size_t idx : sent) rcpts.push_back(job.recipients[idx]);
    bool utf8 = wants_smtputf8(env, rcpts, caps);
    // Without SMTPUTF8 an address goes out with its domain as A-labels
    // (idna.hpp); one whose local part is not ASCII cannot go at all.
    // Postfix's wording.
    const Reply no_utf8{553,
                        "553 5.6.7 SMTPUTF8 is required, but was not offered by host " +
                            conn_peer.name(),
                        "5.6.7"};
    auto sendable = [&](std::string &addr) {
        if (caps.smtputf8 || is_ascii(addr)) return true;
        auto a = address_to_ascii(addr);
        if (!a) return false;
        addr = std::move(*a);
        return true;
    };
    if (!sendable(env.sender)) return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Mail, no_utf8);
    if (caps.size && caps.size_limit > 0 && job.size > caps.size_limit)
        return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Mail,
                    Reply{552,
                          "552 5.3.4 message size " + std::to_string(job.size) +
                              " exceeds size limit " + std::to_string(caps.size_limit) +
                              " of server " + conn_peer.name(),
                          "5.3.4"});

    struct Cmd {
        std::string line;
        Phase phase;
        Reply local;  // not sent: this is its answer
    };
    std::vector<Cmd> cmds;
    cmds.push_back({mail_command(env, caps, utf8), Phase::Mail, {}});
    for (size_t idx : sent) {
        std::string to = job.recipients[idx];
        if (!sendable(to)) {
            cmds.push_back({"", Phase::Rcpt, no_utf8});
            continue;
        }
        std::string_view notify = idx < job.notify.size() ? job.notify[idx] : std::string_view{};
        std::string_view orig = idx < job.orcpt.size() ? job.orcpt[idx] : std::string_view{};
        cmds.push_back({rcpt_command(to, notify, orig, caps), Phase::Rcpt, {}});
    }
    cmds.push_back({"DATA", Phase::Data, {}});

    Reply mail, data;
    size_t accepted = 0, flushed = 0;
    for (size_t i = 0; i < cmds.size(); ++i) {
        if (i == flushed) {
            // A group's replies must fit the socket buffers while relay is
            // still writing it (RFC 2920 section 4: no deadlock): at most
            // kMaxGroup commands, a few kilobytes of replies.
            size_t end = caps.pipelining ? std::min(cmds.size(), i + kMaxGroup) : i + 1;
            for (size_t k = i; k < end; ++k)
                if (cmds[k].local.empty()) wire->command(cmds[k].line);
            if (wire->queued() > 0)
                if (CURLcode rc = wire->flush(cmd_timeout); rc != CURLE_OK) return fail(rc, cmds[i].phase);
            flushed = end;
        }
        Reply r = cmds[i].local;
        if (r.empty()) {
            if (CURLcode rc = wire->read_reply(r, cmd_timeout); rc != CURLE_OK) return fail(rc, cmds[i].phase);
            tx.answered = true;
        }
        const bool ok = r.code / 100 == 2;
        switch (cmds[i].phase) {
        case Phase::Mail:
            mail = r;
            if (r.code == 421) return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Mail, r);
            break;
        case Phase::Rcpt:
            if (r.code == 421) return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Rcpt, r);
            if (mail.code / 100 == 2) rcpt_replies.push_back(r);
            if (ok) ++accepted;
            break;
        default:
            data = r;
            break;
        }
        if (caps.pipelining) continue;  // every reply must be read
        if (cmds[i].phase == Phase::Mail && !ok) break;
        if (cmds[i].phase == Phase::Rcpt && i + 2 == cmds.size() && accepted == 0) break;
    }
    const bool mail_ok = mail.code / 100 == 2;
    if (!mail_ok || accepted == 0) {
        need_rset = true;
        if (data.code == 354) {
            // RFC 2920 3.1: DATA was accepted though the transaction has no
            // recipient; end it with an empty message, which is refused.
            wire->data(".\r\n");
            Reply r;
            CURLcode rc = wire->flush(cmd_timeout);
            if (rc == CURLE_OK) rc = wire->read_reply(r, cfg.data_timeout);
            if (rc != CURLE_OK) return fail(rc, Phase::Dot);
        }
        if (!mail_ok) return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Mail, mail);
        return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Rcpt, rcpt_replies.back());
    }
    if (data.code != 354) {
        need_rset = true;
        if (data.code == 421 || data.code >= 400) return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Data, data);
        return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Data);  // a 2xx is no answer to DATA
    }

    bool folded = false;
    CURLcode rc = send_body(job, tx, folded);
    d.folded = d.folded || folded;
    if (rc == CURLE_READ_ERROR) {
        // The dot must never follow a message cut short: the connection goes.
        wire->cut();
        return fail(rc, Phase::Local);
    }
    if (rc != CURLE_OK) return fail(rc, Phase::Dot);
    // The server may check the message now (virus scan, spam filter):
    // its reply gets data_timeout, as Postfix's smtp_data_done_timeout.
    Reply dot;
    if ((rc = wire->read_reply(dot, cfg.data_timeout)) != CURLE_OK) return fail(rc, Phase::Dot);
    d.reply = dot.text;
    if (dot.code / 100 != 2) return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Dot, dot);
    return tx;
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
