// client_impl.hpp - Client's state, shared by client.cpp (connections,
// outcomes) and transaction.cpp (the mail transaction). Internal to
// src/smtp; see client.hpp for what a Client does.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "smtp/client.hpp"
#include "smtp/credentials.hpp"
#include "smtp/curl_api.hpp"
#include "smtp/esmtp.hpp"
#include "smtp/reason.hpp"
#include "smtp/relayhost.hpp"
#include "smtp/transcript.hpp"
#include "smtp/wire.hpp"
#include "util/result.hpp"

namespace relay::smtp {

// One relay of the Client's list, with what was learnt about it.
struct RelayState {
    Relay relay;
    bool creds_loaded = false;
    Credentials creds;
    bool dead = false;          // unusable for the rest of this run
    bool dead_config = false;
    std::string dead_reason;
};

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

}  // namespace relay::smtp
