// smtp_safe.hpp - make a parsed message fit for SMTP before it is queued.
//
// pickup calls make_smtp_safe() once per message, before the commit, so
// that what sits in the queue can be sent as is: the SMTP client only
// turns LF into CRLF and dot-stuffs. What it does, in order:
//
//  - NUL bytes are removed, from headers and body (RFC 5321 forbids them;
//    Postfix cleanup drops them as well).
//  - A bare CR (one not before LF) in a header becomes a space: a line
//    break there would start a new field. In the body it becomes a line
//    break: cron jobs print progress bars with CR, and one line per update
//    reads better than one endless line (and keeps lines short).
//  - A header line over 998 octets is folded before white space; with no
//    white space to fold at, it is split hard with LF SPACE (the Postfix
//    SMTP client's smtp_line_length_limit does the same). A field whose
//    name alone does not fit in one line is dropped.
//  - A body line over 998 octets: when the message is not multipart and
//    its Content-Transfer-Encoding is absent, 7bit, 8bit or binary, the
//    body is re-encoded as quoted-printable; MIME-Version: 1.0 is added if
//    missing, Content-Transfer-Encoding is set, Content-Type is kept, or
//    added when absent as text/plain with charset us-ascii (7-bit body),
//    utf-8 (valid UTF-8) or unknown-8bit (RFC 1428, anything else). For
//    multipart/* the same is done per leaf part (nested up to 8 levels).
//    A quoted-printable part gets soft line breaks, a base64 part is
//    re-wrapped at 76 columns. What cannot be re-encoded (message/* parts,
//    preamble and epilogue, unknown encodings, deeper nesting) is split
//    hard with LF SPACE, as Postfix does.
//  - A non-empty body that does not end in a line break gets one.
//
// The report says what was changed and whether headers or body still hold
// 8-bit bytes, for the 8BITMIME / SMTPUTF8 decisions of the SMTP client.
// Work is linear in the message size (times the nesting bound).
#pragma once

#include <cstddef>

#include "message/header.hpp"

namespace relay::message {

constexpr size_t kSmtpLineLimit = 998;  // RFC 5321 section 4.5.3.1.6, CRLF not counted

struct SafetyReport {
    size_t nul_removed = 0;
    size_t bare_cr_fixed = 0;
    size_t long_lines = 0;       // lines over 998 octets found (headers and body)
    size_t headers_dropped = 0;  // fields whose name did not fit in a line
    bool eight_bit_body = false;
    bool eight_bit_headers = false;
    bool reencoded = false;      // the body or a part was re-encoded as quoted-printable
};

SafetyReport make_smtp_safe(Message &msg);

}  // namespace relay::message
