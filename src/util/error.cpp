#include "util/error.hpp"

#include <cerrno>
#include <cstring>

namespace relay {

Exit exit_for_errno(int err) {
    switch (err) {
    case EACCES:
    case EPERM:
    case EROFS:
        return Exit::NoPerm;
    case ENOSPC:
    case EDQUOT:
    case ENOMEM:
    case EAGAIN:
    case EINTR:
    case EIO:
    case EMFILE:
    case ENFILE:
    case ENOENT:  // spool (not yet) there: try again once it is
        return Exit::TempFail;
    default:
        return Exit::TempFail;
    }
}

std::string errno_text(int err) {
    char buf[256];
    // GNU strerror_r returns the message, which may not live in buf.
    const char *msg = strerror_r(err, buf, sizeof buf);
    return msg ? msg : "unknown error";
}

}  // namespace relay
