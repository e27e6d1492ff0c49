// generic.hpp - smtp_generic_maps: addresses rewritten on the way out.
//
// Postfix's generic(5) mapping for a host without a domain of its own:
// local addresses (root@host.lan, www-data@host.lan) become addresses
// that are valid on the Internet, but only when the mail leaves. The queue
// keeps what pickup wrote: mailq, bounces and the log show the addresses
// the message was submitted with; the smarthost sees the rewritten ones.
//
// What is rewritten, at send time: the envelope sender (MAIL FROM), each
// envelope recipient (RCPT TO) and every address in the header fields that
// carry addresses (From, Sender, Reply-To, Errors-To, Return-Receipt-To,
// Disposition-Notification-To, Mail-Reply-To, Mail-Followup-To, To, Cc,
// Bcc, Apparently-To and the Resent-* forms). Only the addr-spec is
// replaced: display names, comments and group syntax stay as written. The
// body, Subject: and Message-ID: are never touched. The null sender <>
// stays <>.
//
// Lookups are those of canonical(5) (rewrite/address_lookup.hpp): for
// user+ext@domain the keys user+ext@domain, user@domain, then user+ext and
// user when domain is $myorigin or a local domain, then @domain; regexp:
// and pcre: tables see the whole address. A result "@domain" keeps the
// user part; a result without a domain is qualified with $myorigin. The
// address extension is copied into the result when
// propagate_unmatched_extensions names "generic". Unlike canonical(5) the
// mapping is applied once, never repeated on its own result; a result
// with several addresses uses the first one and logs a warning.
//
// Streaming: header_section() works on the header section alone
// (message_reader.hpp reads it first, hands it here, then streams the
// body untouched), so a large message is never held in memory.
//
// Thread-safe: the delivery threads share one GenericMaps; lookups are
// serialised (they are short, and pattern tables keep match state).
//
// Errors: a table that cannot be opened is relay::Fatal (EX_CONFIG) from
// the constructor: the run stops and every message stays queued. A bad
// table line is skipped with a warning, as Postfix does.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace relay::smtp {

class GenericMaps {
public:
    explicit GenericMaps(const config::Config &cfg);
    ~GenericMaps();
    GenericMaps(const GenericMaps &) = delete;
    GenericMaps &operator=(const GenericMaps &) = delete;

    // No table configured: every function returns its input.
    bool empty() const;

    // One envelope or header address ("" stays "").
    std::string address(std::string_view addr) const;

    // TEXT is a header section with LF line ends, up to and including the
    // empty line that ends it. Returns it with the address headers
    // rewritten; unchanged fields keep their exact text.
    std::string header_section(std::string_view text) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace relay::smtp
