// table_common.cpp - logical lines, pattern-rule syntax, and open_table().
#include <cctype>
#include <cerrno>
#include <fstream>

#include "rewrite/table_impl.hpp"
#include "util/error.hpp"

namespace relay::rewrite {
namespace detail {

std::string_view trim_space(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

std::string printable(std::string_view s) {
    std::string out(s);
    for (auto &c : out) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) c = '?';
    }
    return out;
}

Result<std::vector<LogicalLine>> read_logical_lines(const std::string &path,
                                                    std::vector<std::string> &warn) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        int err = errno;
        return make_error("open " + path + ": " + errno_text(err), err);
    }
    std::vector<LogicalLine> lines;
    std::string phys;
    int lineno = 0;
    bool dropping = false;  // inside a continuation with nothing to continue
    while (std::getline(in, phys)) {
        ++lineno;
        size_t first = 0;
        while (first < phys.size() && is_space(phys[first])) ++first;
        if (first == phys.size() || phys[first] == '#') continue;
        if (first > 0) {
            if (!dropping && !lines.empty()) {
                lines.back().text += phys;
                continue;
            }
            if (!dropping)
                warn.push_back(path + ": logical line must not start with whitespace: \"" +
                               printable(phys) + "\"");
            dropping = true;
            continue;
        }
        dropping = false;
        lines.push_back({phys, lineno});
    }
    if (in.bad()) {
        int err = errno;
        return make_error("read " + path + ": " + errno_text(err), err);
    }
    return lines;
}

bool split_brace_list(std::string_view inner, std::vector<std::string> &out) {
    size_t i = 0;
    while (i < inner.size()) {
        if (is_space(inner[i]) || inner[i] == ',') {
            ++i;
            continue;
        }
        size_t start = i;
        int depth = 0;
        while (i < inner.size()) {
            char c = inner[i];
            if (c == '{') ++depth;
            else if (c == '}') {
                if (--depth < 0) return false;
            } else if (depth == 0 && (is_space(c) || c == ',')) break;
            ++i;
            if (depth == 0 && inner[start] == '{') break;  // a "{ ... }" item ends at its brace
        }
        if (depth != 0) return false;
        out.emplace_back(inner.substr(start, i - start));
    }
    return true;
}

bool parse_replacement(std::string_view text, const std::string &prefix, Replacement &out,
                       std::vector<std::string> &warn) {
    auto bad = [&] {
        warn.push_back(prefix + ": bad replacement syntax: skipping this rule");
        return false;
    };
    std::string literal;
    auto flush = [&] {
        if (!literal.empty()) out.pieces.push_back({std::move(literal), -1});
        literal.clear();
    };
    size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        if (c != '$') {
            literal += c;
            ++i;
            continue;
        }
        std::string name;
        if (i + 1 < text.size() && text[i + 1] == '$') {
            literal += '$';
            i += 2;
            continue;
        }
        if (i + 1 < text.size() && (text[i + 1] == '{' || text[i + 1] == '(')) {
            char close = text[i + 1] == '{' ? '}' : ')';
            size_t end = text.find(close, i + 2);
            if (end == std::string_view::npos) {
                warn.push_back("truncated macro reference: \"" + std::string(text.substr(i)) + "\"");
                return bad();
            }
            name = std::string(text.substr(i + 2, end - i - 2));
            i = end + 1;
        } else {
            size_t j = i + 1;
            while (j < text.size() &&
                   (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_'))
                ++j;
            name = std::string(text.substr(i + 1, j - i - 1));
            i = j;
        }
        if (name.empty()) {
            warn.push_back("empty macro name: \"" + std::string(text) + "\"");
            return bad();
        }
        bool numeric = true;
        for (char d : name) numeric = numeric && std::isdigit(static_cast<unsigned char>(d));
        if (!numeric) {
            warn.push_back(prefix + ": non-numeric replacement index \"" + name + "\"");
            return bad();
        }
        int n = name.size() > 6 ? 1000000 : std::stoi(name);
        flush();
        out.pieces.push_back({name, n});
        if (n > out.max_group) out.max_group = n;
    }
    flush();
    return true;
}

namespace {

bool keyword(std::string_view text, std::string_view word) {
    if (text.size() < word.size()) return false;
    for (size_t i = 0; i < word.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(text[i])) != word[i]) return false;
    return text.size() == word.size() ||
           !std::isalnum(static_cast<unsigned char>(text[word.size()]));
}

// Reads "!/pattern/flags" from the front of P. Returns false (with the
// warning recorded) when the pattern is missing or unterminated.
bool read_pattern(std::string_view &p, const std::string &prefix, bool pcre_wording,
                  PatternRule &r, std::vector<std::string> &warn) {
    while (!p.empty() && p.front() == '!') {
        r.negate = !r.negate;
        p.remove_prefix(1);
        while (!p.empty() && is_space(p.front())) p.remove_prefix(1);
    }
    if (p.empty()) {
        warn.push_back(prefix + ": no regexp: skipping this rule");
        return false;
    }
    char delim = p.front();
    size_t i = 1;
    std::string pat;
    for (; i < p.size(); ++i) {
        if (p[i] == '\\' && i + 1 < p.size() && p[i + 1] == delim) {
            pat += p[i];  // an escaped delimiter does not end the pattern;
            pat += delim; // the backslash stays (Postfix keeps it too)
            ++i;
        } else if (p[i] == delim) {
            break;
        } else {
            pat += p[i];
        }
    }
    if (i >= p.size()) {
        warn.push_back(prefix + ": no closing regexp delimiter \"" + std::string(1, delim) +
                       (pcre_wording ? "\": ignoring this rule" : "\": skipping this rule"));
        return false;
    }
    p.remove_prefix(i + 1);
    size_t f = 0;
    while (f < p.size() && !is_space(p[f])) ++f;
    r.pattern = std::move(pat);
    r.flags = std::string(p.substr(0, f));
    p.remove_prefix(f);
    return true;
}

}  // namespace

