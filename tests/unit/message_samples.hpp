// message_samples.hpp - the recorded caller inputs under tests/data/callers.
//
// Each file holds records of real sendmail invocations: the argv line and
// stdin byte for byte between "----- BEGIN STDIN (N bytes) -----" and the
// END marker. The byte count is exact, so stdin is read by count.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace relay::testing {

struct CallerSample {
    std::string file;   // "debian-cron.txt"
    int index = 0;      // record number inside the file
    std::string stdin_bytes;
};

inline std::string callers_dir() {
    const char *env = std::getenv("RELAY_TEST_SOURCE_DIR");
    std::string base = env && *env ? env : RELAY_TEST_SOURCE_DIR;
    return base + "/data/callers";
}

inline std::vector<CallerSample> load_caller_samples() {
    std::vector<CallerSample> out;
    std::vector<std::filesystem::path> files;
    for (const auto &e : std::filesystem::directory_iterator(callers_dir()))
        if (e.path().extension() == ".txt") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto &p : files) {
        std::ifstream in(p, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        std::string data = ss.str();
        const std::string marker = "----- BEGIN STDIN (";
        size_t pos = 0;
        int idx = 0;
        while ((pos = data.find(marker, pos)) != std::string::npos) {
            size_t num = pos + marker.size();
            size_t n = std::stoul(data.substr(num, 20));
            size_t start = data.find("-----\n", num);
            if (start == std::string::npos) break;
            start += 6;
            CallerSample s;
            s.file = p.filename().string();
            s.index = idx++;
            s.stdin_bytes = data.substr(start, n);
            out.push_back(std::move(s));
            pos = start + n;
        }
    }
    return out;
}

}  // namespace relay::testing
