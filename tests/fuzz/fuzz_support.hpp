// fuzz_support.hpp - what the libFuzzer targets share.
//
// A target states the guarantees of the code it drives as checks; a check
// that fails aborts, and libFuzzer keeps the input as a crash. Inputs that
// carry several fields (a mail specification, a table and its keys) are
// split at a separator line, so that a seed file stays readable text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace relay::fuzz {

// Aborts with WHAT on stderr unless OK.
inline void check(bool ok, const char *what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz check failed: %s\n", what);
        std::abort();
    }
}

// Aborts unless S is one line (one_line() below), showing S escaped.
inline bool one_line(std::string_view s);
inline void check_one_line(std::string_view s, const char *what) {
    if (one_line(s)) return;
    std::string shown;
    for (unsigned char c : s) {
        char buf[8];
        if (c >= 0x20 && c < 0x7f) shown += static_cast<char>(c);
        else std::snprintf(buf, sizeof buf, "\\x%02x", c), shown += buf;
    }
    std::fprintf(stderr, "fuzz check failed: %s: \"%s\"\n", what, shown.c_str());
    std::abort();
}

inline std::string_view as_text(const uint8_t *data, size_t size) {
    return {reinterpret_cast<const char *>(data), size};
}

// True when S holds no CR, LF or NUL.
inline bool one_line(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Splits TEXT at every line that is exactly "%%" (the separator of the
// multi-part seed files in tests/fuzz/seeds/). There is always one section.
inline std::vector<std::string> split_sections(std::string_view text) {
    std::vector<std::string> out(1);
    size_t i = 0;
    while (i < text.size()) {
        size_t nl = text.find('\n', i);
        size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
        std::string_view line = text.substr(i, end - i);
        if (line == "%%\n" || line == "%%") out.emplace_back();
        else out.back().append(line);
        i = end;
    }
    return out;
}

// The lines of TEXT (without their LF).
inline std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        out.push_back(text.substr(0, nl));
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return out;
}

}  // namespace relay::fuzz
