// log.hpp - one line per event, the way Postfix logs.
//
// Lines go to syslog (facility mail, ident "relay/COMPONENT", e.g.
// "relay/pickup[1234]: 4QmX...: from=<a@b>, size=812, nrcpt=1") so that
// pflogsumm-style tools keep working, and, when stderr is wanted (a person
// at a terminal, -v, tests), to stderr as "NAME: TEXT". Severity prefixes
// follow Postfix: "warning: ", "error: ", "fatal: ". Nothing logged here may
// contain a secret: callers pass addresses and server replies, never
// credentials.
#pragma once

#include <string>
#include <string_view>

namespace relay::log {

enum class Sink { Syslog = 1, Stderr = 2, Both = 3 };

// NAME is the name the program was called by (for stderr), COMPONENT the
// Postfix-style process name (for syslog: "relay/COMPONENT").
void init(std::string_view name, std::string_view component, Sink sink);
void set_component(std::string_view component);
void set_verbose(bool on);
bool verbose();
void set_sink(Sink sink);

void info(std::string_view text);
void warning(std::string_view text);
void error(std::string_view text);
void fatal(std::string_view text);  // "fatal: TEXT": the invocation gives up
void debug(std::string_view text);  // only with -v

// A transient status line at the bottom of a terminal ("relay: sending
// 120/1000 ..."): log lines written while it shows go above it and it is
// redrawn under them, in the same write. "" clears it. Only for stderr on
// a terminal; the caller decides that. Thread-safe, like every function
// that logs.
void set_status(std::string_view text);
// With false, info and debug lines no longer go to stderr (syslog still
// gets them); warnings and errors always do.
void set_stderr_info(bool on);

// The name used for stderr messages ("sendmail", "mailq", "relay").
const std::string &program_name();

}  // namespace relay::log
