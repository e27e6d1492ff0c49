// config.hpp - the one validated configuration, with every default in one place.
//
// relay.toml uses the names a Postfix admin knows (myhostname, myorigin,
// relayhost, virtual_alias_maps, ...), grouped in a few sections:
//
//   myhostname / mydomain / myorigin / relayhost    top level
//   [queue]    spool directory, size limits, free-space reserve, retries
//   [rewrite]  address rewriting (canonical, virtual, aliases, masquerading)
//   [smtp]     delivery to the smarthost: TLS, AUTH, timeouts, connections
//
// load() rejects what it does not understand: a syntax error, an unknown
// key, a value of the wrong type or out of range. Each message names the
// file, the line and the key ("relay.toml:12: [smtp] tls: expected one of
// starttls, smtps, none"). A missing file is not an error: the defaults
// describe a working null client once relayhost is set.
//
// Secrets are never here: the file is world-readable; it names a
// password_file or a command instead.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace relay::config {

using Seconds = std::chrono::seconds;

enum class TlsMode { StartTls, Smtps, None };

struct QueueConfig {
    std::string directory;                 // spool root; default build::spool_dir
    uint64_t message_size_limit = 10 * 1024 * 1024;
    uint64_t min_free_bytes = 64ull * 1024 * 1024;  // refuse new mail below this
    uint64_t min_free_inodes = 1000;
    Seconds maximal_queue_lifetime{5 * 24 * 3600};
    Seconds bounce_queue_lifetime{5 * 24 * 3600};
    Seconds minimal_backoff_time{300};
    Seconds maximal_backoff_time{4000};
    Seconds delay_warning_time{0};         // 0 = no delay warnings
    bool flush_after_submit = true;        // start a flush at once after enqueue (when allowed)
};

struct RewriteConfig {
    bool append_at_myorigin = true;
    bool append_dot_mydomain = false;
    std::string recipient_delimiter;       // e.g. "+"; empty = none
    std::vector<std::string> canonical_maps;
    std::vector<std::string> sender_canonical_maps;
    std::vector<std::string> recipient_canonical_maps;
    std::vector<std::string> canonical_classes{"envelope_sender", "envelope_recipient",
                                               "header_sender", "header_recipient"};
    std::vector<std::string> masquerade_domains;
    std::vector<std::string> masquerade_exceptions;
    std::vector<std::string> masquerade_classes{"envelope_sender", "header_sender",
                                                "header_recipient"};
    std::vector<std::string> virtual_alias_maps;
    std::vector<std::string> alias_maps{"hash:/etc/aliases"};
    std::vector<std::string> smtp_generic_maps;
    std::string force_from;                // empty = off; envelope sender and From: become this
    // Domains treated as local besides $myhostname, localhost and
    // localhost.$mydomain (Postfix's mydestination): aliases apply to them,
    // and canonical/virtual "user" keys match them.
    std::vector<std::string> local_domains;
    std::vector<std::string> propagate_unmatched_extensions{"canonical", "virtual"};
    unsigned virtual_alias_recursion_limit = 1000;
    unsigned virtual_alias_expansion_limit = 1000;
};

struct SmtpConfig {
    std::vector<std::string> relayhost;    // [host]:port, tried in order
    TlsMode tls = TlsMode::StartTls;
    bool tls_verify = true;
    std::string ca_file;
    std::string ca_path;
    std::string tls_pin_sha256;            // curl pinnedpubkey form "sha256//BASE64"
    std::string client_cert;
    std::string client_key;
    std::string tls_min_version = "1.2";
    bool allow_plaintext_auth = false;     // AUTH without TLS needs this too
    std::string username;
    std::string password_file;
    std::string password_command;
    std::string sasl_password_maps;        // Postfix smtp_sasl_password_maps
    std::vector<std::string> auth_mechanisms;  // empty = what the server offers
    std::string oauth2_token_command;
    std::string oauth2_token_endpoint;
    std::string oauth2_client_id;
    std::string oauth2_client_secret_file;
    std::string oauth2_refresh_token_file;
    std::string oauth2_ca_file;            // CA bundle for the token endpoint; default: system
    std::string oauth2_scope;              // optional "scope" for the token request
    std::string sender_dependent_relayhost_maps;  // sender -> relayhost (route.hpp)
    bool sender_dependent_authentication = false; // sasl_password_maps by sender first
    std::string notify_recipient;          // admin notices of configuration failures; "" = off
    Seconds connect_timeout{30};
    Seconds command_timeout{300};
    Seconds data_timeout{600};
    unsigned max_messages_per_connection = 100;
    unsigned max_connections = 2;
    std::string helo_name;                 // default: myhostname
};

struct Config {
    std::string source;                    // file it came from ("" = defaults only)
    std::string myhostname;                // default: the host's FQDN
    std::string mydomain;                  // default: myhostname minus its first label
    std::string myorigin;                  // default: /etc/mailname, else myhostname
    QueueConfig queue;
    RewriteConfig rewrite;
    SmtpConfig smtp;
};

// Loads and validates PATH. A missing file gives the defaults (with
// source == ""), unless must_exist. Errors are "FILE:LINE: message".
Result<Config> load(const std::string &path, bool must_exist = false);

// Parses TOML text (for tests and `relay check`); NAME is used in messages.
Result<Config> parse(std::string_view text, const std::string &name);

// Fills the derived defaults (host names, origin, spool) into CFG.
void finish_defaults(Config &cfg);

}  // namespace relay::config
