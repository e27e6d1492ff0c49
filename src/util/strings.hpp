// strings.hpp - small string helpers shared by every module.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace relay::util {

std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);
std::vector<std::string> split(std::string_view s, char sep);
// The words of a Postfix-style list: separated by commas, blanks or tabs,
// empty words dropped ("a, b  c" -> a, b, c).
std::vector<std::string> split_words(std::string_view s);

// True when s holds CR, LF or NUL: never allowed in an envelope field.
bool has_ctl_line_break(std::string_view s);

// Hexadecimal: the value of one digit (either case; -1 for none), and
// PREFIX followed by the two upper-case digits of C, appended to OUT
// ("+2B" in xtext, "%2B" in URLs and RFC 2231, "=2B" in quoted-printable).
int hex_value(char c);
void append_hex(std::string &out, char prefix, unsigned char c);

// xtext (RFC 3461 section 4): what the envelope file uses for free text.
std::string xtext_encode(std::string_view s);
std::string xtext_decode(std::string_view s);

}  // namespace relay::util
