#include "smtp/generic.hpp"

#include <mutex>

#include "log/log.hpp"
#include "message/address.hpp"
#include "message/header.hpp"
#include "rewrite/address_lookup.hpp"
#include "rewrite/pipeline_tables.hpp"
#include "rewrite/table.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace relay::smtp {
namespace {

// The header fields that carry addresses, as pickup's rewriting knows them.
const char *const kAddressHeaders[] = {
    "From",      "Sender",    "Reply-To",  "Errors-To",     "Return-Receipt-To",
    "Disposition-Notification-To",  "Mail-Reply-To",     "Resent-From", "Resent-Sender",
    "Resent-Reply-To",      "To",        "Cc",        "Bcc",       "Resent-To",
    "Resent-Cc", "Resent-Bcc", "Apparently-To", "Mail-Followup-To"};

bool is_address_header(std::string_view name) {
    for (auto *n : kAddressHeaders)
        if (util::iequals(name, n)) return true;
    return false;
}

bool has_class(const std::vector<std::string> &classes, std::string_view name) {
    for (auto &c : classes)
        for (auto &part : util::split(c, ','))
            if (util::trim(part) == name) return true;
    return false;
}

}  // namespace

struct GenericMaps::Impl {
    explicit Impl(const config::Config &c) : cfg(c), ctx(cfg) {}
    config::Config cfg;  // ctx refers to it
    rewrite::AddressContext ctx;
    rewrite::TableList maps;
    bool propagate = false;
    std::mutex lock;  // pattern tables keep match state: one lookup at a time
};

GenericMaps::GenericMaps(const config::Config &cfg) : impl_(std::make_unique<Impl>(cfg)) {
    for (auto &list : cfg.rewrite.smtp_generic_maps)
        for (auto &spec : rewrite::split_table_list(list)) {
            auto t = rewrite::open_table(spec);
            if (!t) throw Fatal(Exit::Config, "smtp_generic_maps " + spec + ": " + t.error().message);
            for (auto &w : (*t)->warnings()) log::warning(w);
            impl_->maps.push_back(std::move(*t));
        }
    impl_->propagate = has_class(cfg.rewrite.propagate_unmatched_extensions, "generic");
}

GenericMaps::~GenericMaps() = default;

bool GenericMaps::empty() const { return impl_->maps.empty(); }

std::string GenericMaps::address(std::string_view addr) const {
    if (addr.empty() || impl_->maps.empty()) return std::string(addr);
    std::lock_guard<std::mutex> hold(impl_->lock);
    auto m = impl_->ctx.find(impl_->maps, addr, impl_->propagate);
    if (!m || m->addresses.empty()) return std::string(addr);
    if (m->addresses.size() > 1)
        log::warning(m->table->spec() + ": multi-valued smtp_generic_maps result for " +
                     std::string(addr) + ": using " + m->addresses.front());
    const std::string &out = m->addresses.front();
    if (out.empty() || util::has_ctl_line_break(out)) return std::string(addr);
    return out;
}

std::string GenericMaps::header_section(std::string_view text) const {
    if (impl_->maps.empty()) return std::string(text);
    auto msg = message::Message::parse_entity(text);
    bool changed = false;
    for (auto &h : msg.headers()) {
        if (!is_address_header(h.name)) continue;
        auto value = h.value();
        auto out = message::rewrite_address_list(value, [this](const std::string &a) {
            return address(a);
        });
        if (out != value) {
            message::Message::set_value(h, out);
            changed = true;
        }
    }
    return changed ? msg.str() : std::string(text);
}

}  // namespace relay::smtp
