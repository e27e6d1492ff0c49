#include "rewrite/pipeline.hpp"

#include "message/address.hpp"
#include "util/strings.hpp"

namespace relay::rewrite {

struct Pipeline::Tables {};

Pipeline::Pipeline(const config::Config &cfg) : cfg_(cfg), tables_(std::make_unique<Tables>()) {}
Pipeline::~Pipeline() = default;

std::string Pipeline::qualify(std::string_view addr) const {
    if (addr.empty()) return {};
    message::Address a;
    if (!message::split_address(addr, a)) return std::string(addr);
    if (a.domain.empty()) {
        if (!cfg_.rewrite.append_at_myorigin) return a.str();
        a.domain = cfg_.myorigin;
    } else if (cfg_.rewrite.append_dot_mydomain && a.domain.find('.') == std::string::npos &&
               a.domain.front() != '[') {
        a.domain += "." + cfg_.mydomain;
    }
    return a.local + "@" + a.domain;
}

std::string Pipeline::sender(std::string_view addr) const { return qualify(addr); }

std::vector<std::string> Pipeline::recipient(std::string_view addr) const {
    return {qualify(addr)};
}

void Pipeline::headers(message::Message &msg) const {
    static const char *const address_headers[] = {
        "From", "Sender", "Reply-To", "To", "Cc", "Bcc",
        "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc", "Resent-Bcc",
        "Errors-To", "Return-Receipt-To", "Disposition-Notification-To", "Mail-Followup-To",
        "Mail-Reply-To"};
    for (auto &h : msg.headers()) {
        bool is_addr = false;
        for (auto *n : address_headers) is_addr = is_addr || util::iequals(h.name, n);
        if (!is_addr) continue;
        auto value = h.value();
        auto out = message::rewrite_address_list(value, [this](const std::string &a) {
            return qualify(a);
        });
        if (out != value) message::Message::set_value(h, out);
    }
}

}  // namespace relay::rewrite
