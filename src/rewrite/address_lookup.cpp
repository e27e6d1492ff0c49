#include "rewrite/address_lookup.hpp"

#include "util/strings.hpp"

namespace relay::rewrite {

SplitAddress split_at(std::string_view addr) {
    bool quoted = false;
    size_t at = std::string_view::npos;
    for (size_t i = 0; i < addr.size(); ++i) {
        if (addr[i] == '\\' && i + 1 < addr.size()) ++i;
        else if (addr[i] == '"') quoted = !quoted;
        else if (!quoted && addr[i] == '@') at = i;
    }
    if (at == std::string_view::npos) return {std::string(addr), "", false};
    return {std::string(addr.substr(0, at)), std::string(addr.substr(at + 1)), true};
}

AddressContext::AddressContext(const config::Config &cfg) : cfg_(cfg) {
    if (!cfg.myhostname.empty()) local_.push_back(util::to_lower(cfg.myhostname));
    local_.push_back("localhost");
    if (!cfg.mydomain.empty()) local_.push_back("localhost." + util::to_lower(cfg.mydomain));
    for (auto &d : cfg.rewrite.local_domains)
        for (auto &part : util::split(d, ',')) {
            auto t = util::trim(part);
            if (!t.empty()) local_.push_back(util::to_lower(t));
        }
}

bool AddressContext::is_local_domain(std::string_view domain) const {
    auto d = util::to_lower(domain);
    if (!d.empty() && d.back() == '.') d.pop_back();
    for (auto &l : local_)
        if (l == d) return true;
    return false;
}

bool AddressContext::user_keys_apply(std::string_view domain) const {
    return util::iequals(domain, cfg_.myorigin) || is_local_domain(domain);
}

std::string AddressContext::qualify(std::string_view addr) const {
    if (addr.empty()) return {};
    auto a = split_at(addr);
    // "root@" (systemd-email's From: under dash) has no domain either:
    // Postfix drops the empty domain and qualifies what is left.
    if (!a.has_at || (a.domain.empty() && addr.back() == '@')) {
        if (!cfg_.rewrite.append_at_myorigin || cfg_.myorigin.empty()) return std::string(addr);
        return a.local + "@" + cfg_.myorigin;
    }
    if (cfg_.rewrite.append_dot_mydomain && !a.domain.empty() && a.domain.front() != '[' &&
        a.domain.find('.') == std::string::npos && !cfg_.mydomain.empty())
        return a.local + "@" + a.domain + "." + cfg_.mydomain;
    return std::string(addr);
}

std::string AddressContext::split_extension(std::string &local) const {
    const auto &delims = cfg_.rewrite.recipient_delimiter;
    if (delims.empty()) return {};
    auto pos = local.find_first_of(delims);
    if (pos == std::string::npos || pos == 0) return {};
    std::string ext = local.substr(pos);
    local.erase(pos);
    return ext;
}

namespace {

std::vector<std::string> split_result(std::string_view v) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    for (char c : v) {
        if (c == '"') quoted = !quoted;
        if (!quoted && (c == ',' || c == ' ' || c == '\t')) {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
            continue;
        }
        cur += c;
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

}  // namespace

std::optional<AddressMatch> AddressContext::find(const TableList &maps, std::string_view addr,
                                                 bool propagate) const {
    if (maps.empty() || addr.empty()) return std::nullopt;
    SplitAddress a = split_at(addr);
    std::string base = a.local;
    std::string ext = split_extension(base);
    bool user_forms = !a.has_at || user_keys_apply(a.domain);

    struct Query {
        std::string key;
        bool pattern_too;   // also sent to regexp:/pcre: tables
        bool ext_stripped;  // the key lost the extension
    };
    std::vector<Query> queries;
    queries.push_back({std::string(addr), true, false});
    if (a.has_at) {
        if (!ext.empty()) queries.push_back({base + "@" + a.domain, false, true});
        if (user_forms) {
            queries.push_back({a.local, false, false});
            if (!ext.empty()) queries.push_back({base, false, true});
        }
        if (!a.domain.empty()) queries.push_back({"@" + a.domain, false, true});
    } else if (!ext.empty()) {
        queries.push_back({base, false, true});
    }

    for (auto &q : queries) {
        for (auto &t : maps) {
            if (t->pattern_matching() && !q.pattern_too) continue;
            auto m = t->find(q.key);
            if (!m || m->value.empty()) continue;  // "" is no result (Postfix warns)
            AddressMatch r;
            r.table = t.get();
            r.line = m->line;
            r.key = q.key;
            bool first = true;
            for (auto &item : split_result(m->value)) {
                std::string out = item;
                bool at_domain = first && out.size() > 1 && out.front() == '@';
                if (at_domain) out = a.local + out;
                else if (propagate && q.ext_stripped && !ext.empty()) {
                    auto s = split_at(out);
                    out = s.local + ext + (s.has_at ? "@" + s.domain : "");
                }
                r.addresses.push_back(qualify(out));
                first = false;
            }
            if (r.addresses.empty()) continue;
            return r;
        }
    }
    return std::nullopt;
}

}  // namespace relay::rewrite
