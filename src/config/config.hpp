// config.hpp - the one validated configuration, with every default in one place.
//
// relay.toml uses the names a Postfix admin knows (myhostname, myorigin,
// relayhost, virtual_alias_maps, ...), grouped in a few sections:
//
//   myhostname / mydomain / myorigin / relayhost    top level
//   [queue]    spool directory, size limits, free-space reserve, retries
//   [rewrite]  address rewriting (canonical, virtual, aliases, masquerading)
//   [smtp]     delivery to the smarthost: TLS, AUTH, timeouts, connections
//   [server]   the SMTP server (relay serve): listeners, TLS, AUTH, relay
//              policy, hosted domains. Parsed in every build, so a file
//              stays valid; only a build with RELAY_WITH_SERVER uses it.
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

// Opportunistic is never configured as [smtp] tls: it is what direct
// delivery uses for direct_tls = "may" (STARTTLS when offered).
enum class TlsMode { StartTls, Smtps, None, Opportunistic };

// TLS towards MX hosts (direct delivery), as Postfix's smtp_tls_security_level:
// may = STARTTLS when offered, unverified; encrypt = STARTTLS required,
// unverified; verify = required, certificate and MX host name verified.
enum class DirectTls { None, May, Encrypt, Verify };

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
    // Direct delivery (mx.hpp): mail no relayhost applies to goes to the
    // recipient domains' MX hosts instead of staying queued.
    bool direct_delivery = false;
    DirectTls direct_tls = DirectTls::May;
    unsigned direct_port = 25;             // port on the MX hosts
    std::string direct_dns_server;         // "IPv4:port"; "" = /etc/resolv.conf
};

enum class ListenerKind { Smtp, Submission, Smtps, Local };

// One "KIND HOST:PORT" entry of [server] listen ("submission [::]:587").
struct ListenerSpec {
    ListenerKind kind = ListenerKind::Smtp;
    std::string host;                      // numeric address; "" = any (IPv6 and IPv4)
    uint16_t port = 25;
    std::string text;                      // as written, for messages
};

enum class BareNewline { Normalize, Reject };

struct ServerConfig {
    std::vector<ListenerSpec> listen;      // default: smtp [::]:25 and local 127.0.0.1
    std::string tls_cert_file;             // PEM chain; empty = no TLS
    std::string tls_key_file;
    std::string tls_min_version = "1.2";
    std::string users_file = "/etc/relay/users";  // user:argon2id hash, mode 0600
    std::vector<std::string> mynetworks{"127.0.0.0/8", "[::1]/128"};
    std::vector<std::string> virtual_mailbox_domains;  // names or TYPE:NAME tables
    std::vector<std::string> virtual_mailbox_maps;     // address -> maildir (relative to base)
    std::vector<std::string> virtual_alias_maps;       // hosted-domain aliases
    std::vector<std::string> sender_login_maps;        // address -> owning login(s)
    std::string virtual_mailbox_base;
    unsigned virtual_uid = 0;              // 0 = the server's own (only used as root)
    unsigned virtual_gid = 0;
    std::string user;                      // drop to this user after binding (as root)
    Seconds greet_pause{1};                // pre-greeting check on smtp listeners; 0 = off
    bool peername_lookup = true;           // client host names by forward-confirmed reverse DNS
    Seconds timeout{300};                  // per read, command phase
    Seconds data_timeout{600};             // per read, DATA phase
    Seconds error_sleep_time{1};           // tarpit delay per error past soft_error_limit
    unsigned soft_error_limit = 10;
    unsigned hard_error_limit = 20;
    unsigned recipient_limit = 1000;
    unsigned max_connections = 100;
    unsigned client_connection_limit = 20;
    unsigned auth_failure_limit = 5;       // per client address within auth_failure_window
    Seconds auth_failure_window{600};
    unsigned hopcount_limit = 50;
    BareNewline forbid_bare_newline = BareNewline::Normalize;
};

// Parses a listen entry; std::nullopt and a reason in WHY when it is bad.
std::optional<ListenerSpec> parse_listener(std::string_view text, std::string &why);

struct Config {
    std::string source;                    // file it came from ("" = defaults only)
    std::string myhostname;                // default: the host's FQDN
    std::string mydomain;                  // default: myhostname minus its first label
    std::string myorigin;                  // default: /etc/mailname, else myhostname
    QueueConfig queue;
    RewriteConfig rewrite;
    SmtpConfig smtp;
    ServerConfig server;
};

// Loads and validates PATH. A missing file gives the defaults (with
// source == ""), unless must_exist. Errors are "FILE:LINE: message".
Result<Config> load(const std::string &path, bool must_exist = false);

// Parses TOML text (for tests and `relay check`); NAME is used in messages.
Result<Config> parse(std::string_view text, const std::string &name);

// Fills the derived defaults (host names, origin, spool) into CFG.
void finish_defaults(Config &cfg);

}  // namespace relay::config
