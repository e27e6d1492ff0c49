#include "cli/delivery_hook.hpp"

#include "log/log.hpp"
#include "smtp/flush.hpp"

namespace relay::cli {

int deliver_queue(const config::Config &cfg, queue::FsQueue &q, const Options &opt) {
    if (cfg.smtp.relayhost.empty()) {
        if (!q.list().empty()) log::warning("no relayhost configured: mail stays queued");
        return 0;
    }
    smtp::FlushOptions fo;
    fo.now = opt.flush_now;
    fo.verbose = opt.verbose;
    smtp::FlushReport rep = smtp::flush(cfg, q, fo);
    return to_sysexit(rep.exit_status());
}

}  // namespace relay::cli
