// delivery_hook.hpp - the seam between queue running and the SMTP client.
//
// deliver_queue() sends every due message in Q (all of them with --now) and
// returns the flush exit status. It lives apart from flush_cmd.cpp so the
// SMTP client, and with it libcurl, stays out of everything else.
#pragma once

#include "cli/sendmail_args.hpp"
#include "config/config.hpp"
#include "queue/queue_fs.hpp"

namespace relay::cli {
int deliver_queue(const config::Config &cfg, queue::FsQueue &q, const Options &opt);
}
