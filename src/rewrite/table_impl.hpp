// table_impl.hpp - what the table types share (internal to src/rewrite).
//
// Logical lines follow Postfix's rules for table files: a line whose first
// non-blank character is '#' and an all-blank line are ignored wherever
// they appear; a line that starts with white space continues the logical
// line before it (the text is joined as written, without the newline); a
// logical line is numbered by its first physical line. A continuation line
// with nothing to continue is reported and dropped.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rewrite/table.hpp"

namespace relay::rewrite::detail {

struct LogicalLine {
    std::string text;
    int line = 0;
};

// Reads PATH into logical lines; warnings (in Postfix's words) go to WARN.
Result<std::vector<LogicalLine>> read_logical_lines(const std::string &path,
                                                    std::vector<std::string> &warn);

// Postfix's printable(): every byte that is not printable ASCII becomes '?'.
std::string printable(std::string_view s);

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }
std::string_view trim_space(std::string_view s);

// Splits the inside of "{ a, { b c }, d }" at white space and commas
// outside nested braces. Returns false on unbalanced braces.
bool split_brace_list(std::string_view inner, std::vector<std::string> &out);

Result<std::unique_ptr<Table>> open_regexp(const std::string &name);
Result<std::unique_ptr<Table>> open_pcre(const std::string &name);
Result<std::unique_ptr<Table>> open_text_map(const std::string &type, const std::string &name);
Result<std::unique_ptr<Table>> open_aliases(const std::string &type, const std::string &name);
Result<std::unique_ptr<Table>> open_inline(const std::string &name);
Result<std::unique_ptr<Table>> open_static(const std::string &name);
Result<std::unique_ptr<Table>> open_composite(const std::string &type, const std::string &name);

// Parsed replacement text of a regexp/pcre rule: literal pieces and
// $N references, in order.
struct Replacement {
    struct Piece {
        std::string text;  // literal text, when group < 0
        int group = -1;
    };
    std::vector<Piece> pieces;
    int max_group = 0;
};

// Parses TEXT as Postfix does for pattern tables. On a syntax error it
// records the warnings Postfix gives (PREFIX is "regexp map FILE, line N")
// and returns false. Range checks against the pattern are the caller's.
bool parse_replacement(std::string_view text, const std::string &prefix, Replacement &out,
                       std::vector<std::string> &warn);

// The common front of regexp: and pcre: rules. Fills the pattern, the
// negation, the flag characters and what follows them.
struct PatternRule {
    enum class Kind { Match, If, Endif, Skip } kind = Kind::Skip;
    bool negate = false;
    std::string pattern;
    std::string flags;
    std::string rest;  // replacement text (Match) or what followed (If)
};
PatternRule parse_pattern_line(std::string_view text, const std::string &prefix,
                               bool pcre_wording, std::vector<std::string> &warn);

}  // namespace relay::rewrite::detail
