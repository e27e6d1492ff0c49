#include "smtp/wire.hpp"

#include <cerrno>
#include <poll.h>
#include <sys/socket.h>

#include "smtp/policy.hpp"

namespace relay::smtp {

using Clock = std::chrono::steady_clock;

int Wire::socket() const {
    curl_socket_t s = CURL_SOCKET_BAD;
    if (api_.easy_getinfo(easy_, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK) return -1;
    return s == CURL_SOCKET_BAD ? -1 : static_cast<int>(s);
}

CURLcode Wire::wait(short events, Clock::time_point deadline) {
    int fd = socket();
    if (fd < 0) return CURLE_GOT_NOTHING;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return CURLE_OPERATION_TIMEDOUT;
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 60000)));
        if (n > 0) return CURLE_OK;  // ready, or an error the next call reports
        if (n < 0 && errno != EINTR) {
            errno_ = errno;
            return events & POLLOUT ? CURLE_SEND_ERROR : CURLE_RECV_ERROR;
        }
    }
}

void Wire::command(std::string_view line) {
    std::string l(line);
    l += "\r\n";
    transcript_.on_out(l);
    out_ += l;
}

CURLcode Wire::flush(std::chrono::seconds idle) {
    std::string_view rest(out_);
    auto deadline = Clock::now() + idle;
    while (!rest.empty()) {
        size_t n = 0;
        CURLcode rc = api_.easy_send(easy_, rest.data(), rest.size(), &n);
        if (rc == CURLE_AGAIN || (rc == CURLE_OK && n == 0)) {
            if (CURLcode w = wait(POLLOUT, deadline); w != CURLE_OK) {
                out_.clear();
                return w;
            }
            continue;
        }
        if (rc != CURLE_OK) {
            long e = 0;
            api_.easy_getinfo(easy_, CURLINFO_OS_ERRNO, &e);
            errno_ = static_cast<int>(e);
            out_.clear();
            return CURLE_SEND_ERROR;
        }
        rest.remove_prefix(n);
        deadline = Clock::now() + idle;  // progress
    }
    out_.clear();
    return CURLE_OK;
}

CURLcode Wire::read_reply(Reply &r, std::chrono::seconds timeout) {
    auto deadline = Clock::now() + timeout;
    size_t scanned = 0, reply_bytes = 0;
    for (;;) {
        size_t eol;
        while ((eol = in_.find('\n', scanned)) != std::string::npos) {
            std::string line = in_.substr(0, eol + 1);
            in_.erase(0, eol + 1);
            scanned = 0;
            reply_bytes += line.size();
            transcript_.on_in(line);
            std::string_view text(line);
            while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
                text.remove_suffix(1);
            int code = 0;
            std::string_view enhanced;
            if (!parse_reply_code(text, code, enhanced)) return CURLE_WEIRD_SERVER_REPLY;
            if (text.size() == 3 || text[3] == ' ') {
                r = transcript_.last_reply();
                if (r.empty()) r = Reply{code, std::string(text), std::string(enhanced)};
                return CURLE_OK;
            }
            if (reply_bytes > max_reply) return CURLE_WEIRD_SERVER_REPLY;
        }
        scanned = in_.size();
        if (in_.size() > max_reply) return CURLE_WEIRD_SERVER_REPLY;
        char buf[16384];
        size_t n = 0;
        CURLcode rc = api_.easy_recv(easy_, buf, sizeof buf, &n);
        if (rc == CURLE_AGAIN) {
            if (CURLcode w = wait(POLLIN, deadline); w != CURLE_OK) return w;
            continue;
        }
        if (rc != CURLE_OK) {
            long e = 0;
            api_.easy_getinfo(easy_, CURLINFO_OS_ERRNO, &e);
            errno_ = static_cast<int>(e);
            return CURLE_RECV_ERROR;
        }
        if (n == 0) return CURLE_GOT_NOTHING;
        in_.append(buf, n);
    }
}

bool Wire::stale() {
    if (!in_.empty()) return true;
    int fd = socket();
    if (fd < 0) return true;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) == 0) return false;
    // Readable: a hang-up, an unsolicited reply, or only TLS records that
    // carry no data (a TLS 1.3 session ticket), which leave it usable.
    char buf[512];
    size_t n = 0;
    CURLcode rc = api_.easy_recv(easy_, buf, sizeof buf, &n);
    if (rc == CURLE_AGAIN) return false;
    if (rc == CURLE_OK && n > 0) transcript_.on_in(std::string_view(buf, n));  // for -v
    return true;
}

void Wire::cut() {
    int fd = socket();
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    out_.clear();
    in_.clear();
}

}  // namespace relay::smtp
