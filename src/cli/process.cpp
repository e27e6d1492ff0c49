#include "cli/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.hpp"

namespace relay::cli {
namespace {
Identity g_identity;

// The users for whom the set-gid bit means nothing: root, and the user the
// spool belongs to.
bool trusted_caller(uid_t uid) {
    if (uid == 0) return true;
    struct passwd pw, *res = nullptr;
    char buf[4096];
    return getpwnam_r("relay", &pw, buf, sizeof buf, &res) == 0 && res && res->pw_uid == uid;
}
}  // namespace

bool drop_to_spool_owner(const std::string &spool) {
    if (geteuid() != 0) return true;
    struct stat st;
    if (::stat(spool.c_str(), &st) < 0) return true;  // the caller reports it
    if (st.st_uid == 0) return true;
    // Entries written by root could not be updated later by the relay user:
    // do the work as the spool's owner, as Postfix's daemons run as postfix.
    gid_t gid = st.st_gid;
    struct passwd pw, *res = nullptr;
    char buf[4096];
    if (getpwuid_r(st.st_uid, &pw, buf, sizeof buf, &res) == 0 && res) gid = res->pw_gid;
    if (setgroups(0, nullptr) < 0) return false;
    if (setresgid(gid, gid, gid) < 0) return false;
    if (setresuid(st.st_uid, st.st_uid, st.st_uid) < 0) return false;
    return geteuid() == st.st_uid;
}

Identity sanitize_process() {
    // Before anything opens a file: fds 0, 1 and 2 must exist.
    for (int fd = 0; fd <= 2; ++fd) {
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int n = ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
            if (n < 0) _exit(71);  // EX_OSERR: no /dev/null, nothing is safe
            if (n != fd) {
                ::dup2(n, fd);
                ::close(n);
            }
        }
    }
    umask(077);
    // Remembered so that a relative -C names what the caller meant.
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd)) g_identity.cwd = cwd;
    // The cwd may be gone (cron leaves www-data in an unreadable place).
    if (chdir("/") < 0) { /* nothing else to do: every path used is absolute */ }
    // A writer that disappears must not kill us mid-commit; write errors are
    // handled where they happen.
    signal(SIGPIPE, SIG_IGN);
    // Likewise a caller's RLIMIT_FSIZE: the write fails with EFBIG and the
    // partial submission is removed, instead of a kill that leaves it.
    signal(SIGXFSZ, SIG_IGN);

    g_identity.uid = getuid();
    g_identity.gid = getgid();
    g_identity.setgid = getegid() != getgid() || geteuid() != getuid() || getauxval(AT_SECURE);
    if (g_identity.setgid && trusted_caller(g_identity.uid)) {
        // root and the relay user run the installed (set-gid) binary too:
        // they need no borrowed group, and may do everything. Give it back
        // for good (real, effective and saved gid) and carry on unprivileged
        // by the set-gid bit.
        if (setresgid(g_identity.gid, g_identity.gid, g_identity.gid) == 0 && getegid() == getgid())
            g_identity.setgid = false;
    }
    if (g_identity.setgid) {
        clearenv();
        setenv("PATH", "/usr/bin:/bin", 1);
    }
    return g_identity;
}

const Identity &identity() { return g_identity; }

CallerFileAccess::CallerFileAccess() {
    saved_egid_ = getegid();
    if (saved_egid_ == getgid()) return;
    if (setegid(getgid()) < 0)
        throw Fatal(Exit::OsErr, "cannot drop the set-gid group: " + errno_text(errno));
    switched_ = true;
}

void CallerFileAccess::restore() {
    if (!switched_) return;
    if (setegid(saved_egid_) < 0)
        throw Fatal(Exit::OsErr, "cannot restore the set-gid group: " + errno_text(errno));
    switched_ = false;
}

CallerFileAccess::~CallerFileAccess() {
    if (switched_ && setegid(saved_egid_) < 0) { /* exiting on an error already */ }
}

}  // namespace relay::cli
