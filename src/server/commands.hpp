// commands.hpp - the server build's own commands.
//
//   relay [-C FILE] serve [--syslog] [--check]   run the SMTP server in the
//                                                foreground (server.hpp)
//   relay [-C FILE] passwd [-d] USER             set (or delete, -d) USER's
//                                                password in [server] users_file
//
// passwd reads the password from standard input: from a terminal twice,
// without echo; from a pipe, the first line (its line end removed). The
// password is never taken from the command line, where ps(1) would show
// it. Both commands need root or the relay user; dispatch.cpp calls
// is_server_command() at its one registration point.
#pragma once

#include <string>
#include <vector>

namespace relay::server {

bool is_server_command(const std::string &word);
// ARGS: everything after argv[0] (the -C option may come first).
int run_server_command(const std::vector<std::string> &args);

// Reads a password from FD as described above; throws Fatal on error.
std::string read_password(int fd);

}  // namespace relay::server
