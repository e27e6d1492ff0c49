// mime.hpp - build a complete RFC 5322 / MIME message for the mail front end.
//
// build_message() takes what a mailx-style command line gives (subject,
// sender, recipients, a body read from stdin, files to attach) and writes
// a message that any reader and any SMTP server accepts:
//
//  - Without attachments: one text/plain part. A 7-bit body is sent as
//    charset=us-ascii, 7bit. An 8-bit body is charset=utf-8 (or the
//    charset the caller names), 8bit, when it is valid UTF-8 (or a charset
//    was named), has no line over 998 octets, no NUL and no bare CR, and
//    8-bit transport is allowed; otherwise it is quoted-printable, labelled
//    utf-8 when valid UTF-8 and unknown-8bit (RFC 1428) when not.
//  - With attachments: multipart/mixed, the text first, then one part per
//    file. The content type comes from a small built-in table of file
//    extensions, else application/octet-stream. text/* files are sent as
//    quoted-printable (with a charset guess), all others as base64 in
//    76-column lines. The file name goes into Content-Type name= and
//    Content-Disposition filename=, as an RFC 2231 UTF-8 parameter when
//    it is not ASCII.
//  - The boundary is random ("=_" makes it impossible in quoted-printable
//    and base64 text) and checked against every part's content.
//  - Subject and display names are RFC 2047-encoded when not ASCII. The
//    recipients are parsed as address lists; an element that does not
//    parse is an error, not a silent drop. Bcc: is left out of the
//    headers unless asked for; the returned envelope recipients include it.
//  - Body line ends may be LF or CRLF; the message uses LF (pickup's form).
//
// Errors (as values): a bad address, an attachment that cannot be opened,
// is not a regular file, or is larger than max_attachment_bytes. Files are
// opened with the caller's credentials.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace relay::message {

struct Attachment {
    std::string path;          // file to read; empty when DATA is given
    std::string data;          // contents, used when PATH is empty
    std::string filename;      // name shown to the reader; default: basename(path)
    std::string content_type;  // "type/subtype"; empty: guessed from filename
};

struct MailSpec {
    std::string subject;
    std::string from;  // address list text: "Name <a@b>" or "a@b"; empty: none (pickup adds one)
    std::vector<std::string> to, cc, bcc;  // each an address list ("a@x, B <b@y>")
    std::string body;
    std::string charset;  // of BODY when it is not UTF-8 ("iso-8859-1"); empty: guess
    std::vector<Attachment> attachments;
    std::vector<std::pair<std::string, std::string>> extra_headers;  // replace same-named ones
    std::string date;        // empty: now
    std::string message_id;  // empty: none (pickup adds one)
    bool bcc_header = false;
    bool allow_8bit = true;  // false: 8-bit text goes out quoted-printable
    size_t max_attachment_bytes = 64u * 1024 * 1024;
};

struct BuiltMessage {
    std::string text;                     // the whole message, LF line ends
    std::vector<std::string> recipients;  // addr-specs from to, cc and bcc, in order
};

Result<BuiltMessage> build_message(const MailSpec &spec);

// The built-in table: "report.pdf" -> "application/pdf"; unknown or no
// extension -> "application/octet-stream". Case-insensitive.
std::string guess_content_type(std::string_view filename);

// A MIME parameter NAME=VALUE: a token, a quoted-string, or, when VALUE is
// not ASCII, RFC 2231 NAME*=UTF-8''percent-encoded.
std::string mime_parameter(std::string_view name, std::string_view value);

}  // namespace relay::message
