#include "cli/delivery_hook.hpp"

#include <unistd.h>

#include "log/log.hpp"
#include "smtp/flush.hpp"

namespace relay::cli {

DeliveryResult deliver_queue(const config::Config &cfg, queue::FsQueue &q, const Options &opt,
                             const volatile std::sig_atomic_t *stop) {
    DeliveryResult res;
    if (cfg.smtp.relayhost.empty() && cfg.smtp.sender_dependent_relayhost_maps.empty() &&
        !cfg.smtp.direct_delivery) {
        if (!q.list().empty()) log::warning("no relayhost configured: mail stays queued");
        return res;
    }
    smtp::FlushOptions fo;
    fo.now = opt.flush_now;
    fo.verbose = opt.verbose;
    fo.progress = !opt.verbose && !opt.quiet && isatty(2);
    fo.stop = stop;
    smtp::FlushReport rep = smtp::flush(cfg, q, fo);
    res.status = to_sysexit(rep.exit_status());
    res.next_due = rep.next_due;
    return res;
}

}  // namespace relay::cli
