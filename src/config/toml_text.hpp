#pragma once
// toml_text - makes configuration text safe to hand to toml++ 3.3.
//
// toml++ 3.3.0 (the version Debian 12 ships) decides whether a non-ASCII
// code point is white space with a generated table whose fall-through
// branch is __builtin_unreachable(); the parser asks that question in many
// places (after a key, inside a value, after a line-ending backslash), so a
// configuration file with a non-ASCII character in the wrong place is
// undefined behaviour. toml++ therefore only ever sees ASCII:
//   - in basic strings ("..." and """..."""), each non-ASCII character
//     becomes its \uXXXX or \UXXXXXXXX escape: the same string;
//   - a literal string ('...' or '''...''') that holds one becomes the
//     basic string with the same value;
//   - in comments, each becomes '?';
//   - anywhere else (TOML 1.0 allows only ASCII there), the text is
//     refused, as it is when it is not UTF-8 or a backslash is followed by
//     a non-ASCII character (an invalid escape).
// The result is ASCII whatever the input, which is what keeps toml++ safe;
// for valid TOML the strings keep their values. Lines are never joined or
// split, so toml++'s line numbers stay right.

#include <string>
#include <string_view>

#include "util/result.hpp"

namespace relay::config {

// Returns TEXT rewritten as above, or an error "NAME:LINE: message".
Result<std::string> guard_toml_text(std::string_view text, const std::string &name);

}  // namespace relay::config
