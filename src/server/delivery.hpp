// delivery.hpp - committing an accepted message: hosted maildirs and the queue.
//
// Runs on a worker thread (server.cpp), never on the event loop: it
// fsyncs. For a transaction it
//   1. refuses at once (452 4.3.1) when the spool is below its free-space
//      reserve (cli/submit.hpp check_free_space());
//   2. delivers one copy into each hosted Maildir (deliver_maildir());
//   3. writes the remote recipients as ONE maildrop submission with the
//      front end's own code (make_submission(), enqueue()), so pickup,
//      rewriting and flush treat it exactly like mail from sendmail;
// and only then returns "250 2.0.0 Ok: queued as ID". A failure anywhere
// is a 451 (the client retries; a hosted copy already written may then be
// delivered twice, never lost).
//
// Maildir (https://cr.yp.to/proto/maildir.html): the message is written to
// tmp/UNIQUE, fsynced, renamed into new/ and new/ fsynced, so a reader
// never sees a partial file. tmp/, new/, cur/ are created when missing
// (mode 0700, owned by virtual_uid:virtual_gid when we run as root). The
// copy gets Return-Path: and Delivered-To: on top, as Postfix virtual(8).
//
// The DSN fields carried into the maildrop file are RET, ENVID and one
// NOTIFY for the message (maildrop.hpp has no per-recipient NOTIFY and no
// ORCPT).
#pragma once

#include <string>

#include "config/config.hpp"
#include "server/session.hpp"
#include "util/result.hpp"

namespace relay::server {

// Returns the reply line for TX; ID gets the queue id used in the log.
std::string deliver_transaction(const config::Config &cfg, const Transaction &tx, std::string &id);

Result<void> deliver_maildir(const std::string &maildir, const std::string &message,
                             const config::Config &cfg);

}  // namespace relay::server
