// protocol.hpp - the SMTP server's parsers: pure functions over bytes.
//
// Everything that looks at bytes from a remote client lives here, with no
// I/O, no clock and no configuration beyond its arguments, so that a
// libFuzzer target (tests/fuzz/server_parser_fuzz.cpp) and unit tests can
// drive it directly.
//
//   LineFramer   splits the input stream into lines and says how each one
//                ended: CRLF, a bare LF, or not at all (too long: the rest
//                up to the next LF is discarded).
//   parse_command()   "VERB arg" -> Verb (enum) and argument.
//   parse_path()      "FROM:<addr> P=V ..." (RFC 5321 4.1.2), with the
//                     ESMTP parameters split off.
//   DataReader   the DATA phase: dot-unstuffing, end-of-data detection,
//                size limit, bare CR / bare LF bookkeeping.
//
// SMTP smuggling (CVE-2023-51764). The end of DATA is recognised only as
// <CR><LF>.<CR><LF>: a "." line ended by a bare LF, or following a line
// that ended in a bare LF, is message content. Lines ended by a bare LF
// are otherwise read as if they ended in CRLF (Postfix 3.9
// smtpd_forbid_bare_newline = normalize); the session refuses them
// altogether in reject mode. A bare CR is never a line end; the session
// refuses a message that holds one. The stored message uses LF line ends
// (as the maildrop file does); pickup and the SMTP client emit CRLF.
//
// Not done here: policy (session.hpp), base64 of AUTH (sasl.hpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relay::server {

enum class LineEnd { Crlf, BareLf, TooLong };

struct Line {
    std::string text;   // without its line end
    LineEnd end = LineEnd::Crlf;
    bool bare_cr = false;  // a CR not followed by LF inside text
};

class LineFramer {
public:
    void feed(std::string_view bytes);
    // The next complete line, or nullopt when more input is needed. A line
    // longer than LIMIT comes back truncated with end TooLong; the rest of
    // it up to its LF is dropped.
    std::optional<Line> next(size_t limit);
    // Drops whatever is buffered (after STARTTLS, RFC 3207 section 4.2).
    void discard() {
        buf_.clear();
        pos_ = 0;
        skipping_ = false;
    }
    size_t buffered() const { return buf_.size() - pos_; }
    // Part of a line has arrived (or an over-long one is being dropped).
    bool mid_line() const { return buffered() > 0 || skipping_; }

private:
    std::string buf_;
    size_t pos_ = 0;
    bool skipping_ = false;  // inside an over-long line, dropping up to LF
};

enum class Verb {
    Ehlo, Helo, Mail, Rcpt, Data, Rset, Noop, Quit, Vrfy, Help, StartTls, Auth,
    Expn, Bdat, Etrn, Turn, Unknown, Empty,
    // Lines that are HTTP requests or a client speaking before its turn.
    Http,
};

struct Command {
    Verb verb = Verb::Unknown;
    std::string name;  // the verb as written, upper-cased (for logs)
    std::string arg;   // after the first space, trailing white space removed
};

Command parse_command(std::string_view line);

// One ESMTP parameter: KEY (upper-cased) and optional =VALUE.
struct Param {
    std::string key;
    std::string value;
    bool has_value = false;
};

struct Path {
    std::string address;          // without the brackets; "" = null path
    std::vector<Param> params;
};

enum class PathError { None, Syntax, BadAddress, SourceRouteOnly };

// Parses ARG of MAIL (PREFIX "FROM:") or RCPT ("TO:"). Strict about the
// angle brackets (RFC 5321 requires them) but tolerant of a space after
// the colon, as every real server is. Rejects CR, LF, NUL and other
// control characters, unbalanced quotes and an address over 254 octets
// (local part over 64 is left to the next hop).
std::optional<Path> parse_path(std::string_view arg, std::string_view prefix, PathError *why);

// "user@domain" with a dot in the domain and neither part empty.
bool is_fqdn_address(std::string_view address);
// The domain of ADDRESS (after the last '@'), lower-cased; "" if none.
std::string domain_of(std::string_view address);

// RFC 3461 xtext is valid (for ENVID and ORCPT).
bool valid_xtext(std::string_view s);

enum class DataStatus { More, End };

class DataReader {
public:
    explicit DataReader(size_t limit) : limit_(limit) {}
    // Feeds one line of the DATA phase.
    DataStatus add(const Line &line);

    std::string &message() { return msg_; }
    size_t size() const { return size_; }          // bytes of content seen
    bool too_big() const { return size_ > limit_; }
    bool saw_bare_cr() const { return bare_cr_; }
    bool saw_bare_lf() const { return bare_lf_; }
    bool saw_too_long() const { return too_long_; }
    // The number of Received: header fields seen (hop count).
    unsigned received_count() const { return received_; }

private:
    std::string msg_;
    size_t limit_;
    size_t size_ = 0;
    bool prev_crlf_ = true;   // the previous line ended with CRLF
    bool in_header_ = true;
    bool bare_cr_ = false, bare_lf_ = false, too_long_ = false;
    unsigned received_ = 0;
};

// Base64 (RFC 4648) for AUTH; decode returns nullopt on bad input.
std::string base64_encode(std::string_view in);
std::optional<std::string> base64_decode(std::string_view in);

// AUTH PLAIN message (RFC 4616): authzid NUL authcid NUL passwd.
struct PlainCredentials {
    std::string authzid, user, password;
};
std::optional<PlainCredentials> parse_plain(std::string_view decoded);

}  // namespace relay::server
