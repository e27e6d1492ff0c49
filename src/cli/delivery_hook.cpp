#include "cli/delivery_hook.hpp"

#include "log/log.hpp"

namespace relay::cli {

int deliver_queue(const config::Config &cfg, queue::FsQueue &q, const Options &opt) {
    (void)opt;
    if (cfg.smtp.relayhost.empty()) {
        if (!q.list().empty()) log::warning("no relayhost configured: mail stays queued");
        return 0;
    }
    log::warning("delivery is not available in this build: mail stays queued");
    return 0;
}

}  // namespace relay::cli
