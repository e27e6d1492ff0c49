#include "util/fd.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace relay::util {

void UniqueFd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);  // never retried: see the header
    fd_ = fd;
}

FileLock::FileLock(const char *path, Mode mode) {
    UniqueFd fd(::open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) {
        errno_ = errno;
        return;
    }
    int op = LOCK_EX | (mode == Mode::NoWait ? LOCK_NB : 0);
    while (::flock(fd.get(), op) < 0) {
        if (errno == EINTR) continue;
        errno_ = errno;
        return;
    }
    fd_ = std::move(fd);
}

}  // namespace relay::util
