// pipeline.hpp - the address rewriting pipeline, in Postfix cleanup(8) order.
//
// pickup calls this once per message, before the commit:
//   1. qualify bare local parts and host-only domains (append_at_myorigin,
//      append_dot_mydomain)
//   2. sender_canonical_maps (senders) or recipient_canonical_maps
//      (recipients), then canonical_maps, per canonical_classes; canonical
//      mapping is repeated on its result, as in Postfix
//   3. masquerade_domains (with ! exceptions), masquerade_exceptions, per
//      masquerade_classes
//   4. recipients only: virtual_alias_maps (recursive, one-to-many,
//      duplicates removed; an address that maps to itself, or back to an
//      address it came from, is kept as it is) and then aliases(5) for
//      recipients in a local domain ($myhostname, localhost,
//      localhost.$mydomain, [rewrite] local_domains), with :include:
//   5. force_from, when set: the envelope sender becomes that account and
//      the From: header names it, keeping the author as display name
//      ("root (Cron Daemon) via torres" <torres@example.net>) and adding
//      the author's real address as Reply-To: when there is one.
// Header addresses follow steps 1-3 for the header_* classes (From, Sender,
// Reply-To, ... and To, Cc, Bcc, Resent-*); display names, comments and
// groups stay as written.
// smtp_generic_maps is not applied here: the SMTP client applies it when the
// message is sent.
//
// A null client delivers nothing locally: alias targets that are files or
// commands are dropped with a warning.
//
// Tables are loaded once per Pipeline; a bad line is skipped with a warning
// naming file and line (see table.hpp); warnings() keeps them. Errors: a
// table that cannot be opened is relay::Fatal (EX_CONFIG) from the
// constructor. Expansion beyond virtual_alias_recursion_limit or
// virtual_alias_expansion_limit, or a canonical mapping loop, is
// relay::Fatal (EX_TEMPFAIL): like Postfix, the message is not accepted
// now and pickup tries again later.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "message/header.hpp"

namespace relay::rewrite {

// One rewriting step that changed an address (for relay address-test).
struct Step {
    std::string what;   // "qualify", "canonical_maps", "virtual_alias_maps", ...
    std::string table;  // "regexp:/etc/relay/virtual" or "" for built-in steps
    int line = 0;       // line of the table that matched, 0 when none
    std::string from;
    std::string to;     // several addresses joined by ", "; "" when dropped
};
using Trace = std::function<void(const Step &)>;

class Pipeline {
public:
    explicit Pipeline(const config::Config &cfg);
    ~Pipeline();
    Pipeline(const Pipeline &) = delete;
    Pipeline &operator=(const Pipeline &) = delete;

    // Envelope sender: qualification, canonical, masquerading, force_from.
    // "" (the null sender) stays "".
    std::string sender(std::string_view addr) const;
    // Envelope recipient: all steps; may expand to several addresses (or
    // none, with a warning, when an alias expands only to refused targets).
    std::vector<std::string> recipient(std::string_view addr) const;
    // Header addresses (From, Sender, Reply-To, To, Cc, Resent-*, ...), and
    // force_from's From:/Reply-To:. ENVELOPE_SENDER names the author when
    // there is no From: header.
    void headers(message::Message &msg, std::string_view envelope_sender = {}) const;

    // Only step 1: qualify ADDR with myorigin / mydomain as configured.
    std::string qualify(std::string_view addr) const;
    // Steps 1-3 for one header address of the sender or recipient class.
    std::string header_address(std::string_view addr, bool sender_class) const;

    // Warnings from loading the tables, in order ("regexp map F, line N: ...").
    const std::vector<std::string> &warnings() const;
    // Calls TRACE for every step that changes an address.
    void set_trace(Trace trace) { trace_ = std::move(trace); }

private:
    const config::Config &cfg_;
    struct Tables;
    std::unique_ptr<Tables> tables_;
    Trace trace_;

    std::string canonical(std::string addr, bool sender, bool header) const;
    std::string masquerade(std::string addr) const;
    void expand_virtual(const std::string &addr, std::vector<std::string> &path, unsigned depth,
                        std::vector<std::string> &out, const std::string &original) const;
    void expand_aliases(const std::string &addr, std::vector<std::string> &path, unsigned depth,
                        std::vector<std::string> &out) const;
    void step(const char *what, const std::string &table, int line, const std::string &from,
              const std::string &to) const;
};

}  // namespace relay::rewrite
