#include "util/sys.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fd.hpp"

namespace relay::util::sys {
namespace {
FaultHook g_hook = nullptr;

bool injected(Op op, const char *what) {
    if (!g_hook) return false;
    int e = g_hook(op, what);
    if (e == 0) return false;
    errno = e;
    return true;
}
}  // namespace

void set_fault_hook(FaultHook hook) { g_hook = hook; }

int openat(int dirfd, const char *path, int flags, mode_t mode) {
    if (injected(Op::Open, path)) return -1;
    int fd;
    do {
        fd = ::openat(dirfd, path, flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

int write_all(int fd, const void *buf, size_t len) {
    if (injected(Op::Write, "")) return -1;
    auto p = static_cast<const char *>(buf);
    while (len > 0) {
        ssize_t n = ::write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= static_cast<size_t>(n);
    }
    return 0;
}

int fsync(int fd) {
    if (injected(Op::Fsync, "")) return -1;
    return ::fsync(fd);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    if (injected(Op::Rename, newpath)) return -1;
    return ::renameat(olddirfd, oldpath, newdirfd, newpath);
}

int mkdirat(int dirfd, const char *path, mode_t mode) {
    if (injected(Op::Mkdir, path)) return -1;
    return ::mkdirat(dirfd, path, mode);
}

int unlinkat(int dirfd, const char *path, int flags) {
    if (injected(Op::Unlink, path)) return -1;
    return ::unlinkat(dirfd, path, flags);
}

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    if (injected(Op::Link, newpath)) return -1;
    return ::linkat(olddirfd, oldpath, newdirfd, newpath, 0);
}

int fsync_dir(int dirfd) { return fsync(dirfd); }

int fsync_dir_path(const char *path) {
    UniqueFd fd(::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return -1;
    return fsync(fd.get());
}

}  // namespace relay::util::sys
