// context.hpp - what every command needs: the configuration, loaded by the
// rules of the privilege model.
//
// A set-gid front end reads only the compiled-in configuration file: -C and
// RELAY_CONFIG are ignored (with a warning for -C), so a local user cannot
// point it at another spool. Otherwise -C FILE, then RELAY_CONFIG, then the
// default. A broken configuration is EX_CONFIG.
#pragma once

#include <string>

#include "config/config.hpp"

namespace relay::cli {

struct Context {
    config::Config cfg;
    std::string config_path;  // what was loaded (for child processes)
    bool explicit_config = false;
};

Context load_context(const std::string &cli_config_path);

}  // namespace relay::cli
