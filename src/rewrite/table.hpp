// table.hpp - Postfix-compatible lookup tables.
//
// A table maps a key to a value, with exactly the semantics of the Postfix
// table type it is named after, so that an admin's existing files keep
// their meaning:
//
//   regexp:FILE     regexp_table(5): POSIX extended regular expressions,
//                   case-insensitive unless /i toggles it, if/endif blocks,
//                   !/negation/, $1 ${1} $(1) $$ substitution, first match wins
//   pcre:FILE       pcre_table(5), with PCRE2
//   texthash:FILE   postmap(1) input format, read as text
//   hash:FILE btree:FILE lmdb:FILE cdb:FILE dbm:FILE
//                   the same: relay reads the text source file directly and
//                   never needs a compiled .db ("postmap" is not a step)
//   inline:{ k=v, { k = v with spaces } }   static:VALUE   static:{ V }
//   unionmap:{ T1, T2 }  pipemap:{ T1, T2 }
//
// With TableFormat::Aliases the file is read as aliases(5) ("name: value,
// value"), the way postalias(1) reads it.
//
// Guarantees. Loading never stops at a bad line: as Postfix does, the line
// is skipped and a warning is recorded in Postfix's own words and place
// ("regexp map FILE, line N: ..."); warnings() returns them in order. A
// lookup never fails: it finds a value or it does not. Each match reports
// the line of the file that produced it (for relay address-test).
// Keys of exact-match tables are case-folded, as postmap(1) does.
//
// Errors. A table that cannot be opened (no such file, unknown type, a
// spec with bad syntax) is an Error from open_table(), worded like Postfix.
//
// Not done here: network tables (mysql:, ldap:, ...) and the .db formats
// themselves; lookups by address (user+ext@domain, user, @domain) live in
// address_lookup.hpp.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace relay::rewrite {

// What a lookup found: the value and the line of the file it came from
// (0 when the table has no lines, as inline: and static:).
struct Match {
    std::string value;
    int line = 0;
};

class Table {
public:
    virtual ~Table() = default;
    Table(const Table &) = delete;
    Table &operator=(const Table &) = delete;

    virtual std::optional<Match> find(std::string_view key) const = 0;
    std::optional<std::string> lookup(std::string_view key) const {
        auto m = find(key);
        if (!m) return std::nullopt;
        return std::move(m->value);
    }

    // True for regexp: and pcre: (and unions of them): the key is matched
    // as a whole string by patterns, so address lookups send the full
    // address only and never the user or @domain forms.
    virtual bool pattern_matching() const { return false; }

    const std::string &spec() const { return spec_; }     // "regexp:/etc/x"
    const std::string &type() const { return type_; }     // "regexp"
    const std::string &name() const { return name_; }     // "/etc/x"
    const std::vector<std::string> &warnings() const { return warnings_; }

protected:
    Table(std::string type, std::string name)
        : spec_(type + ":" + name), type_(std::move(type)), name_(std::move(name)) {}
    void warn(std::string text) { warnings_.push_back(censored(std::move(text))); }
    // A control character from the file (NUL, CR, ESC, ...) becomes '?', as
    // Postfix's msg_output() censors its messages: a warning is one line.
    static std::string censored(std::string text) {
        for (auto &c : text)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
        return text;
    }

    std::string spec_, type_, name_;
    std::vector<std::string> warnings_;
};

enum class TableFormat { Map, Aliases };

// Opens "TYPE:NAME". A bare path (no type) is refused, as Postfix does.
Result<std::unique_ptr<Table>> open_table(std::string_view spec,
                                          TableFormat format = TableFormat::Map);

// The table types open_table() knows.
bool is_known_table_type(std::string_view type);

}  // namespace relay::rewrite
