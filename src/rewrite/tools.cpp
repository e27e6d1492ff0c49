#include "rewrite/tools.hpp"

#include <cerrno>

#include <istream>
#include <ostream>

#include "log/log.hpp"
#include "rewrite/pipeline.hpp"
#include "rewrite/pipeline_tables.hpp"
#include "rewrite/table.hpp"
#include "util/error.hpp"

namespace relay::rewrite {
namespace {

std::string prog() {
    const auto &p = log::program_name();
    return p.empty() ? "relay" : p;
}

int query(const std::vector<std::string> &keys, const std::string &spec, TableFormat fmt,
          std::istream &in, std::ostream &out, std::ostream &err) {
    auto t = open_table(spec, fmt);
    if (!t) {
        err << prog() << ": fatal: " << t.error().message << "\n";
        return 1;
    }
    for (auto &w : (*t)->warnings()) err << prog() << ": warning: " << w << "\n";
    const char *sep = fmt == TableFormat::Aliases ? ":\t" : "\t";
    bool found = false;
    auto one = [&](const std::string &key, bool echo_key) {
        auto v = (*t)->lookup(key);
        if (!v) return;
        if (v->empty()) {
            // Postfix reports a table that answers "" and prints it anyway.
            err << prog() << ": warning: table " << spec << ": key " << key
                << ": empty string result is not allowed\n";
            err << prog() << ": warning: table " << spec
                << " should return NO RESULT in case of NOT FOUND\n";
        }
        found = true;
        if (echo_key) out << key << sep;
        out << *v << "\n";
    };
    for (auto &k : keys) {
        if (k == "-") {
            std::string line;
            while (std::getline(in, line)) {
                if (!line.empty() && line.back() == '\r') line.pop_back();
                one(line, true);
            }
        } else {
            one(k, false);
        }
    }
    out.flush();
    return found ? 0 : 1;
}

}  // namespace

int postmap_query(const std::vector<std::string> &keys, const std::string &spec, std::istream &in,
                  std::ostream &out, std::ostream &err) {
    return query(keys, spec, TableFormat::Map, in, out, err);
}

int postalias_query(const std::vector<std::string> &keys, const std::string &spec,
                    std::istream &in, std::ostream &out, std::ostream &err) {
    return query(keys, spec, TableFormat::Aliases, in, out, err);
}

int address_test(const config::Config &cfg, const std::string &address, AddressRole role,
                 std::ostream &out, std::ostream &err) {
    try {
        Pipeline p(cfg);
        for (auto &w : p.warnings()) err << prog() << ": warning: " << w << "\n";
        p.set_trace([&out](const Step &s) {
            out << s.what;
            if (!s.table.empty()) {
                out << " " << s.table;
                if (s.line > 0) out << ":" << s.line;
            }
            out << ": " << (s.from.empty() ? "<>" : s.from) << " -> "
                << (s.to.empty() ? "(nothing)" : s.to) << "\n";
        });
        if (role == AddressRole::Sender) {
            // The trace prints as the rewriting runs: compute first.
            std::string result = p.sender(address);
            out << "result: <" << result << ">\n";
        } else {
            auto list = p.recipient(address);
            if (list.empty()) out << "result: (no recipients)\n";
            for (auto &a : list) out << "result: <" << a << ">\n";
        }
        return 0;
    } catch (const Fatal &f) {
        err << prog() << ": fatal: " << f.what() << "\n";
        return 1;
    }
}

int check_tables(const config::Config &cfg, std::ostream &err) {
    struct Param {
        const char *name;
        const std::vector<std::string> *specs;
        TableFormat fmt;
    };
    const auto &r = cfg.rewrite;
    const Param params[] = {
        {"canonical_maps", &r.canonical_maps, TableFormat::Map},
        {"sender_canonical_maps", &r.sender_canonical_maps, TableFormat::Map},
        {"recipient_canonical_maps", &r.recipient_canonical_maps, TableFormat::Map},
        {"virtual_alias_maps", &r.virtual_alias_maps, TableFormat::Map},
        {"alias_maps", &r.alias_maps, TableFormat::Aliases},
        {"smtp_generic_maps", &r.smtp_generic_maps, TableFormat::Map},
    };
    int status = 0;
    for (auto &p : params)
        for (auto &list : *p.specs)
            for (auto &spec : split_table_list(list)) {
                auto t = open_table(spec, p.fmt);
                if (!t && p.fmt == TableFormat::Aliases && t.error().sys_errno == ENOENT) {
                    // As at pickup: no aliases file means no aliases.
                    err << prog() << ": warning: [rewrite] " << p.name << ": " << spec << ": "
                        << t.error().message << " (no aliases)\n";
                    if (status == 0) status = 1;
                    continue;
                }
                if (!t) {
                    err << prog() << ": error: [rewrite] " << p.name << ": " << spec << ": "
                        << t.error().message << "\n";
                    status = 2;
                    continue;
                }
                for (auto &w : (*t)->warnings()) {
                    err << prog() << ": warning: [rewrite] " << p.name << ": " << w << "\n";
                    if (status == 0) status = 1;
                }
            }
    return status;
}

}  // namespace relay::rewrite
