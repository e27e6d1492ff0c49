// flush_cmd.hpp - `relay --flush`, `sendmail -q`: pickup, then delivery.
//
// One runner at a time: the runner holds an flock on SPOOL/flush.lock; a
// second one finds it held and exits 0 at once, saying so (the first one
// will see the new mail: pickup runs again before it exits). The run:
// recover() finishes or undoes what a crash interrupted, pickup commits
// new submissions, delivery sends every due message.
//
// Exit status: 0 when the run worked, even if the smarthost deferred mail;
// EX_CONFIG / EX_NOPERM / EX_TEMPFAIL for configuration, credential and TLS
// verification failures, so a systemd unit shows red.
#pragma once

#include "cli/context.hpp"
#include "cli/sendmail_args.hpp"

namespace relay::cli {

int run_flush(const Context &ctx, const Options &opt);
int run_init_spool(const Context &ctx);

}  // namespace relay::cli
