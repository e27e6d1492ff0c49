#include "rewrite/aliases.hpp"

#include <cerrno>
#include <fstream>

#include "rewrite/table_impl.hpp"
#include "util/error.hpp"

namespace relay::rewrite {
namespace {

using detail::is_space;
using detail::trim_space;

// Splits at commas outside "quotes", <angles> and (comments), keeping
// empty elements.
std::vector<std::string> split_raw(std::string_view v) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    int angle = 0, paren = 0;
    for (size_t i = 0; i < v.size(); ++i) {
        char c = v[i];
        if (c == '\\' && i + 1 < v.size()) {
            cur += c;
            cur += v[++i];
            continue;
        }
        if (quoted) {
            if (c == '"') quoted = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == '(') {
            ++paren;
        } else if (c == ')' && paren > 0) {
            --paren;
        } else if (c == '<' && paren == 0) {
            ++angle;
        } else if (c == '>' && angle > 0 && paren == 0) {
            --angle;
        } else if (c == ',' && !angle && !paren) {
            out.push_back(cur);
            cur.clear();
            continue;
        }
        cur += c;
    }
    out.push_back(cur);
    return out;
}

// Trims and turns runs of white space outside quotes into one space.
std::string squeeze(std::string_view e) {
    e = trim_space(e);
    std::string out;
    bool quoted = false, space = false;
    for (size_t i = 0; i < e.size(); ++i) {
        char c = e[i];
        if (!quoted && is_space(c)) {
            space = true;
            continue;
        }
        if (space) out += ' ';
        space = false;
        if (c == '\\' && i + 1 < e.size()) {
            out += c;
            out += e[++i];
            continue;
        }
        if (c == '"') quoted = !quoted;
        out += c;
    }
    return out;
}

std::string unquote(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '"') continue;
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        out += s[i];
    }
    return out;
}

// The addr-spec inside "Name <addr>" or "addr (Comment)".
std::string bare_address(std::string_view e) {
    bool quoted = false;
    size_t lt = std::string_view::npos;
    for (size_t i = 0; i < e.size(); ++i) {
        if (e[i] == '"') quoted = !quoted;
        else if (!quoted && e[i] == '<') lt = i;
    }
    if (lt != std::string_view::npos) {
        auto gt = e.find('>', lt);
        return std::string(trim_space(e.substr(lt + 1, gt == std::string_view::npos ? gt : gt - lt - 1)));
    }
    std::string out;
    int paren = 0;
    quoted = false;
    for (char c : e) {
        if (!quoted && c == '(') ++paren;
        else if (!quoted && c == ')' && paren > 0) --paren;
        else if (paren == 0) {
            if (c == '"') quoted = !quoted;
            out += c;
        }
    }
    return std::string(trim_space(out));
}

}  // namespace

std::optional<AliasEntry> parse_alias_line(std::string_view line) {
    bool quoted = false;
    size_t colon = std::string_view::npos;
    for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
        } else if (line[i] == '"') {
            quoted = !quoted;
        } else if (!quoted && line[i] == ':') {
            colon = i;
            break;
        }
    }
    if (colon == std::string_view::npos) return std::nullopt;
    auto name = unquote(trim_space(line.substr(0, colon)));
    auto raw = trim_space(line.substr(colon + 1));
    if (name.empty() || raw.empty()) return std::nullopt;
    std::string value;
    auto parts = split_raw(raw);
    for (size_t i = 0; i < parts.size(); ++i) {
        auto s = squeeze(parts[i]);
        if (i + 1 == parts.size() && s.empty() && i > 0) break;  // trailing comma
        if (i > 0) value += ", ";
        value += s;
    }
    return AliasEntry{name, value};
}

std::vector<std::string> split_alias_list(std::string_view value) {
    std::vector<std::string> out;
    for (auto &p : split_raw(value)) {
        auto s = squeeze(p);
        if (!s.empty()) out.push_back(std::move(s));
    }
    return out;
}

AliasTarget classify_alias_target(std::string_view element) {
    auto e = trim_space(element);
    std::string plain = (e.size() >= 2 && e.front() == '"' && e.back() == '"')
                            ? unquote(e)
                            : std::string(e);
    if (!plain.empty() && plain.front() == '|') return {AliasTargetKind::Command, plain.substr(1)};
    if (plain.size() >= 9 && plain.compare(0, 9, ":include:") == 0)
        return {AliasTargetKind::Include, std::string(trim_space(std::string_view(plain).substr(9)))};
    if (!plain.empty() && plain.front() == '/') return {AliasTargetKind::File, plain};
    return {AliasTargetKind::Address, bare_address(e)};
}

Result<std::vector<std::string>> read_include_file(const std::string &path) {
    std::ifstream in(path);
    if (!in) {
        int err = errno;
        return make_error("open " + path + ": " + errno_text(err), err);
    }
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) {
        auto t = trim_space(line);
        if (t.empty() || t.front() == '#') continue;
        for (auto &e : split_alias_list(t)) out.push_back(e);
    }
    return out;
}

}  // namespace relay::rewrite
