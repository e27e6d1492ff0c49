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
//
// Decisions where callers and the RFC disagree:
//  - "root, set escape" (bsd-mailx run as "mail -E 'set escape' root", as
//    fail2ban does): Postfix's tokenizer would turn the phrase "set escape"
//    into a recipient of its own and the mail bounces to a bogus local
//    user. Here an element with two adjacent words and no '@' or '<...>' is
//    reported in errors and skipped; "root" is still returned.
//  - "<>" gives an address with an empty addr-spec (the null sender in
//    From: or Return-Path:); callers extracting recipients skip it, and
//    parse_recipient_argument() reports it.
//  - A missing '>' at the end of an element is forgiven; ';' outside a
//    group separates elements like ','; an element that is only a comment
//    or empty (obs-addr-list) is skipped silently.
//  - Unterminated quoted strings, comments or domain literals, control
//    characters and stray ')' ']' '>' make the element an error.
//  - 8-bit bytes count as atom text (display names and UTF-8 local parts).
//  - Work is linear in the input: no backtracking, no recursion.
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
// '<' '>' and unbalanced quotes; accepts "" (the null sender). "root@"
// gives has_at with an empty domain, and str() then gives "root" (Postfix
// drops the empty domain the same way before qualifying the address).
bool split_address(std::string_view text, Address &out);

// One address found in a header: its addr-spec as text, and the byte range
// [begin, end) of that addr-spec inside the parsed text.
struct AddressRef {
    std::string address;    // the addr-spec, comments and whitespace removed
    std::string display;    // display name (or comment name: "root (Cron Daemon)"), unquoted;
                            // encoded-words are left as written (rfc2047.hpp decodes them)
    size_t begin = 0;
    size_t end = 0;
};

struct ParsedList {
    std::vector<AddressRef> addresses;
    std::vector<std::string> errors;  // one per element that could not be parsed
};

// Parses an RFC 5322 address-list (a To:/Cc:/From: value, unfolded or not).
// Elements that do not parse are reported in errors and skipped; the others
// are still returned ("root, set escape" gives root and one error). Folded
// text (LF or CRLF followed by white space) is accepted; line breaks are
// white space and never end up in an address or display name.
ParsedList parse_address_list(std::string_view text);

// Rewrites every address in the header value TEXT with FN (which gets the
// addr-spec and returns its replacement), leaving everything else as is.
// Elements that do not parse are left untouched. A replacement holding
// CR, LF or NUL is refused: the original addr-spec stays.
std::string rewrite_address_list(std::string_view text,
                                 const std::function<std::string(const std::string &)> &fn);

// Parses a command-line recipient argument: a comma-separated list as cron
// passes MAILTO ("a@x,b@y"), each element possibly "Name <addr>". An
// argument holding CR, LF or NUL gives no address at all and one error;
// "<>" is reported, not returned.
ParsedList parse_recipient_argument(std::string_view arg);

}  // namespace relay::message
