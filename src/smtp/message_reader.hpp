// message_reader.hpp - a queue file as SMTP DATA, streamed, CRLF only.
//
// The queue stores messages with LF line ends. MessageReader reads the file
// through pread() in 64 KiB chunks (a message is never loaded whole) and
// produces exactly what may go on the wire before dot-stuffing:
//
//   - every line ends in CRLF: LF becomes CRLF, an existing CRLF stays, and
//     a bare CR is a line end too (CRLF), so no bare CR or bare LF is ever
//     sent (SMTP smuggling, CVE-2023-51764);
//   - a last line without a line end gets one;
//   - no line is longer than 998 octets (RFC 5322 2.1.1). pickup already
//     makes long lines safe, so this is a last-resort guard: a longer line
//     is broken after 998 octets (in the header section the continuation
//     starts with a space, keeping it one folded header) and folded() says
//     so, for a warning in the log.
//
// With a header filter (smtp_generic_maps, generic.hpp) the header section
// is read first, up to and including the empty line that ends it (at most
// max_header_section octets; a larger one is sent unfiltered, with
// header_unfiltered() set for a warning), handed to the filter, and its
// result goes out in place of the original; the body is then streamed as
// above. The queue file itself is never changed.
//
// Dot-stuffing is NOT done here: the client's DotStuffer (esmtp.hpp) does
// it on the way out, and appends the final "." line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace relay::smtp {

class MessageReader {
public:
    static constexpr size_t max_line = 998;
    static constexpr size_t max_header_section = 1024 * 1024;

    // Rewrites a header section (LF line ends, the empty line included).
    using HeaderFilter = std::function<std::string(std::string_view)>;

    explicit MessageReader(int fd, HeaderFilter filter = {})
        : fd_(fd), filter_(std::move(filter)) {}

    // Fills up to N bytes into BUF; returns the count, 0 at the end, or -1
    // on a read error (error() has the errno).
    long read(char *buf, size_t n);

    int error() const { return errno_; }
    bool folded() const { return folded_; }
    bool header_unfiltered() const { return unfiltered_; }
    uint64_t bytes_in() const { return offset_; }

private:
    bool fill();
    bool filter_headers();
    void convert(const char *p, size_t n);
    void put_line_end();
    void put(char c);

    int fd_;
    HeaderFilter filter_;
    bool filtered_ = false;
    bool unfiltered_ = false;
    uint64_t offset_ = 0;
    bool eof_ = false;
    int errno_ = 0;
    bool prev_cr_ = false;
    bool in_headers_ = true;
    bool folded_ = false;
    size_t line_len_ = 0;
    std::string out_;
    size_t out_pos_ = 0;
};

}  // namespace relay::smtp
