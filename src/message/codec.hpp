// codec.hpp - MIME content transfer encodings and byte classification.
//
// quoted-printable and base64 (RFC 2045 section 6) as the message module
// needs them: for bodies with LF line ends (what pickup stores), and
// without line breaks for RFC 2047 encoded-words. Encoders always produce
// lines of at most 76 characters plus LF. Decoders are lenient (RFC 2045
// asks them to be): malformed input is passed through or skipped, never an
// error, and their output is never longer than their input.
//
// Content-Type and Content-Transfer-Encoding values are parsed here too,
// with comments and quoted strings, and RFC 2231 parameter continuations
// ("name*0=", "name*1*=") joined and percent-decoded. Names come back in
// lower case.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace relay::message {

// Body text to quoted-printable. LF is a hard line break (the line's
// trailing white space is encoded); every other byte outside 33..126
// except inner SP/TAB is =XX, and so is '='. "From " at the start of a line
// and a line that is only "." are encoded too (=46rom, =2E), so that mbox
// writers and broken dot-stuffers cannot damage the text.
std::string qp_encode(std::string_view text);
std::string qp_decode(std::string_view text);

// LINE_LEN 0: one line, no line breaks (for encoded-words). Otherwise the
// output is cut into lines of LINE_LEN characters (a multiple of 4), each
// ending in LF.
std::string base64_encode(std::string_view data, size_t line_len = 76);
// Skips white space and any byte outside the alphabet; stops at '='.
std::string base64_decode(std::string_view text);

bool is_ascii(std::string_view s);
// Well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
bool is_valid_utf8(std::string_view s);
// Length of the longest line, LF not counted.
size_t longest_line(std::string_view s);

struct ContentType {
    std::string type;     // "text", lower case; "" when the value is unusable
    std::string subtype;  // "plain"
    std::vector<std::pair<std::string, std::string>> params;  // lower-case names

    // Value of parameter NAME (lower case), or "" when absent.
    std::string param(std::string_view name) const;
    bool is_multipart() const { return type == "multipart"; }
};

ContentType parse_content_type(std::string_view value);
// "Quoted-Printable (x)" -> "quoted-printable".
std::string parse_transfer_encoding(std::string_view value);

}  // namespace relay::message
