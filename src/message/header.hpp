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
    void add(std::string_view name, std::string_view value);
    // Inserts at the top of the header section (for Received:, Return-Path:).
    void prepend(std::string_view name, std::string_view value);
    // Replaces the value of FIELD, keeping its name as written.
    static void set_value(HeaderField &field, std::string_view value);

    // The message as text with LF line ends: headers, one empty line, body.
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

// "<YYYYMMDDhhmmss.QUEUEID@HOST>", as Postfix writes Message-IDs.
std::string make_message_id(std::string_view queue_id, std::string_view host);

}  // namespace relay::message
