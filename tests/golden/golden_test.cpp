// golden_test.cpp - relay's tables against the answers of real Postfix.
//
// Each tests/golden/NAME.map with NAME.in was run through Postfix's own
// postmap/postalias by regen.sh; NAME.ref is what it printed on stdout,
// NAME.err on stderr, NAME.rc its exit status. Here the same query runs
// through relay::rewrite::postmap_query (postalias_query for aliases_*)
// and must give the same stdout byte for byte, the same exit status, and
// the same warnings. Comparing warnings, the program name before
// "warning: " is ignored, and a warning Postfix repeats (postmap -q -
// reopens texthash: tables) counts once. For hash_ and aliases_ cases
// Postfix names the .db file it builds in duplicate-key warnings, where
// relay (which reads the text) names the line: there only the key is
// compared.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "rewrite/tools.hpp"

namespace fs = std::filesystem;

namespace {

std::string dir() { return std::string(RELAY_TEST_SOURCE_DIR) + "/golden"; }

std::string slurp(const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> cases() {
    std::vector<std::string> out;
    for (auto &e : fs::directory_iterator(dir()))
        if (e.path().extension() == ".map") out.push_back(e.path().stem().string());
    std::sort(out.begin(), out.end());
    return out;
}

bool starts(const std::string &s, const char *p) { return s.rfind(p, 0) == 0; }

std::vector<std::string> normalise(const std::string &text, bool db_tolerant) {
    static const std::regex prog("^[^ :]+: (warning|fatal|error): ");
    static const std::regex dup("^warning: (\\S+?)(\\.db|, line [0-9]+): duplicate entry: \"(.*)\"$");
    static const std::regex fmt("^(.*: expected format: key whitespace value)( -- ignoring this line)?$");
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        line = std::regex_replace(line, prog, "$1: ");
        if (db_tolerant) {
            std::smatch m;
            if (std::regex_match(line, m, dup)) {
                std::string key = m[3];
                std::transform(key.begin(), key.end(), key.begin(), ::tolower);
                line = "warning: duplicate entry: \"" + key + "\"";
            } else if (std::regex_match(line, m, fmt)) {
                line = m[1];
            }
        }
        if (std::find(out.begin(), out.end(), line) == out.end()) out.push_back(line);
    }
    return out;
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesPostfix) {
    const std::string name = GetParam();
    const fs::path base = fs::path(dir()) / name;
    std::string map = base.string() + ".map";
    std::string spec;
    bool aliases = starts(name, "aliases_");
    bool db = aliases || starts(name, "hash_");
    if (starts(name, "spec_")) {
        spec = slurp(map);
        while (!spec.empty() && (spec.back() == '\n' || spec.back() == ' ')) spec.pop_back();
    } else {
        std::string type = name.substr(0, name.find('_'));
        if (type == "aliases") type = "hash";
        spec = type + ":" + map;
    }
    std::istringstream in(slurp(base.string() + ".in"));
    std::ostringstream out, err;
    int rc = aliases ? relay::rewrite::postalias_query({"-"}, spec, in, out, err)
                     : relay::rewrite::postmap_query({"-"}, spec, in, out, err);
    std::string ours_err = err.str();
    for (size_t p; (p = ours_err.find(dir() + "/")) != std::string::npos;)
        ours_err.erase(p, dir().size() + 1);

    EXPECT_EQ(out.str(), slurp(base.string() + ".ref")) << "stdout of " << name;
    EXPECT_EQ(rc, std::stoi(slurp(base.string() + ".rc"))) << "exit status of " << name;
    EXPECT_EQ(normalise(ours_err, db), normalise(slurp(base.string() + ".err"), db))
        << "warnings of " << name;
}

INSTANTIATE_TEST_SUITE_P(Postfix, Golden, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<std::string> &p) { return p.param; });

TEST(GoldenSet, CoversEveryTableType) {
    auto all = cases();
    for (const char *prefix : {"regexp_", "pcre_", "texthash_", "hash_", "aliases_", "spec_"})
        EXPECT_TRUE(std::any_of(all.begin(), all.end(),
                                [&](const std::string &c) { return starts(c, prefix); }))
            << prefix;
    EXPECT_GE(all.size(), 25u);
}

}  // namespace
