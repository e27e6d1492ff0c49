// delivery_hook.hpp - the seam between queue running and the SMTP client.
//
// deliver_queue() sends every due message in Q (all of them with --now) and
// returns the flush exit status. It lives apart from flush_cmd.cpp so the
// SMTP client, and with it libcurl, stays out of everything else.
//
// On a terminal (stderr is a tty) without -v or --quiet, a queue of more
// than 50 due messages drains under one progress line ("relay: sending
// 120/1000 ...") instead of a line per recipient; warnings and errors
// still show, and the line is cleared at the end. The log lines go to
// syslog as always.
#pragma once

#include <csignal>
#include <cstdint>

#include "cli/sendmail_args.hpp"
#include "config/config.hpp"
#include "queue/queue_fs.hpp"

namespace relay::cli {

struct DeliveryResult {
    int status = 0;         // sysexits(3) status of the run
    int64_t next_due = 0;   // earliest next attempt of what is left; 0 = nothing waits
};

DeliveryResult deliver_queue(const config::Config &cfg, queue::FsQueue &q, const Options &opt,
                             const volatile std::sig_atomic_t *stop = nullptr);

}  // namespace relay::cli
