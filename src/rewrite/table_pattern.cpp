// table_pattern.cpp - regexp: (POSIX regcomp) and pcre: (PCRE2) tables.
//
// Both share Postfix's rule syntax (table_impl.hpp) and evaluation: rules
// are tried in file order and the first match wins; "if /re/" opens a
// block that is entered only when the key matches (or, with "if !/re/",
// does not); a block with no endif extends to the end of the file.
#include <regex.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rewrite/table_impl.hpp"

namespace relay::rewrite::detail {
namespace {

using Groups = std::vector<std::pair<long, long>>;  // [start, end) or (-1, -1)

class Matcher {
public:
    virtual ~Matcher() = default;
    virtual bool match(const std::string &key, Groups *groups) const = 0;
    virtual int groups() const = 0;
};

class PosixMatcher final : public Matcher {
public:
    explicit PosixMatcher(regex_t re) : re_(re) {}
    ~PosixMatcher() override { regfree(&re_); }
    bool match(const std::string &key, Groups *groups) const override {
        std::vector<regmatch_t> m(re_.re_nsub + 1);
        if (regexec(&re_, key.c_str(), m.size(), m.data(), 0) != 0) return false;
        if (groups) {
            groups->clear();
            for (auto &g : m) groups->emplace_back(g.rm_so, g.rm_eo);
        }
        return true;
    }
    int groups() const override { return static_cast<int>(re_.re_nsub); }

private:
    regex_t re_;
};

class PcreMatcher final : public Matcher {
public:
    explicit PcreMatcher(pcre2_code *code) : code_(code), data_(pcre2_match_data_create_from_pattern(code, nullptr)) {
        uint32_t n = 0;
        pcre2_pattern_info(code_, PCRE2_INFO_CAPTURECOUNT, &n);
        groups_ = static_cast<int>(n);
    }
    ~PcreMatcher() override {
        pcre2_match_data_free(data_);
        pcre2_code_free(code_);
    }
    bool match(const std::string &key, Groups *groups) const override {
        int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(key.data()), key.size(), 0, 0,
                             data_, nullptr);
        if (rc < 0) return false;
        if (groups) {
            groups->clear();
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(data_);
            for (int i = 0; i <= groups_; ++i) {
                if (i >= rc || ov[2 * i] == PCRE2_UNSET) groups->emplace_back(-1, -1);
                else groups->emplace_back(static_cast<long>(ov[2 * i]), static_cast<long>(ov[2 * i + 1]));
            }
        }
        return true;
    }
    int groups() const override { return groups_; }

private:
    pcre2_code *code_;
    pcre2_match_data *data_;  // lookups are not concurrent: one Table per thread
    int groups_ = 0;
};

struct Rule {
    bool is_if = false;
    bool negate = false;
    std::unique_ptr<Matcher> matcher;
    Replacement replacement;
    int line = 0;
    size_t skip_to = 0;  // for an IF: the rule after its ENDIF
};

class PatternTable final : public Table {
public:
    PatternTable(std::string type, std::string name) : Table(std::move(type), std::move(name)) {}

    bool pattern_matching() const override { return true; }

    std::optional<Match> find(std::string_view key_view) const override {
        std::string key(key_view);
        Groups groups;
        size_t i = 0;
        while (i < rules_.size()) {
            const Rule &r = rules_[i];
            bool want_groups = !r.is_if && !r.negate && r.replacement.max_group > 0;
            bool hit = r.matcher->match(key, want_groups ? &groups : nullptr) != r.negate;
            if (r.is_if) {
                i = hit ? i + 1 : r.skip_to;
                continue;
            }
            if (hit) return Match{expand(r.replacement, key, groups), r.line};
            ++i;
        }
        return std::nullopt;
    }

