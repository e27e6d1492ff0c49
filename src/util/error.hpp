// error.hpp - the three tiers of failure, and the one mapping to sysexits(3).
//
// Expected failures travel as values (relay::Result, in result.hpp). When an
// invocation must give up, code throws relay::Fatal with the sysexits(3)
// status that describes the failure; only main() catches it, prints
// "NAME: fatal: TEXT" on stderr and exits with that status. Bugs are asserts.
//
// The status is the caller's only clue: mail programs treat every non-zero
// status as "the message was not accepted" and keep a dead.letter copy, so
// a status other than Ok is never used once a message is durable.
#pragma once

#include <stdexcept>
#include <string>

namespace relay {

enum class Exit : int {
    Ok = 0,
    Usage = 64,        // EX_USAGE: command line usage error
    DataErr = 65,      // EX_DATAERR: bad input data (no recipients, bad address)
    NoInput = 66,      // EX_NOINPUT: cannot open input
    NoUser = 67,       // EX_NOUSER: addressee unknown
    Unavailable = 69,  // EX_UNAVAILABLE: service unavailable
    Software = 70,     // EX_SOFTWARE: internal software error
    OsErr = 71,        // EX_OSERR: system error
    OsFile = 72,       // EX_OSFILE: critical OS file missing
    CantCreat = 73,    // EX_CANTCREAT: cannot create output file
    IoErr = 74,        // EX_IOERR: input/output error
    TempFail = 75,     // EX_TEMPFAIL: temporary failure, try again later
    Protocol = 76,     // EX_PROTOCOL: remote error in protocol
    NoPerm = 77,       // EX_NOPERM: permission denied
    Config = 78,       // EX_CONFIG: configuration error
};

inline int to_sysexit(Exit e) { return static_cast<int>(e); }

// "Give up this invocation." Carries the exit status and a one-line message.
class Fatal : public std::runtime_error {
public:
    Fatal(Exit code, const std::string &what) : std::runtime_error(what), code_(code) {}
    Exit code() const { return code_; }

private:
    Exit code_;
};

// Maps an errno from a failed spool operation to the status a caller should
// see: a full disk or missing spool is temporary, a permission problem is not.
Exit exit_for_errno(int err);

// strerror() without the thread-safety and locale surprises.
std::string errno_text(int err);

}  // namespace relay
