// pipeline_headers.cpp - header address rewriting and force_from's From:.
//
// Which headers hold sender and which recipient addresses follows Postfix
// cleanup(8): only the addr-specs are replaced; display names, comments and
// group syntax stay as the author wrote them.
#include "message/address.hpp"
#include "rewrite/address_lookup.hpp"
#include "rewrite/pipeline.hpp"
#include "rewrite/pipeline_tables.hpp"
#include "util/strings.hpp"

namespace relay::rewrite {
namespace {

const char *const kSenderHeaders[] = {
    "From", "Sender", "Reply-To", "Errors-To", "Return-Receipt-To", "Disposition-Notification-To",
    "Mail-Reply-To", "Resent-From", "Resent-Sender", "Resent-Reply-To"};
const char *const kRecipientHeaders[] = {"To",        "Cc",        "Bcc",       "Resent-To",
                                         "Resent-Cc", "Resent-Bcc", "Apparently-To",
                                         "Mail-Followup-To"};

int header_class(const std::string &name) {
    for (auto *n : kSenderHeaders)
        if (util::iequals(name, n)) return 1;
    for (auto *n : kRecipientHeaders)
        if (util::iequals(name, n)) return 2;
    return 0;
}

std::string quote_phrase(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

// The author as a person would name them: the display name, or for the
// comment form "root (Cron Daemon)" the whole of it, or the bare address.
std::string author_name(std::string_view from_value, const message::AddressRef &a) {
    if (a.display.empty()) return a.address;
    bool angle = from_value.find('<') != std::string_view::npos;
    if (angle || a.display.find(a.address) != std::string::npos) return a.display;
    return a.address + " (" + a.display + ")";
}

}  // namespace

void Pipeline::headers(message::Message &msg, std::string_view envelope_sender) const {
    std::string original_from;
    if (auto *f = msg.find("From")) original_from = f->value();

    for (auto &h : msg.headers()) {
        int cls = header_class(h.name);
        if (cls == 0) continue;
        auto value = h.value();
        auto out = message::rewrite_address_list(value, [this, cls](const std::string &a) {
            return header_address(a, cls == 1);
        });
        if (out != value) message::Message::set_value(h, out);
    }

    const std::string &force = cfg_.rewrite.force_from;
    if (force.empty()) return;
    std::string name;
    std::string real;  // the author's address, when it is not a local account
    auto parsed = message::parse_address_list(original_from);
    if (!parsed.addresses.empty()) {
        const auto &a = parsed.addresses.front();
        name = author_name(original_from, a);
        real = a.address;
    } else if (!envelope_sender.empty()) {
        name = std::string(envelope_sender);
        real = std::string(envelope_sender);
    }
    // A local account (root, root@$myhostname, user@$myorigin) is not a
    // real address to reply to.
    auto orig = split_at(real);
    if (!orig.has_at || orig.domain.empty() || tables_->ctx.user_keys_apply(orig.domain))
        real.clear();
    else
        real = header_address(real, true);
    auto account = split_at(force).local;
    std::string from = name.empty() ? "<" + force + ">"
                                    : quote_phrase(name + " via " + account) + " <" + force + ">";
    msg.remove("From");
    msg.add("From", from);
    step("force_from", "", 0, original_from, from);
    if (!real.empty() && !util::iequals(real, force) && !msg.has("Reply-To")) {
        msg.add("Reply-To", real);
        step("force_from", "", 0, "", "Reply-To: " + real);
    }
}

}  // namespace relay::rewrite
