// message_python_peer.hpp - Python's email package as an independent reader.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace relay::testing {

struct PeerPart {
    std::string type, cte, charset, filename, payload;
};

struct PeerView {
    std::vector<std::pair<std::string, std::string>> headers;  // decoded
    std::vector<std::vector<std::string>> addrs;               // header, display, addr_spec
    std::vector<PeerPart> parts;
    int defects = -1;
    std::string header(const std::string &name) const {
        for (const auto &[n, v] : headers)
            if (n == name) return v;
        return "<absent>";
    }
};

inline std::string unhex(const std::string &h) {
    std::string out;
    for (size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
    return out;
}

inline std::vector<std::string> split_tabs(const std::string &line) {
    std::vector<std::string> f;
    size_t p = 0;
    for (;;) {
        size_t t = line.find('\t', p);
        f.push_back(line.substr(p, t == std::string::npos ? std::string::npos : t - p));
        if (t == std::string::npos) return f;
        p = t + 1;
    }
}

// Writes MESSAGE to a temporary file and runs /usr/bin/python3 on it.
inline PeerView python_read(const std::string &message) {
    PeerView v;
    char path[] = "/tmp/relay-msg-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return v;
    if (write(fd, message.data(), message.size()) != static_cast<ssize_t>(message.size())) {
        close(fd);
        unlink(path);
        return v;
    }
    close(fd);
    const char *env = std::getenv("RELAY_TEST_SOURCE_DIR");
    std::string base = env && *env ? env : RELAY_TEST_SOURCE_DIR;
    std::string cmd = "/usr/bin/python3 '" + base + "/data/email_dump.py' '" + path + "'";
    FILE *p = popen(cmd.c_str(), "r");
    std::string out;
    if (p) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        pclose(p);
    }
    unlink(path);
    size_t pos = 0;
    while (pos < out.size()) {
        size_t nl = out.find('\n', pos);
        if (nl == std::string::npos) nl = out.size();
        auto f = split_tabs(out.substr(pos, nl - pos));
        pos = nl + 1;
        if (f[0] == "header" && f.size() >= 3) v.headers.emplace_back(f[1], f[2]);
        else if (f[0] == "addr" && f.size() >= 4) v.addrs.push_back({f[1], f[2], f[3]});
        else if (f[0] == "part" && f.size() >= 6) v.parts.push_back({f[1], f[2], f[3], f[4], unhex(f[5])});
        else if (f[0] == "defects" && f.size() >= 2) v.defects = std::stoi(f[1]);
    }
    return v;
}

}  // namespace relay::testing
