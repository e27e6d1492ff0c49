// header.hpp - RFC 5322 header sections as callers really write them.
//
// A Message splits raw input into header fields and a body. A field keeps
// its exact original text (name, colon, folded value with its line breaks)
// so that untouched headers go out byte for byte; value() gives the
// unfolded value. What counts as the end of the header section follows
// Postfix cleanup: the first empty line, or the first line that is not a
// header field and not a continuation (then the body starts there, and no
// blank line was lost). Input that does not start with a header field has
// no headers at all: everything is body.
//
// Line endings: parse() accepts LF, CRLF, or a mix; everything it stores
// uses LF. (pickup stores messages with LF; the SMTP client sends CRLF.)
// Any run of CRs right before an LF is part of the line end; a bare CR
// elsewhere is kept as it is (smtp_safe.hpp decides what becomes of it).
//
// Like Postfix sendmail, an mbox "From " line at the very top is dropped.
// A header line is ftext (printable US-ASCII but ':'), optional white
// space, then ':'; a line starting with white space continues the field
// before it; a continuation with no field before it is body text.
//
// Work is linear in the input; nothing here can fail or loop.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relay::message {

struct HeaderField {
    std::string name;   // as written ("Subject")
    std::string raw;    // whole field: "Subject: hello\n\tworld\n", LF line ends
    std::string value() const;  // unfolded value without leading white space
};

class Message {
public:
    // Parses TEXT (the whole message). Never fails: anything that is not a
    // header goes to the body.
    static Message parse(std::string_view text);
    // The same for a MIME body part (RFC 2045 entity): no "From " line
    // handling, since a part's first line is never an mbox separator.
    static Message parse_entity(std::string_view text);

    std::vector<HeaderField> &headers() { return headers_; }
    const std::vector<HeaderField> &headers() const { return headers_; }
    std::string &body() { return body_; }
    const std::string &body() const { return body_; }

    // First field named NAME (case-insensitive), or nullptr.
    const HeaderField *find(std::string_view name) const;
    // Every field named NAME, in order.
    std::vector<const HeaderField *> find_all(std::string_view name) const;
    bool has(std::string_view name) const { return find(name) != nullptr; }

    // Removes every field named NAME; returns how many there were.
    size_t remove(std::string_view name);
    // Appends "NAME: VALUE\n" (VALUE is folded if longer than 78 columns).
    // Folding only inserts a line break before existing white space, so the
    // unfolded value is unchanged; a word longer than a line is not split.
    // In VALUE, NUL is dropped and a CR or LF that is not part of a fold
    // (line break + white space + text) becomes a space: caller data can
    // never start a new header field.
    void add(std::string_view name, std::string_view value);
    // Inserts at the top of the header section (for Received:, Return-Path:).
    void prepend(std::string_view name, std::string_view value);
    // Replaces the value of FIELD, keeping its name as written (the value
    // is made safe and folded as for add()).
    static void set_value(HeaderField &field, std::string_view value);

    // The message as text with LF line ends: headers, one empty line, body.
    // The empty line is written when the input had one, and whenever there
    // are both headers and a body (a body that started with a non-header
    // line gets its separator, as Postfix cleanup writes one). Otherwise
    // parse(x).str() is x with CRLF turned into LF, less a leading "From "
    // line, plus a final LF when the input ended inside the header section.
    std::string str() const;

private:
    std::vector<HeaderField> headers_;
    std::string body_;
    bool had_separator_ = true;
};

// Makes a header line safe to build from caller data: no CR, LF or NUL.
bool is_safe_header_text(std::string_view s);

// An RFC 5322 date for now (or for T): "Tue, 01 Dec 2026 17:23:20 +0000".
std::string rfc5322_date(long long t = -1);

// "<YYYYMMDDhhmmss.QUEUEID@HOST>", as Postfix writes Message-IDs (UTC).
// Characters that a msg-id cannot hold are dropped from QUEUEID and HOST;
// an empty HOST becomes "localhost".
std::string make_message_id(std::string_view queue_id, std::string_view host);

}  // namespace relay::message
