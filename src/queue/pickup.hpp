// pickup.hpp - turn maildrop submissions into committed queue entries.
//
// For each complete file in SPOOL/maildrop/ (name = a valid queue id):
//   1. open without following links, check it is a regular file within the
//      size limit; the submitting uid is the file's owner
//   2. parse it strictly (queue/maildrop.hpp); a malformed file is moved to
//      corrupt/ with a warning, never delivered
//   3. complete the message as Postfix cleanup(8) does: recipients from
//      headers with -t (Bcc: removed), a Received: line, and Date:,
//      Message-ID:, From: (from -F / the login name / myorigin) and
//      "To: undisclosed-recipients:;" where missing
//   4. make it safe for SMTP (NUL, bare CR, lines over 998 octets)
//   5. rewrite envelope and header addresses (rewrite/pipeline.hpp)
//   6. commit it to queue/ under the same id, then unlink the maildrop file
// A crash between 6's commit and unlink leaves both; the next pickup sees
// queue/<id> and only unlinks the maildrop file, so nothing is queued twice.
// Stale "t.*" files (a front end killed while writing) are removed once no
// writer holds them and they are older than an hour.
#pragma once

#include <string>

#include "config/config.hpp"
#include "message/header.hpp"
#include "queue/envelope.hpp"
#include "queue/maildrop.hpp"
#include "queue/queue_fs.hpp"

namespace relay::rewrite {
class Pipeline;
}

namespace relay::queue {

struct PickupReport {
    unsigned picked = 0;      // committed to queue/
    unsigned duplicates = 0;  // already committed before a crash: maildrop file removed
    unsigned corrupt = 0;     // refused, moved to corrupt/
    unsigned held = 0;        // no recipient left after rewriting: put on hold
    unsigned stale_tmp = 0;   // half-written submissions removed
};

PickupReport pickup(const config::Config &cfg, FsQueue &queue, const rewrite::Pipeline &rw);

// Steps 3-5 on one submission, without touching the spool: what `relay
// explain` shows and what pickup commits. UID is the submitter.
struct Prepared {
    Envelope envelope;
    message::Message message;
    std::vector<std::string> warnings;
};
Result<Prepared> prepare(const config::Config &cfg, const rewrite::Pipeline &rw,
                         const Submission &sub, const std::string &id, uint32_t uid);

// The login name for UID, or "#UID" when it has no passwd entry.
std::string login_name(uint32_t uid);

// Recipients the message headers name, as -t takes them: Resent-To/Cc/Bcc
// when any Resent- recipient header exists, else To/Cc/Bcc. Parse errors are
// appended to ERRORS.
std::vector<std::string> header_recipients(const message::Message &msg,
                                           std::vector<std::string> *errors);

}  // namespace relay::queue
