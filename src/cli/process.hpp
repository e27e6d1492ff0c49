// process.hpp - start-up hygiene for a program run by anybody, anyhow.
//
// Callers are hostile environments (see callers.md in the design notes):
// fds 0-2 may be closed, the umask may be 0177, the cwd may not exist, PATH
// may lack /usr/sbin, the uid may have no passwd entry. sanitize() runs
// first in main: it opens /dev/null on any closed fd 0-2 (so a queue file
// can never become someone's stdout), sets umask 077, moves to "/", and
// when the program runs set-gid (the relaydrop front end) clears the
// environment so that nothing the caller set can steer it. root and the
// relay user give the borrowed group back at once and are not treated as
// set-gid callers.
#pragma once

#include <string>
#include <sys/types.h>

namespace relay::cli {

struct Identity {
    bool setgid = false;  // running with a gid that is not the caller's
    uid_t uid = 0;        // real uid: who submits
    gid_t gid = 0;        // real gid
    std::string cwd;      // the directory we started in ("" if unknown), for relative -C
};

Identity sanitize_process();

// Run as root on a spool owned by another user (the packaged `relay`):
// become that user for good, so that queue files stay theirs. True when
// nothing had to change or the switch worked.
bool drop_to_spool_owner(const std::string &spool);
const Identity &identity();

// While one is alive, the effective gid is the caller's real gid, so that a
// file the caller names (mail -a FILE) is opened with the caller's own
// rights and never with the relaydrop group's: with the group, a user could
// search maildrop/ and attach another user's submission. Nothing changes
// when not running set-gid. restore() takes the group back (from the saved
// set-gid) to write the submission; a failure to switch either way is
// Fatal. The destructor restores too, on the way out of an error.
class CallerFileAccess {
public:
    CallerFileAccess();
    ~CallerFileAccess();
    void restore();
    CallerFileAccess(const CallerFileAccess &) = delete;
    CallerFileAccess &operator=(const CallerFileAccess &) = delete;

private:
    gid_t saved_egid_ = 0;
    bool switched_ = false;
};

}  // namespace relay::cli
