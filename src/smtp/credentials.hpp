// credentials.hpp - the AUTH user name and secret for one relay.
//
// Sources, in order of precedence:
//
//   sasl_password_maps   a Postfix smtp_sasl_password_maps text file
//                        ("host user:password" or "[host]:port user:password"),
//                        looked up as Postfix does: first the relayhost as
//                        written ("[mail.example.net]:587"), then
//                        "[host]:port", then the bare host name. A "hash:",
//                        "btree:", "lmdb:", "cdb:" or "texthash:" prefix is
//                        accepted and the text file itself is read (the one
//                        postmap(1) compiles; relay never reads .db files).
//                        With [smtp] sender_dependent_authentication = true
//                        (Postfix smtp_sender_dependent_authentication) the
//                        envelope sender is looked up first: the full
//                        address, then @domain; the null sender never is.
//                        route.hpp finds the key, and mail from senders with
//                        different accounts never shares a connection.
//   password_file        the first line of a file, with username from the config.
//   password_command     the first line of a command's standard output. The
//                        command is the admin's configuration text, run with
//                        /bin/sh -c as msmtp's passwordeval is; it never sees
//                        envelope data (no address is ever part of it), its
//                        stdin is /dev/null, and it must finish in 30 s.
//   oauth2_token_command an OAuth2 access token for XOAUTH2 (same rules).
//
// Guarantees: a secret file must be a regular file owned by the running
// user (or root) with no group or other permission bits (0600 or
// stricter); anything else is refused with a message saying what to chmod.
// Secrets live in Secret objects that are wiped (sodium_memzero) when they
// go away, and never appear in a message this module returns. (libcurl
// keeps its own copy of what it is given, freed but not wiped.)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "smtp/relayhost.hpp"
#include "util/result.hpp"

namespace relay::smtp {

// A string that is wiped when destroyed or reassigned; move-only.
class Secret {
public:
    Secret() = default;
    explicit Secret(std::string s) : s_(std::move(s)) {}
    Secret(const Secret &) = delete;
    Secret &operator=(const Secret &) = delete;
    Secret(Secret &&o) noexcept;
    Secret &operator=(Secret &&o) noexcept;
    ~Secret() { wipe(); }

    const std::string &str() const { return s_; }
    const char *c_str() const { return s_.c_str(); }
    bool empty() const { return s_.empty(); }
    void wipe();

private:
    std::string s_;
};

struct Credentials {
    std::string username;  // empty = no AUTH
    Secret password;
    Secret bearer;         // XOAUTH2 access token

    bool wanted() const { return !username.empty(); }
};

// Gathers the credentials for RELAY from CFG. No credentials configured
// is not an error (an empty Credentials: no AUTH). SENDER_KEY, when not
// empty, is a sasl_password_maps key found for the sender (route.hpp): it
// wins over the relay's entries.
Result<Credentials> load_credentials(const config::SmtpConfig &cfg, const Relay &relay,
                                     std::string_view sender_key = {});

// The file sasl_password_maps names, without its "hash:" (etc.) prefix.
std::string sasl_password_path(const config::SmtpConfig &cfg);

// The sender keys of a sasl_password_maps lookup: "user@domain" and
// "@domain", lower case; none for the null sender.
std::vector<std::string> sender_sasl_keys(std::string_view sender);

// Looks up KEYS (lower case) in the text of a password map: the entry for
// the earliest key in KEYS wins. MATCHED, when given, gets that key.
bool lookup_sasl_keys(std::string_view text, const std::string &name,
                      const std::vector<std::string> &keys, std::string &user,
                      Secret &password, std::string *matched = nullptr);

// Reads a whole secret file after the ownership/mode checks; WHAT names
// the config key for messages ("password_file").
Result<Secret> read_secret_file(const std::string &path, std::string_view what);

// Runs COMMAND with /bin/sh -c and returns the first line of its output.
Result<Secret> run_secret_command(const std::string &command, std::string_view what);

// Looks RELAY up in the text of a Postfix password map; NAME is the file
// name for warnings about bad lines. Returns false when there is no entry.
bool lookup_sasl_password(std::string_view text, const std::string &name, const Relay &relay,
                          std::string &user, Secret &password);

// The first line of S, without its line end.
std::string_view first_line(std::string_view s);

}  // namespace relay::smtp
