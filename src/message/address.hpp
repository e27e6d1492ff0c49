// address.hpp - RFC 5321 envelope addresses and RFC 5322 address lists.
//
// Parsing is lenient in what real callers send (obsolete syntax, unquoted
// dots, bare local parts like "root", "Cron Daemon <root>", groups,
// comments, 8-bit display names) and strict in what it gives back: every
// address returned has no CR, LF, NUL, or unbalanced quoting.
//
// parse_address_list() also reports where each addr-spec stands in the
// header text, so that rewriting can replace just the address and keep
// display names, comments and group syntax exactly as written (Postfix
// cleanup's header rewriting behaves this way).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace relay::message {

// An addr-spec, split. local may be quoted-string syntax as written
// ("\"john doe\"@example.net" keeps its quotes in local).
struct Address {
    std::string local;
    std::string domain;  // empty for a bare local part ("root")
    bool has_at = false; // "root@" has_at with an empty domain
    std::string str() const;  // local@domain, or local when there is no domain
};

// Splits "local@domain" at the last '@' outside quotes. Rejects CR/LF/NUL,
// '<' '>' and unbalanced quotes; accepts "" (the null sender).
bool split_address(std::string_view text, Address &out);

// One address found in a header: its addr-spec as text, and the byte range
// [begin, end) of that addr-spec inside the parsed text.
struct AddressRef {
    std::string address;    // the addr-spec, comments and whitespace removed
    std::string display;    // display name (or comment name: "root (Cron Daemon)"), unquoted
    size_t begin = 0;
    size_t end = 0;
};

struct ParsedList {
    std::vector<AddressRef> addresses;
    std::vector<std::string> errors;  // one per element that could not be parsed
};

// Parses an RFC 5322 address-list (a To:/Cc:/From: value, unfolded or not).
// Elements that do not parse are reported in errors and skipped; the others
// are still returned ("root, set escape" gives root and one error).
ParsedList parse_address_list(std::string_view text);

// Rewrites every address in the header value TEXT with FN (which gets the
// addr-spec and returns its replacement), leaving everything else as is.
std::string rewrite_address_list(std::string_view text,
                                 const std::function<std::string(const std::string &)> &fn);

// Parses a command-line recipient argument: a comma-separated list as cron
// passes MAILTO ("a@x,b@y"), each element possibly "Name <addr>".
ParsedList parse_recipient_argument(std::string_view arg);

}  // namespace relay::message
