// aliases.hpp - aliases(5) syntax: "name: value, value, ...".
//
// The name ends at the first ':' outside double quotes; quotes around it
// are removed and it is folded to lower case. The value is a list
// separated by commas outside quotes, <angle brackets> and (comments);
// like postalias(1), relay stores it normalised: each element trimmed,
// runs of white space outside quotes made one space, elements joined by
// ", ".
//
// Targets: an address (possibly "Name <addr>"), ":include:/file" (more
// targets, one or more per line, '#' comments), "/file" and "|command".
// A null client delivers nothing locally: file and command targets are
// recognised only to be refused (with a warning, by the pipeline).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace relay::rewrite {

struct AliasEntry {
    std::string name;   // unquoted, as written (folded by the table)
    std::string value;  // normalised list
};

// Parses one logical line; nullopt when it has no name:value pair.
std::optional<AliasEntry> parse_alias_line(std::string_view line);

// Splits a (normalised or raw) list into its elements, dropping empty ones.
std::vector<std::string> split_alias_list(std::string_view value);

enum class AliasTargetKind { Address, Include, File, Command };

struct AliasTarget {
    AliasTargetKind kind = AliasTargetKind::Address;
    std::string text;  // the address, the include path, the file, the command
};

// Classifies one element of a list (quotes around "|cmd" or "/file" allowed).
AliasTarget classify_alias_target(std::string_view element);

// Reads an :include: file: its targets, in order. Errors name the file.
Result<std::vector<std::string>> read_include_file(const std::string &path);

}  // namespace relay::rewrite
