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
    if (filter_ && !filtered_) {
        filtered_ = true;
        if (!filter_headers()) return false;
        if (out_.size() > out_pos_) return true;
    }
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
    convert(buf, static_cast<size_t>(n));
    return true;
}

void MessageReader::convert(const char *buf, size_t n) {
    for (size_t i = 0; i < n; ++i) {
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
}

namespace {

// Where the header section of TEXT ends: just after its empty line, or
// npos when TEXT holds no empty line yet.
size_t header_end(std::string_view text) {
    if (text.starts_with("\n")) return 1;
    if (text.starts_with("\r\n")) return 2;
    size_t lf = text.find("\n\n");
    size_t crlf = text.find("\n\r\n");
    if (lf == std::string_view::npos && crlf == std::string_view::npos) return std::string_view::npos;
    if (crlf == std::string_view::npos || (lf != std::string_view::npos && lf < crlf)) return lf + 2;
    return crlf + 3;
}

}  // namespace

bool MessageReader::filter_headers() {
    std::string head;
    size_t end = std::string::npos;
    bool at_eof = false;
    char buf[64 * 1024];
    while (end == std::string::npos && head.size() <= max_header_section) {
        ssize_t n;
        do {
            n = ::pread(fd_, buf, sizeof buf, static_cast<off_t>(head.size()));
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            errno_ = errno;
            return false;
        }
        if (n == 0) {
            at_eof = true;
            break;
        }
        head.append(buf, static_cast<size_t>(n));
        end = header_end(head);
    }
    if (end == std::string::npos) {
        if (!at_eof) {
            unfiltered_ = true;  // absurdly large: sent as it is
            return true;
        }
        end = head.size();  // headers only, no body
    }
    std::string out = filter_(std::string_view(head).substr(0, end));
    convert(out.data(), out.size());
    offset_ = end;
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
