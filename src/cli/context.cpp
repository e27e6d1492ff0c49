#include "cli/context.hpp"

#include <cstdlib>

#include "build_config.hpp"
#include "cli/process.hpp"
#include "log/log.hpp"
#include "util/error.hpp"

namespace relay::cli {

Context load_context(const std::string &cli_config_path) {
    Context ctx;
    std::string path = build::config_file;
    if (identity().setgid) {
        if (!cli_config_path.empty())
            log::warning("-C " + cli_config_path + " ignored: not allowed when run set-gid");
    } else if (!cli_config_path.empty()) {
        path = cli_config_path;
        ctx.explicit_config = true;
    } else if (const char *env = std::getenv("RELAY_CONFIG"); env && *env) {
        path = env;
        ctx.explicit_config = true;
    }
    // We run in "/" (sanitize_process): a relative name means the caller's cwd.
    if (ctx.explicit_config && !path.empty() && path[0] != '/' && !identity().cwd.empty())
        path = identity().cwd + "/" + path;
    auto cfg = config::load(path, ctx.explicit_config);
    if (!cfg) throw Fatal(Exit::Config, cfg.error().message);
    ctx.cfg = std::move(cfg).value();
    if (ctx.explicit_config) ctx.config_path = path;
    return ctx;
}

}  // namespace relay::cli
