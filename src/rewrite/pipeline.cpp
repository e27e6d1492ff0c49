// pipeline.cpp - envelope rewriting in cleanup(8) order (headers are in
// pipeline_headers.cpp).
#include "rewrite/pipeline.hpp"

#include <algorithm>
#include <cerrno>

#include "log/log.hpp"
#include "rewrite/address_lookup.hpp"
#include "rewrite/aliases.hpp"
#include "rewrite/pipeline_tables.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace relay::rewrite {

namespace {

constexpr int kCanonicalRecursion = 10;  // as Postfix's cleanup for 1:1 maps
constexpr unsigned kAliasNesting = 100;
constexpr unsigned kIncludeNesting = 10;

bool has_class(const std::vector<std::string> &classes, const char *name) {
    for (auto &c : classes)
        for (auto &part : util::split(c, ','))
            if (util::trim(part) == name) return true;
    return false;
}

std::string join(const std::vector<std::string> &v) {
    std::string s;
    for (auto &x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

bool contains_ci(const std::vector<std::string> &v, const std::string &a) {
    for (auto &x : v)
        if (util::iequals(x, a)) return true;
    return false;
}

// A table that cannot be opened is a configuration error, except that a
// missing alias file only means there are no aliases (a null client need
// not have /etc/aliases).
void load_list(const std::vector<std::string> &specs, TableFormat fmt, TableList &out,
               std::vector<std::string> &warnings) {
    for (auto &list : specs)
        for (auto &spec : split_table_list(list)) {
            auto t = open_table(spec, fmt);
            if (!t && fmt == TableFormat::Aliases && t.error().sys_errno == ENOENT) {
                warnings.push_back(spec + ": " + t.error().message + ": no aliases");
                continue;
            }
            if (!t) throw Fatal(Exit::Config, spec + ": " + t.error().message);
            for (auto &w : (*t)->warnings()) warnings.push_back(w);
            out.push_back(std::move(*t));
        }
}

}  // namespace

std::vector<std::string> split_table_list(std::string_view list) {
    std::vector<std::string> out;
    std::vector<std::string> items;
    // Commas and white space separate tables, except inside { }.
    std::string cur;
    int depth = 0;
    for (char c : list) {
        if (c == '{') ++depth;
        if (c == '}' && depth > 0) --depth;
        if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n')) {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
            continue;
        }
        cur += c;
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

Pipeline::Tables::Tables(const config::Config &cfg) : ctx(cfg) {
    const auto &r = cfg.rewrite;
    load_list(r.canonical_maps, TableFormat::Map, canonical, warnings);
    load_list(r.sender_canonical_maps, TableFormat::Map, sender_canonical, warnings);
    load_list(r.recipient_canonical_maps, TableFormat::Map, recipient_canonical, warnings);
    load_list(r.virtual_alias_maps, TableFormat::Map, virtual_alias, warnings);
    load_list(r.alias_maps, TableFormat::Aliases, aliases, warnings);
    auto &cc = r.canonical_classes;
    canon_env_from = has_class(cc, "envelope_sender");
    canon_env_rcpt = has_class(cc, "envelope_recipient");
    canon_hdr_from = has_class(cc, "header_sender");
    canon_hdr_rcpt = has_class(cc, "header_recipient");
    auto &mc = r.masquerade_classes;
    masq_env_from = has_class(mc, "envelope_sender");
    masq_env_rcpt = has_class(mc, "envelope_recipient");
    masq_hdr_from = has_class(mc, "header_sender");
    masq_hdr_rcpt = has_class(mc, "header_recipient");
    auto &pe = r.propagate_unmatched_extensions;
    prop_canonical = has_class(pe, "canonical");
    prop_virtual = has_class(pe, "virtual");
    prop_alias = has_class(pe, "alias");
    for (auto &list : r.masquerade_domains)
        for (auto &d : split_table_list(list)) masq_domains.push_back(util::to_lower(d));
    for (auto &list : r.masquerade_exceptions)
        for (auto &u : split_table_list(list)) masq_exceptions.push_back(util::to_lower(u));
}

Pipeline::Pipeline(const config::Config &cfg) : cfg_(cfg), tables_(std::make_unique<Tables>(cfg)) {
    for (auto &w : tables_->warnings) log::warning(w);
}
Pipeline::~Pipeline() = default;

const std::vector<std::string> &Pipeline::warnings() const { return tables_->warnings; }

void Pipeline::step(const char *what, const std::string &table, int line, const std::string &from,
                    const std::string &to) const {
    if (trace_) trace_(Step{what, table, line, from, to});
}

std::string Pipeline::qualify(std::string_view addr) const {
    std::string out = tables_->ctx.qualify(addr);
    if (out != addr) step("qualify", "", 0, std::string(addr), out);
    return out;
}

std::string Pipeline::canonical(std::string addr, bool sender, bool header) const {
    auto &t = *tables_;
    struct Stage {
        const char *what;
        const TableList *maps;
        bool on;
    };
    const Stage stages[] = {
        {sender ? "sender_canonical_maps" : "recipient_canonical_maps",
         sender ? &t.sender_canonical : &t.recipient_canonical, true},
        {"canonical_maps", &t.canonical,
         sender ? (header ? t.canon_hdr_from : t.canon_env_from)
                : (header ? t.canon_hdr_rcpt : t.canon_env_rcpt)},
    };
    for (auto &s : stages) {
        if (!s.on || s.maps->empty()) continue;
        for (int n = 0;; ++n) {
            if (n == kCanonicalRecursion)
                throw Fatal(Exit::TempFail, std::string("unreasonable ") + s.what +
                                                " map nesting for " + addr +
                                                " -- message not accepted, try again later");
            auto m = t.ctx.find(*s.maps, addr, t.prop_canonical);
            if (!m) break;
            if (m->addresses.size() > 1)
                log::warning(std::string("multi-valued ") + s.what + " entry for " + addr);
            const std::string &next = m->addresses.front();
            if (util::iequals(next, addr)) break;
            step(s.what, m->table->spec(), m->line, addr, next);
            addr = next;
        }
    }
    return addr;
}

std::string Pipeline::masquerade(std::string addr) const {
    auto &t = *tables_;
    if (t.masq_domains.empty()) return addr;
    auto a = split_at(addr);
    if (!a.has_at || a.domain.empty()) return addr;
    if (std::find(t.masq_exceptions.begin(), t.masq_exceptions.end(), util::to_lower(a.local)) !=
        t.masq_exceptions.end())
        return addr;
    std::string domain = util::to_lower(a.domain);
    for (auto entry : t.masq_domains) {
        bool negated = false;
        while (!entry.empty() && entry.front() == '!') {
            negated = !negated;
            entry.erase(0, 1);
        }
        if (entry.empty()) continue;
        if (domain == entry) return addr;  // already as short as it gets
        if (domain.size() > entry.size() && domain.compare(domain.size() - entry.size(), entry.size(), entry) == 0 &&
            domain[domain.size() - entry.size() - 1] == '.') {
            if (negated) return addr;
            std::string out = a.local + "@" + entry;
            step("masquerade_domains", "", 0, addr, out);
            return out;
        }
    }
    return addr;
}

std::string Pipeline::header_address(std::string_view addr, bool sender_class) const {
    auto &t = *tables_;
    std::string a = qualify(addr);
    if (a.empty()) return a;
    a = canonical(std::move(a), sender_class, true);
    if (sender_class ? t.masq_hdr_from : t.masq_hdr_rcpt) a = masquerade(std::move(a));
    return a;
}

std::string Pipeline::sender(std::string_view addr) const {
    if (addr.empty()) return {};
    auto &t = *tables_;
    std::string a = qualify(addr);
    a = canonical(std::move(a), true, false);
    if (t.masq_env_from) a = masquerade(std::move(a));
    if (!cfg_.rewrite.force_from.empty() && a != cfg_.rewrite.force_from) {
        step("force_from", "", 0, a, cfg_.rewrite.force_from);
        a = cfg_.rewrite.force_from;
    }
    return a;
}

void Pipeline::expand_virtual(const std::string &addr, std::vector<std::string> &path,
                              unsigned depth, std::vector<std::string> &out,
                              const std::string &original) const {
    auto &t = *tables_;
    if (depth > cfg_.rewrite.virtual_alias_recursion_limit)
        throw Fatal(Exit::TempFail, "unreasonable virtual_alias_maps map nesting for " + original +
                                        " -- message not accepted, try again later");
    auto m = t.ctx.find(t.virtual_alias, addr, t.prop_virtual);
    if (!m) {
        if (!contains_ci(out, addr)) out.push_back(addr);
    } else {
        step("virtual_alias_maps", m->table->spec(), m->line, addr, join(m->addresses));
        path.push_back(addr);
        for (auto &next : m->addresses) {
            if (contains_ci(path, next)) {
                // maps to itself (or back to where it came from): keep it
                if (!contains_ci(out, next)) out.push_back(next);
            } else {
                expand_virtual(next, path, depth + 1, out, original);
            }
        }
        path.pop_back();
    }
    if (out.size() > cfg_.rewrite.virtual_alias_expansion_limit)
        throw Fatal(Exit::TempFail, "unreasonable virtual_alias_maps map expansion size for " +
                                        original + " -- message not accepted, try again later");
}

namespace {

// Collects the targets of an alias value, reading :include: files.
void alias_targets(const std::string &value, const std::string &name, unsigned depth,
                   std::vector<std::string> &out) {
    for (auto &e : split_alias_list(value)) {
        auto target = classify_alias_target(e);
        switch (target.kind) {
        case AliasTargetKind::Address:
            if (!target.text.empty()) out.push_back(target.text);
            break;
        case AliasTargetKind::Command:
            log::warning("alias " + name + ": refusing command target \"|" + target.text +
                         "\": a null client delivers nothing locally");
            break;
        case AliasTargetKind::File:
            log::warning("alias " + name + ": refusing file target \"" + target.text +
                         "\": a null client delivers nothing locally");
            break;
        case AliasTargetKind::Include: {
            if (depth >= kIncludeNesting) {
                log::warning("alias " + name + ": :include: nesting too deep at " + target.text);
                break;
            }
            auto list = read_include_file(target.text);
            if (!list) {
                log::warning("alias " + name + ": " + list.error().message);
                break;
            }
            std::string joined;
            for (auto &x : *list) joined += x + ",";
            alias_targets(joined, name, depth + 1, out);
            break;
        }
        }
    }
}

}  // namespace

void Pipeline::expand_aliases(const std::string &addr, std::vector<std::string> &path,
                              unsigned depth, std::vector<std::string> &out) const {
    auto &t = *tables_;
    auto a = split_at(addr);
    std::optional<Match> m;
    const Table *hit = nullptr;
    std::string ext;
    if (!t.aliases.empty() && (!a.has_at || t.ctx.is_local_domain(a.domain)) &&
        depth < kAliasNesting && !contains_ci(path, addr)) {
        std::string base = a.local;
        ext = t.ctx.split_extension(base);
        std::vector<std::string> keys{a.local};
        if (!ext.empty()) keys.push_back(base);
        for (size_t k = 0; k < keys.size() && !m; ++k)
            for (auto &tab : t.aliases)
                if ((m = tab->find(keys[k]))) {
                    hit = tab.get();
                    if (k == 0) ext.clear();  // the extension matched
                    break;
                }
    }
    if (!m) {
        if (!contains_ci(out, addr)) out.push_back(addr);
        return;
    }
    std::vector<std::string> targets;
    alias_targets(m->value, util::to_lower(a.local), 0, targets);
    std::vector<std::string> next;
    for (auto &x : targets) {
        std::string q = t.ctx.qualify(x);
        if (t.prop_alias && !ext.empty()) {
            auto s = split_at(q);
            q = s.local + ext + (s.has_at ? "@" + s.domain : "");
        }
        next.push_back(std::move(q));
    }
    step("alias_maps", hit->spec(), m->line, addr, join(next));
    if (next.empty()) {
        log::warning("alias " + util::to_lower(a.local) + ": no deliverable target for " + addr);
        return;
    }
    path.push_back(addr);
    for (auto &n : next) {
        auto s = split_at(n);
        bool self = util::iequals(s.local, a.local) && (!s.has_at || t.ctx.is_local_domain(s.domain));
        if (self || contains_ci(path, n)) {
            if (!contains_ci(out, n)) out.push_back(n);
        } else {
            expand_aliases(n, path, depth + 1, out);
        }
    }
    path.pop_back();
}

std::vector<std::string> Pipeline::recipient(std::string_view addr) const {
    auto &t = *tables_;
    std::string a = qualify(addr);
    if (a.empty()) return {};
    a = canonical(std::move(a), false, false);
    if (t.masq_env_rcpt) a = masquerade(std::move(a));
    std::vector<std::string> virt, path;
    expand_virtual(a, path, 0, virt, a);
    std::vector<std::string> out;
    for (auto &v : virt) {
        std::vector<std::string> apath;
        expand_aliases(v, apath, 0, out);
    }
    return out;
}

}  // namespace relay::rewrite
