// submit.hpp - the sendmail front end: one message from stdin into maildrop/.
//
// This is the path every cron job and script takes, possibly set-gid
// relaydrop, so it does as little as possible (qmail's rule for set-id
// programs): read stdin to the end, check the arguments, write one
// submission file durably (queue/maildrop.hpp), wake the flusher, exit.
// It never loads libcurl or OpenSSL, never reads credentials, and never
// parses more of the message than -t needs to find a recipient.
//
// Input rules (also in relay(8)): stdin is read to EOF even when the message
// is refused, so the writer never dies of SIGPIPE. Without -i a line that is
// a single "." ends the message (the rest is read and discarded). LF and
// CRLF are both fine. Everything else (NUL bytes, bare CR, long lines, 8-bit
// headers, no headers, an empty message) is accepted here and made safe by
// pickup. A message over message_size_limit is refused with EX_DATAERR.
#pragma once

#include <string>

#include "cli/sendmail_args.hpp"
#include "config/config.hpp"
#include "queue/maildrop.hpp"

namespace relay::cli {

// Reads the message from FD as described above. Throws Fatal(DataErr) when
// it is larger than LIMIT (after reading all of it).
std::string read_message(int fd, bool ignore_dots, size_t limit);

// Reads FD to EOF and discards it: a submission refused before its message
// was read (a usage or configuration error) still drains its writer. Does
// nothing when FD is a terminal.
void drain_input(int fd);

// Checks the recipients and builds the submission; throws Fatal on a usage
// or data error.
queue::Submission make_submission(const Options &opt, std::string message);

// Refuses (Fatal TempFail) when the spool is below its free-space reserve.
void check_free_space(const config::Config &cfg, size_t incoming);

// Writes the submission and returns its queue id; throws Fatal on failure.
std::string enqueue(const config::Config &cfg, const queue::Submission &sub);

// Writes one byte to SPOOL/trigger when a `relay --daemon` listens there.
void poke_trigger(const std::string &spool);

// After a successful enqueue: poke the trigger FIFO (a running daemon
// flushes) and, when START_FLUSH and the caller may run the queue (root or
// the spool's owner, not set-gid), start a detached flush so the mail
// leaves at once. Never fails the submission.
void wake_flusher(const config::Config &cfg, const std::string &config_path,
                  bool start_flush = true);

int run_submit(const Options &opt, const config::Config &cfg, const std::string &config_path);

}  // namespace relay::cli
