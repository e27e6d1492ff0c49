// table_fuzz - the table file parsers of rewrite/table.hpp.
//
// Built once per table type (TABLE_TYPE is "regexp", "pcre", "texthash"
// or "aliases"). The input is the table file, optionally followed by a
// "%%" line and lookup keys, one per line. open_table() reads a file, so
// the input is written to one private temporary file per process.
//
// Guarantees checked: loading a file never fails (bad lines are warnings),
// every warning is one line; lookups of the keys, of each line's first
// word and of a few fixed addresses return a line number inside the file
// and a value without NUL; an exact-match table finds its keys in any case.
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <cstdlib>
#include <string>

#include "fuzz_support.hpp"
#include "rewrite/table.hpp"
#include "util/strings.hpp"

#ifndef TABLE_TYPE
#error "TABLE_TYPE must name the table type"
#endif

using relay::fuzz::check;

namespace {

std::string g_path;

bool write_file(const std::string &path, std::string_view text) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
}

// glibc's regcomp() duplicates the tree of a quantified expression, so
// its memory grows exponentially with nested or stacked quantifiers
// ("((a+)+)+", "x+++", "a{9}{9}{9}") and linearly with repeat counts: a
// table can make Postfix, which uses the same regcomp(), run out of memory
// the same way. Tables are the admin's, not a caller's; rules with more
// than a few quantifiers, or a repeat count of two digits, are left out of
// regexp: fuzzing (each '*', '+', '?' may double the size, '{' may
// multiply it by up to 9).
bool regcomp_blowup(std::string_view text) {
    int weight = 0;
    bool line_start = true;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (line_start && c != ' ' && c != '\t') weight = 0;  // a new logical line
        line_start = c == '\n';
        if (c == '*' || c == '+' || c == '?') weight += 1;
        if (c == '{') {
            weight += 3;
            if (i + 2 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1])) &&
                std::isdigit(static_cast<unsigned char>(text[i + 2])))
                return true;
        }
        if (weight > 12) return true;
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    const char *tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/relay-fuzz-XXXXXX";
    if (!::mkdtemp(tmpl.data())) std::abort();
    g_path = tmpl + "/" TABLE_TYPE;
    // Removed at exit; a crash leaves it for inspection.
    std::atexit([] {
        ::unlink(g_path.c_str());
        ::rmdir(g_path.substr(0, g_path.rfind('/')).c_str());
    });
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    auto sec = relay::fuzz::split_sections(relay::fuzz::as_text(data, size));
    const std::string &file = sec[0];
    std::string type = TABLE_TYPE;
    if (type == "regexp" && regcomp_blowup(file)) return -1;  // not added to the corpus
    if (!write_file(g_path, file)) std::abort();
    auto format = type == "aliases" ? relay::rewrite::TableFormat::Aliases
                                    : relay::rewrite::TableFormat::Map;
    auto t = relay::rewrite::open_table((type == "aliases" ? "hash" : type) + ":" + g_path, format);
    check(t.ok(), "a readable table file did not open");
    for (auto &w : (*t)->warnings()) relay::fuzz::check_one_line(w, "warning not one line");

    std::vector<std::string> keys{"root", "root@example.com", "user+ext@example.net", "@example.net",
                                  "", "MAILER-DAEMON", std::string(300, 'a') + "@b"};
    auto lines = relay::fuzz::lines_of(file);
    int nlines = static_cast<int>(lines.size());
    for (auto line : lines) {
        size_t end = 0;
        while (end < line.size() && !std::isspace(static_cast<unsigned char>(line[end])) &&
               line[end] != ':')
            ++end;
        if (end > 0 && keys.size() < 64) keys.emplace_back(line.substr(0, end));
    }
    for (size_t i = 1; i < sec.size(); ++i)
        for (auto k : relay::fuzz::lines_of(sec[i]))
            if (keys.size() < 128) keys.emplace_back(k);

    bool exact = type == "texthash" || type == "aliases";
    for (auto &k : keys) {
        auto m = (*t)->find(k);
        if (!m) continue;
        check(m->line >= 0 && m->line <= nlines, "match line outside the file");
        if (exact) {
            check(m->line > 0 || k == "@", "exact match without a line");
            auto upper = relay::util::to_lower(k);
            for (auto &c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            auto m2 = (*t)->find(upper);
            check(m2 && m2->value == m->value, "exact-match key is case-sensitive");
        }
    }
    return 0;
}
