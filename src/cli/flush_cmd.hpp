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
//
// `relay --daemon` (daemon.cpp) runs the same flush whenever the front end
// pokes SPOOL/trigger and when the earliest deferred message is due.
#pragma once

#include <csignal>
#include <cstdint>

#include "cli/context.hpp"
#include "cli/sendmail_args.hpp"

namespace relay::cli {

struct FlushRun {
    bool ran = false;       // false: another runner holds flush.lock
    int status = 0;         // sysexits(3)
    int64_t next_due = 0;   // earliest next attempt of what is left; 0 = nothing waits
};

// One run: lock, recover, pickup, deliver, pickup and deliver what came in
// meanwhile. STOP (a signal flag) ends delivery early.
FlushRun flush_once(const Context &ctx, const Options &opt,
                    const volatile std::sig_atomic_t *stop = nullptr);

int run_flush(const Context &ctx, const Options &opt);
int run_daemon(const Context &ctx, const Options &opt);
int run_init_spool(const Context &ctx);

}  // namespace relay::cli
