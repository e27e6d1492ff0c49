// sendmail_args.hpp - the sendmail(1) command line, as Postfix and Sendmail
// understand it.
//
// Callers pass every variant real programs use: flags clustered ("-ti"),
// values glued or separate ("-fbounce@x" / "-f bounce@x"), "-oi" and
// "-oi=true", "-oem", "-odi", "-B8BITMIME", "--" before recipients, and
// recipient arguments that are comma lists ("a@x,b@y", as cron passes
// MAILTO). parse_sendmail_args() turns argv into Options and never exits:
// a usage error is returned as a message, with the caller choosing
// EX_USAGE. Flags that change nothing for a null client are accepted and
// recorded in `ignored` so the caller can warn once, as Postfix does
// ("-o x value (ignored)").
//
// Values that end up in an envelope or a header (-f, -F, -r, -V, -N, -R and
// every recipient) are refused when they contain a control character: CR,
// LF and NUL would inject headers or envelope fields, and ESC and friends
// would reach an admin's terminal through mailq.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace relay::cli {

enum class Mode {
    Deliver,    // -bm (default): read a message from stdin and queue it
    ListQueue,  // -bp, mailq
    Aliases,    // -bi, -I, newaliases
    Smtp,       // -bs: SMTP on stdin/stdout
    Verify,     // -bv: show what rewriting does with the recipients
    Flush,      // -q, -qR..., -qf, relay --flush
    Version,    // relay --version
    Help,       // relay --help
    InitSpool,  // relay --init-spool
    Daemon,     // relay --daemon: flush on every trigger and when mail is due
};

struct Options {
    Mode mode = Mode::Deliver;
    bool extract_recipients = false;  // -t
    bool ignore_dots = false;         // -i, -oi
    std::optional<std::string> sender;  // -f / -r ("" or "<>" = null sender)
    std::optional<std::string> fullname;  // -F
    std::string body_type;            // -B: "7BIT" or "8BITMIME"
    std::string dsn_notify;           // -N: "NEVER" or "SUCCESS,FAILURE,DELAY" subset
    std::string dsn_ret;              // -R: "FULL" or "HDRS"
    std::string envid;                // -V
    std::string config_path;          // -C (ignored when set-gid)
    std::string queue_arg;            // what followed -q ("", "f", "R...", "1h")
    bool verbose = false;             // -v
    bool flush_now = false;           // --now, -qf: also send deferred mail not yet due
    bool json = false;                // --json (mailq)
    bool quiet = false;               // --quiet (background flush after submission)
    std::vector<std::string> recipients;  // comma lists split, each stripped
    std::vector<std::string> ignored;     // flags accepted and ignored, for one warning
};

struct ParseResult {
    Options options;
    std::string error;  // non-empty: a usage error ("unknown option -- z")
};

// ARGS excludes argv[0]. RELAY_NAME allows relay's own long options
// (--flush, --help, ...), which the sendmail name does not know.
ParseResult parse_sendmail_args(const std::vector<std::string> &args, bool relay_name);

// The text of `sendmail --help` / `relay --help`.
std::string sendmail_usage(const std::string &name);

}  // namespace relay::cli
