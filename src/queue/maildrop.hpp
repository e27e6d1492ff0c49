// maildrop.hpp - the submission file: the one thing the front end writes.
//
// The front end (possibly set-gid relaydrop, running as any local user)
// writes one file per message into SPOOL/maildrop/: first as "t.<id>",
// fsynced, then renamed to "<id>" and the directory fsynced. Only then does
// the caller hear "ok" (exit 0). The file is plain text:
//
//   maildrop: 1
//   sender: alice@example.net      (only with -f/-r; empty value = <>)
//   fullname: +41lice              (xtext; only with -F)
//   flags: t                       (t = take recipients from headers)
//   body: 8BITMIME                 (-B)
//   notify: FAILURE,DELAY          (-N)
//   ret: HDRS                      (-R)
//   envid: xtext                   (-V)
//   rcpt: root                     (one per command-line recipient)
//   rcpt.notify: SUCCESS,FAILURE   (DSN for the rcpt above: SMTP input only)
//   rcpt.orcpt: rfc822;bob+40example.org  (RFC 3461 ORCPT, xtext as given)
//   data:
//   <the message as read from stdin, to the end of the file>
//
// pickup treats the file as hostile: its owner may have rewritten it. The
// submitting identity is the file's owner uid (set by the kernel), never a
// field in the file; every field is validated again; limits are enforced.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace relay::queue {

// DSN parameters one RCPT TO gave (relay serve); empty = the message's.
struct RcptParams {
    std::string notify;  // NEVER, or a list of SUCCESS, FAILURE, DELAY
    std::string orcpt;   // "addr-type;xtext", e.g. "rfc822;bob+40example.org"
};

struct Submission {
    std::optional<std::string> sender;  // nullopt: not given; "" = null sender
    std::optional<std::string> fullname;
    bool extract_recipients = false;
    std::string body_type;
    std::string notify;
    std::string ret;
    std::string envid;
    std::vector<std::string> recipients;
    std::vector<RcptParams> rcpt_params;  // empty, or one per recipients[i]
    std::string message;                // raw bytes from stdin (dot-termination applied)
};

// True for a valid DSN NOTIFY list (RFC 3461: NEVER alone, or any of
// SUCCESS, FAILURE, DELAY; upper case) and a valid ORCPT value.
bool valid_notify(std::string_view v);
bool valid_orcpt(std::string_view v);

std::string serialize_submission(const Submission &s);
// LIMIT bounds the message size (beyond which the file is refused).
Result<Submission> parse_submission(std::string_view text, size_t limit);

// Writes S into SPOOL/maildrop/ under ID as described above. The file is
// mode 0644 inside a directory others cannot search. Errors carry errno.
Result<void> write_maildrop(const std::string &spool, const std::string &id, const Submission &s);

}  // namespace relay::queue