    Result<void> load(bool pcre) {
        std::vector<std::string> &w = warnings_;
        auto lines = read_logical_lines(name_, w);
        if (!lines) return lines.error();
        std::vector<size_t> open_ifs;
        for (auto &ll : *lines) {
            std::string prefix = type_ + " map " + name_ + ", line " + std::to_string(ll.line);
            PatternRule pr = parse_pattern_line(ll.text, prefix, pcre, w);
            if (pr.kind == PatternRule::Kind::Skip) continue;
            if (pr.kind == PatternRule::Kind::Endif) {
                if (open_ifs.empty()) {
                    w.push_back(prefix + ": ignoring ENDIF without matching IF");
                    continue;
                }
                if (!pr.rest.empty()) w.push_back(prefix + ": ignoring extra text after ENDIF");
                rules_[open_ifs.back()].skip_to = rules_.size();
                open_ifs.pop_back();
                continue;
            }
            Rule rule;
            rule.is_if = pr.kind == PatternRule::Kind::If;
            rule.negate = pr.negate;
            rule.line = ll.line;
            if (!rule.is_if && pr.rest.empty())
                w.push_back(prefix + ": no replacement text: using empty string");
            rule.matcher = pcre ? compile_pcre(pr, prefix) : compile_posix(pr, prefix);
            if (!rule.matcher) continue;
            if (!rule.is_if) {
                if (!parse_replacement(pr.rest, prefix, rule.replacement, w)) continue;
                if (rule.negate && rule.replacement.max_group > 0) {
                    w.push_back(prefix +
                                ": $number found in negative match replacement text: skipping this rule");
                    continue;
                }
                if (rule.replacement.max_group > rule.matcher->groups()) {
                    std::string idx;
                    for (auto &p : rule.replacement.pieces)
                        if (p.group > rule.matcher->groups()) {
                            idx = p.text;
                            break;
                        }
                    w.push_back(prefix + ": out of range replacement index \"" + idx +
                                "\": skipping this rule");
                    continue;
                }
            }
            if (rule.is_if) open_ifs.push_back(rules_.size());
            rules_.push_back(std::move(rule));
        }
        while (!open_ifs.empty()) {
            Rule &r = rules_[open_ifs.back()];
            w.push_back(type_ + " map " + name_ + ", line " + std::to_string(r.line) +
                        ": IF has no matching ENDIF");
            r.skip_to = rules_.size();
            open_ifs.pop_back();
        }
        for (auto &x : w) x = censored(std::move(x));
        return {};
    }

private:
    static std::string expand(const Replacement &rep, const std::string &key, const Groups &g) {
        std::string out;
        for (auto &p : rep.pieces) {
            if (p.group < 0) {
                out += p.text;
            } else if (static_cast<size_t>(p.group) < g.size() && g[p.group].first >= 0) {
                out.append(key, g[p.group].first, g[p.group].second - g[p.group].first);
            }
        }
        return out;
    }

    std::unique_ptr<Matcher> compile_posix(const PatternRule &pr, const std::string &prefix) {
        int flags = REG_EXTENDED | REG_ICASE;
        for (char c : pr.flags) {
            switch (c) {
            case 'i': flags ^= REG_ICASE; break;
            case 'x': flags ^= REG_EXTENDED; break;
            case 'm': flags ^= REG_NEWLINE; break;
            default:
                warn(prefix + ": unknown regexp option \"" + std::string(1, c) + "\": skipping this rule");
                return nullptr;
            }
        }
        regex_t re;
        int rc = regcomp(&re, pr.pattern.c_str(), flags);
        if (rc != 0) {
            char buf[256];
            regerror(rc, &re, buf, sizeof buf);
            regfree(&re);
            warn(prefix + ": " + buf);
            return nullptr;
        }
        return std::make_unique<PosixMatcher>(re);
    }

    std::unique_ptr<Matcher> compile_pcre(const PatternRule &pr, const std::string &prefix) {
        uint32_t opts = PCRE2_CASELESS;
        for (char c : pr.flags) {
            switch (c) {
            case 'i': opts ^= PCRE2_CASELESS; break;
            case 'm': opts ^= PCRE2_MULTILINE; break;
            case 's': opts ^= PCRE2_DOTALL; break;
            case 'x': opts ^= PCRE2_EXTENDED; break;
            case 'A': opts ^= PCRE2_ANCHORED; break;
            case 'E': opts ^= PCRE2_DOLLAR_ENDONLY; break;
            case 'U': opts ^= PCRE2_UNGREEDY; break;
            case 'X':
                warn(prefix + ": ignoring obsolete regexp option \"X\"");
                break;
            default:
                warn(prefix + ": unknown regexp option \"" + std::string(1, c) + "\": skipping this rule");
                return nullptr;
            }
        }
        int err = 0;
        PCRE2_SIZE off = 0;
        pcre2_code *code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pr.pattern.data()),
                                         pr.pattern.size(), opts, &err, &off, nullptr);
        if (!code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            warn(prefix + ": error in regex at offset " + std::to_string(off) + ": " +
                 reinterpret_cast<const char *>(msg));
            return nullptr;
        }
        return std::make_unique<PcreMatcher>(code);
    }

    std::vector<Rule> rules_;
};

Result<std::unique_ptr<Table>> open_pattern(const std::string &type, const std::string &name) {
    auto t = std::make_unique<PatternTable>(type, name);
    if (auto r = t->load(type == "pcre"); !r) return r.error();
    return std::unique_ptr<Table>(std::move(t));
}

}  // namespace

Result<std::unique_ptr<Table>> open_regexp(const std::string &name) { return open_pattern("regexp", name); }
Result<std::unique_ptr<Table>> open_pcre(const std::string &name) { return open_pattern("pcre", name); }

}  // namespace relay::rewrite::detail