PatternRule parse_pattern_line(std::string_view text, const std::string &prefix,
                               bool pcre_wording, std::vector<std::string> &warn) {
    PatternRule r;
    std::string_view p = text;
    if (keyword(p, "if")) {
        p.remove_prefix(2);
        while (!p.empty() && is_space(p.front())) p.remove_prefix(1);
        if (!read_pattern(p, prefix, pcre_wording, r, warn)) return r;
        auto extra = trim_space(p);
        if (!extra.empty()) {
            warn.push_back(prefix + ": ignoring extra text after IF statement: \"" +
                           std::string(extra) + "\"");
            warn.push_back(prefix + ": do not prepend whitespace to statements between IF and ENDIF");
        }
        r.kind = PatternRule::Kind::If;
        return r;
    }
    if (keyword(p, "endif")) {
        r.kind = PatternRule::Kind::Endif;
        r.rest = std::string(trim_space(p.substr(5)));
        return r;
    }
    if (!p.empty() && std::isalnum(static_cast<unsigned char>(p.front()))) {
        warn.push_back(prefix + ": ignoring unrecognized request");
        return r;
    }
    if (!read_pattern(p, prefix, pcre_wording, r, warn)) return r;
    r.rest = std::string(trim_space(p));
    r.kind = PatternRule::Kind::Match;
    return r;
}

}  // namespace detail

bool is_known_table_type(std::string_view t) {
    static const char *const known[] = {"regexp", "pcre",   "texthash", "hash",     "btree",
                                        "lmdb",   "cdb",    "dbm",      "sdbm",     "inline",
                                        "static", "unionmap", "pipemap"};
    for (auto *k : known)
        if (t == k) return true;
    return false;
}

Result<std::unique_ptr<Table>> open_table(std::string_view spec, TableFormat format) {
    auto colon = spec.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == spec.size())
        return make_error("open dictionary: expecting \"type:name\" form instead of \"" +
                          std::string(spec) + "\"");
    std::string type(spec.substr(0, colon));
    std::string name(spec.substr(colon + 1));
    if (!is_known_table_type(type)) return make_error("unsupported dictionary type: " + type);
    if (format == TableFormat::Aliases && type != "inline" && type != "static" &&
        type != "regexp" && type != "pcre" && type != "unionmap" && type != "pipemap")
        return detail::open_aliases(type, name);
    if (type == "regexp") return detail::open_regexp(name);
    if (type == "pcre") return detail::open_pcre(name);
    if (type == "inline") return detail::open_inline(name);
    if (type == "static") return detail::open_static(name);
    if (type == "unionmap" || type == "pipemap") return detail::open_composite(type, name);
    return detail::open_text_map(type, name);
}

}  // namespace relay::rewrite
