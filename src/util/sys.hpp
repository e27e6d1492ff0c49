// sys.hpp - the system-call seam under every durable write.
//
// Queue code never calls open/write/fsync/rename/mkdir/unlink directly; it
// calls these wrappers, which behave exactly like the system calls (return
// -1 and set errno) and pass through one test hook. The fault tests install
// a hook that fails the k-th operation, crash-simulate, run recovery and
// check the queue state table (src/queue/README.md) row by row.
//
// The hook is process-global and not thread-safe: only tests set it.
#pragma once

#include <cstddef>
#include <sys/types.h>

namespace relay::util::sys {

enum class Op { Open, Write, Fsync, Rename, Mkdir, Unlink, Link };

// Returns 0 to let the operation proceed, or an errno value to fail it with.
using FaultHook = int (*)(Op op, const char *what);
void set_fault_hook(FaultHook hook);

int openat(int dirfd, const char *path, int flags, mode_t mode = 0);
// Writes all of buf (retrying short writes and EINTR); 0 or -1 with errno.
int write_all(int fd, const void *buf, size_t len);
int fsync(int fd);
int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
int mkdirat(int dirfd, const char *path, mode_t mode);
int unlinkat(int dirfd, const char *path, int flags);
int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

// fsync() of a directory, so that a rename or create in it survives a crash
// (Linux does not make directory entries durable on its own).
int fsync_dir(int dirfd);
int fsync_dir_path(const char *path);

}  // namespace relay::util::sys
