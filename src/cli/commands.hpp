// commands.hpp - relay's own commands (CLI11), apart from the sendmail flags.
//
//   relay mailq [--json]                   list the queue
//   relay queue ACTION [ID...]             see queue_admin.hpp
//   relay check                            configuration, tables, queue
//   relay postmap -q KEY|- TYPE:NAME       query a table as postmap(1)
//   relay address-test [--sender|--recipient] ADDR
//   relay explain [sendmail flags] < msg   show what pickup would make of it
//   relay mail ...                         the mailx front end
// Each returns the exit status; usage errors are EX_USAGE (CLI11's own
// codes are never returned as they are).
#pragma once

#include <string>
#include <vector>

#include "cli/context.hpp"
#include "cli/sendmail_args.hpp"

namespace relay::cli {

bool is_relay_command(const std::string &word);
int run_relay_command(const std::vector<std::string> &args);

int run_newaliases(const Context &ctx);
int run_verify(const Context &ctx, const Options &opt);
int run_smtp_stdio(const Context &ctx, const Options &opt);

}  // namespace relay::cli
