// pipeline.hpp - the address rewriting pipeline, in Postfix cleanup(8) order.
//
// pickup calls this once per message, before the commit:
//   1. qualify bare local parts and host-only domains (append_at_myorigin,
//      append_dot_mydomain)
//   2. canonical_maps, then sender_/recipient_canonical_maps, per
//      canonical_classes
//   3. masquerade_domains (with ! exceptions), masquerade_exceptions
//   4. recipients only: virtual_alias_maps (recursive, one-to-many) and
//      aliases(5) for local recipients
// Header addresses follow the same steps for the header_* classes.
// smtp_generic_maps is not applied here: the SMTP client applies it when the
// message is sent.
//
// Tables are loaded once per Pipeline; a bad line is skipped with a warning
// naming file and line (see table.hpp). A table that cannot be opened is a
// configuration error (relay::Fatal, EX_CONFIG / temporary in pickup).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "message/header.hpp"

namespace relay::rewrite {

class Pipeline {
public:
    explicit Pipeline(const config::Config &cfg);
    ~Pipeline();
    Pipeline(const Pipeline &) = delete;
    Pipeline &operator=(const Pipeline &) = delete;

    // Envelope sender: qualification, canonical, masquerading. "" stays "".
    std::string sender(std::string_view addr) const;
    // Envelope recipient: all steps; may expand to several addresses (or
    // none, with a warning, when an alias expands only to refused targets).
    std::vector<std::string> recipient(std::string_view addr) const;
    // Header addresses (From, Sender, Reply-To, To, Cc, Resent-*, ...).
    void headers(message::Message &msg) const;

    // Only step 1: qualify ADDR with myorigin / mydomain as configured.
    std::string qualify(std::string_view addr) const;

private:
    const config::Config &cfg_;
    struct Tables;
    std::unique_ptr<Tables> tables_;
};

}  // namespace relay::rewrite
