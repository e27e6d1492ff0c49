#include "smtp/route.hpp"

#include <set>

#include "log/log.hpp"
#include "rewrite/pipeline_tables.hpp"
#include "rewrite/table.hpp"
#include "smtp/credentials.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace relay::smtp {
namespace {

std::string join(const std::vector<std::string> &v, const char *sep) {
    std::string s;
    for (auto &x : v) s += (s.empty() ? "" : sep) + x;
    return s;
}

}  // namespace

std::string Route::key() const { return join(relayhost, ",") + "|" + sasl_key; }

std::string Route::label() const { return relayhost.empty() ? "none" : join(relayhost, ", "); }

struct Router::Impl {
    std::vector<std::string> default_relays;
    std::vector<std::unique_ptr<rewrite::Table>> relay_maps;
    bool sender_auth = false;
    std::set<std::string> sasl_keys;  // lower-case keys of the password map
};

Router::Router(const config::Config &cfg) : impl_(std::make_unique<Impl>()) {
    impl_->default_relays = cfg.smtp.relayhost;
    for (auto &spec : rewrite::split_table_list(cfg.smtp.sender_dependent_relayhost_maps)) {
        auto t = rewrite::open_table(spec);
        if (!t)
            throw Fatal(Exit::Config,
                        "sender_dependent_relayhost_maps " + spec + ": " + t.error().message);
        for (auto &w : (*t)->warnings()) log::warning(w);
        impl_->relay_maps.push_back(std::move(*t));
    }
    impl_->sender_auth = cfg.smtp.sender_dependent_authentication && !cfg.smtp.sasl_password_maps.empty();
    if (impl_->sender_auth) {
        std::string path = sasl_password_path(cfg.smtp);
        auto text = read_secret_file(path, "sasl_password_maps");
        if (!text) throw Fatal(Exit::Config, text.error().message);
        for (auto &line : util::split(text->str(), '\n')) {
            Secret wipe_line(std::move(line));
            std::string_view t = util::trim(wipe_line.str());
            if (t.empty() || t.front() == '#') continue;
            size_t sp = t.find_first_of(" \t");
            if (sp == std::string_view::npos) continue;  // credentials.cpp warns about it
            impl_->sasl_keys.insert(util::to_lower(t.substr(0, sp)));
        }
    }
}

Router::~Router() = default;

Route Router::route(std::string_view sender) const {
    Route r;
    r.relayhost = impl_->default_relays;
    if (!impl_->relay_maps.empty()) {
        std::vector<std::pair<std::string, bool>> keys;  // key, also for pattern tables
        if (sender.empty()) {
            keys.push_back({"<>", true});
        } else {
            keys.push_back({std::string(sender), true});
            auto at = sender.rfind('@');
            if (at != std::string_view::npos && at + 1 < sender.size())
                keys.push_back({"@" + std::string(sender.substr(at + 1)), false});
        }
        bool done = false;
        for (auto &[key, pattern_too] : keys) {
            for (auto &t : impl_->relay_maps) {
                if (t->pattern_matching() && !pattern_too) continue;
                auto v = t->lookup(key);
                if (!v) continue;
                std::string_view value = util::trim(*v);
                done = true;
                if (!util::iequals(value, "DUNNO")) {
                    auto list = util::split_words(value);
                    if (!list.empty()) {
                        r.relayhost = std::move(list);
                        r.by_sender = true;
                    }
                }
                break;
            }
            if (done) break;
        }
    }
    if (impl_->sender_auth) {
        for (auto &k : sender_sasl_keys(sender))
            if (impl_->sasl_keys.count(k)) {
                r.sasl_key = k;
                break;
            }
    }
    return r;
}

}  // namespace relay::smtp
