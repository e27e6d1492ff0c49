// fd.hpp - RAII for file descriptors and flock()s.
//
// UniqueFd owns one descriptor: move-only, closed exactly once, never
// retried on EINTR (on Linux the descriptor is gone after close() returns,
// whatever it says; retrying could close a descriptor another thread got).
#pragma once

#include <utility>

namespace relay::util {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(const UniqueFd &) = delete;
    UniqueFd &operator=(const UniqueFd &) = delete;
    UniqueFd(UniqueFd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    UniqueFd &operator=(UniqueFd &&o) noexcept {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    explicit operator bool() const { return valid(); }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1);

private:
    int fd_ = -1;
};

// An exclusive flock() held for the lifetime of the object; the lock goes
// away with the descriptor, so a killed holder never leaves a stale lock.
class FileLock {
public:
    enum class Mode { Wait, NoWait };
    // Opens (creating, mode 0600) and locks PATH. valid() is false when the
    // lock is held elsewhere (NoWait) or the file cannot be opened; errno_
    // then says why (EWOULDBLOCK for "held elsewhere").
    FileLock(const char *path, Mode mode);
    bool valid() const { return fd_.valid(); }
    int error() const { return errno_; }

private:
    UniqueFd fd_;
    int errno_ = 0;
};

}  // namespace relay::util
