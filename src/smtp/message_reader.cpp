#include "smtp/message_reader.hpp"

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace relay::smtp {

void MessageReader::put_line_end() {
    out_ += "\r\n";
    if (line_len_ == 0) in_headers_ = false;  // the empty line ends the header section
    line_len_ = 0;
}

void MessageReader::put(char c) {
    if (line_len_ >= max_line) {
        folded_ = true;
        out_ += "\r\n";
        line_len_ = 0;
        if (in_headers_) {
            out_ += ' ';
            line_len_ = 1;
        }
    }
    out_ += c;
    ++line_len_;
}

// Reads and converts one chunk; false at the end of the file or on error.
bool MessageReader::fill() {
    if (eof_) return false;
    char buf[64 * 1024];
    ssize_t n;
    do {
        n = ::pread(fd_, buf, sizeof buf, static_cast<off_t>(offset_));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        errno_ = errno;
        return false;
    }
    if (n == 0) {
        eof_ = true;
        if (prev_cr_) {
            put_line_end();
            prev_cr_ = false;
        }
        if (line_len_ > 0) put_line_end();
        return !out_.empty();
    }
    offset_ += static_cast<uint64_t>(n);
    for (ssize_t i = 0; i < n; ++i) {
        char c = buf[i];
        if (c == '\n') {
            put_line_end();  // LF, or the LF of a CRLF
            prev_cr_ = false;
        } else if (c == '\r') {
            if (prev_cr_) put_line_end();  // the previous CR stood alone
            prev_cr_ = true;
        } else {
            if (prev_cr_) {
                put_line_end();
                prev_cr_ = false;
            }
            put(c);
        }
    }
    return true;
}

long MessageReader::read(char *buf, size_t n) {
    if (errno_) return -1;
    while (out_.size() - out_pos_ < n && !eof_) {
        if (out_pos_ > 0) {
            out_.erase(0, out_pos_);
            out_pos_ = 0;
        }
        if (!fill()) {
            if (errno_) return -1;
            break;
        }
    }
    size_t avail = out_.size() - out_pos_;
    size_t take = avail < n ? avail : n;
    std::memcpy(buf, out_.data() + out_pos_, take);
    out_pos_ += take;
    return static_cast<long>(take);
}

}  // namespace relay::smtp
