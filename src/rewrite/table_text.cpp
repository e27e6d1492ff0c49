// table_text.cpp - exact-key tables: postmap(1) and aliases(5) text files,
// inline:, static:, unionmap: and pipemap:.
#include <unordered_map>

#include "rewrite/aliases.hpp"
#include "rewrite/table_impl.hpp"
#include "util/strings.hpp"

namespace relay::rewrite::detail {
namespace {

// Keys are folded to lower case on load and on lookup (postmap -f is not
// offered: Postfix folds by default and admins rely on it).
class KeyTable : public Table {
public:
    KeyTable(std::string type, std::string name) : Table(std::move(type), std::move(name)) {}

    std::optional<Match> find(std::string_view key) const override {
        auto it = entries_.find(util::to_lower(key));
        if (it == entries_.end()) return std::nullopt;
        return it->second;
    }

    // Keeps the first of duplicate keys; returns false for a duplicate.
    bool insert(const std::string &key, std::string value, int line) {
        return entries_.emplace(util::to_lower(key), Match{std::move(value), line}).second;
    }
    using Table::warn;

private:
    std::unordered_map<std::string, Match> entries_;
};

// postmap(1) input: KEY whitespace VALUE. A key may contain white space
// inside double quotes (the quotes stay part of the key, as in Postfix).
void parse_map_line(const LogicalLine &ll, KeyTable &t) {
    const std::string &s = ll.text;
    size_t i = 0;
    bool quoted = false;
    for (; i < s.size(); ++i) {
        char c = s[i];
        if (quoted && c == '\\' && i + 1 < s.size()) {
            ++i;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && is_space(c)) {
            break;
        }
    }
    std::string key = s.substr(0, i);
    std::string value(trim_space(std::string_view(s).substr(i)));
    std::string where = t.name() + ", line " + std::to_string(ll.line);
    if (value.empty()) {
        t.warn(where + ": expected format: key whitespace value -- ignoring this line");
        return;
    }
    if (key.size() > 1 && key.back() == ':')
        t.warn(where + ": record is in \"key: value\" format; is this an alias file?");
    if (!t.insert(key, std::move(value), ll.line))
        t.warn(where + ": duplicate entry: \"" + key + "\"");
}

class StaticTable final : public Table {
public:
    StaticTable(std::string name, std::string value) : Table("static", std::move(name)), value_(std::move(value)) {}
    std::optional<Match> find(std::string_view) const override { return Match{value_, 0}; }

private:
    std::string value_;
};

class CompositeTable final : public Table {
public:
    CompositeTable(std::string type, std::string name, std::vector<std::unique_ptr<Table>> parts)
        : Table(std::move(type), std::move(name)), parts_(std::move(parts)) {
        for (auto &p : parts_)
            for (auto &w : p->warnings()) warn(w);
    }
    bool pattern_matching() const override {
        for (auto &p : parts_)
            if (p->pattern_matching()) return true;
        return false;
    }
    std::optional<Match> find(std::string_view key) const override {
        if (type_ == "pipemap") {
            std::string k(key);
            for (auto &p : parts_) {
                auto m = p->find(k);
                if (!m) return std::nullopt;
                k = std::move(m->value);
            }
            return Match{k, 0};
        }
        std::optional<Match> out;
        for (auto &p : parts_) {
            auto m = p->find(key);
            if (!m) continue;
            if (!out) out = Match{m->value, m->line};
            else out->value += "," + m->value;
        }
        return out;
    }

private:
    std::vector<std::unique_ptr<Table>> parts_;
};

// "{ inner }" -> inner; false when NAME is not one brace group.
bool unbrace(std::string_view name, std::string_view &inner) {
    auto t = trim_space(name);
    if (t.size() < 2 || t.front() != '{' || t.back() != '}') return false;
    int depth = 0;
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] == '{') ++depth;
        else if (t[i] == '}' && --depth == 0 && i + 1 != t.size()) return false;
    }
    if (depth != 0) return false;
    inner = t.substr(1, t.size() - 2);
    return true;
}

}  // namespace

Result<std::unique_ptr<Table>> open_text_map(const std::string &type, const std::string &name) {
    auto t = std::make_unique<KeyTable>(type, name);
    std::vector<std::string> w;
    auto lines = read_logical_lines(name, w);
    if (!lines) return lines.error();
    for (auto &x : w) t->warn(x);
    for (auto &ll : *lines) parse_map_line(ll, *t);
    return std::unique_ptr<Table>(std::move(t));
}

Result<std::unique_ptr<Table>> open_aliases(const std::string &type, const std::string &name) {
    auto t = std::make_unique<KeyTable>(type, name);
    std::vector<std::string> w;
    auto lines = read_logical_lines(name, w);
    if (!lines) return lines.error();
    for (auto &x : w) t->warn(x);
    for (auto &ll : *lines) {
        std::string where = name + ", line " + std::to_string(ll.line);
        auto entry = parse_alias_line(ll.text);
        if (!entry) {
            t->warn(where + ": need name:value pair");
            continue;
        }
        if (!t->insert(entry->name, entry->value, ll.line))
            t->warn(where + ": duplicate entry: \"" + util::to_lower(entry->name) + "\"");
    }
    // postalias(1) stores "@" for sendmail compatibility; so do we.
    (void)t->insert("@", "@", 0);
    return std::unique_ptr<Table>(std::move(t));
}

Result<std::unique_ptr<Table>> open_inline(const std::string &name) {
    std::string_view inner;
    auto syntax = [&](const std::string &why) {
        return make_error(why + ": \"inline:" + name + "\"; need \"inline:{name=value...}\"");
    };
    if (!unbrace(name, inner)) return syntax("bad syntax");
    std::vector<std::string> items;
    if (!split_brace_list(inner, items)) return syntax("bad syntax");
    auto t = std::make_unique<KeyTable>("inline", name);
    for (auto &item : items) {
        std::string_view it = item;
        std::string_view body;
        if (!it.empty() && it.front() == '{') {
            if (!unbrace(it, body)) return syntax("bad syntax");
        } else {
            body = it;
        }
        auto eq = body.find('=');
        if (eq == std::string_view::npos) return syntax("missing '=' after attribute name");
        auto key = trim_space(body.substr(0, eq));
        auto value = trim_space(body.substr(eq + 1));
        (void)t->insert(std::string(key), std::string(value), 0);
    }
    return std::unique_ptr<Table>(std::move(t));
}

Result<std::unique_ptr<Table>> open_static(const std::string &name) {
    std::string_view inner = name;
    auto t = trim_space(name);
    if (!t.empty() && t.front() == '{') {
        if (!unbrace(name, inner))
            return make_error("bad static:name syntax: syntax error after '}' in \"" + name + "\"");
        inner = trim_space(inner);
    }
    return std::unique_ptr<Table>(std::make_unique<StaticTable>(name, std::string(inner)));
}

Result<std::unique_ptr<Table>> open_composite(const std::string &type, const std::string &name) {
    std::string_view inner;
    std::vector<std::string> items;
    if (!unbrace(name, inner) || !split_brace_list(inner, items))
        return make_error("bad syntax: \"" + type + ":" + name + "\"; need \"" + type +
                          ":{type:name...}\"");
    if (items.empty()) return make_error("empty table list: \"" + type + ":" + name + "\"");
    std::vector<std::unique_ptr<Table>> parts;
    for (auto &item : items) {
        auto t = open_table(item);
        if (!t) return t.error();
        parts.push_back(std::move(*t));
    }
    return std::unique_ptr<Table>(std::make_unique<CompositeTable>(type, name, std::move(parts)));
}

}  // namespace relay::rewrite::detail
