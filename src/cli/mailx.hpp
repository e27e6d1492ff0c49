// mailx.hpp - the sending side of mail(1)/mailx(1), as scripts use it.
//
//   mail [-s SUBJECT] [-c CC] [-b BCC] [-r FROM] [-a FILE]... [-E] [--] RCPT... < body
//
// The body is read from stdin to EOF; the message is built as MIME
// (message/mime.hpp: UTF-8 or quoted-printable text, attachments, RFC 2047
// subjects and names) and queued through the same maildrop path as
// sendmail. Compatibility notes, all from real callers:
//  - `-a "Name: value"` (bsd-mailx and mailutils add a header this way:
//    apticron, Icinga2) adds a header when no such file exists;
//    otherwise -a attaches the file (s-nail, heirloom mailx).
//  - `-S var=value` (s-nail) is accepted; `from=` sets the sender, others
//    are ignored. -n, -N, -v, -i, -d, -~ are accepted and ignored.
//  - A recipient that is not an address (fail2ban's `-E 'set escape'` with
//    bsd-mailx) is reported and skipped; the others still get the mail.
//  - -E: do not send a message with an empty body (exit 0).
// Reading mailboxes (-f, -u, no recipients) is out of scope: relay only sends.
#pragma once

#include <string>
#include <vector>

namespace relay::cli {
int run_mailx(const std::string &name, const std::vector<std::string> &args);
std::string mailx_usage(const std::string &name);
}
