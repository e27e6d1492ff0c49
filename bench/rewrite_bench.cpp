// rewrite_bench - load a 10,000-rule regexp table and a 100,000-entry
// texthash table, then rewrite one message's envelope, printing timings.
// Build: cmake --build build --target rewrite_bench; run: build/rewrite_bench
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "rewrite/pipeline.hpp"
#include "rewrite/table.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

int main() {
    fs::path dir = fs::temp_directory_path() / ("relay-bench-" + std::to_string(getpid()));
    fs::create_directories(dir);
    auto re = (dir / "virtual.regexp").string();
    auto th = (dir / "canonical").string();
    {
        std::ofstream r(re);
        for (int i = 0; i < 10000; ++i) r << "/^user" << i << "@example\\.com$/ person" << i << "@example.net\n";
        r << "/^(.*)@torres\\.example\\.net$/ torres+${1}@example.net\n";
        std::ofstream t(th);
        for (int i = 0; i < 100000; ++i) t << "login" << i << " First" << i << ".Last@example.org\n";
        t << "root hostmaster@example.com\n";
    }
    auto t0 = Clock::now();
    auto rt = relay::rewrite::open_table("regexp:" + re);
    std::printf("load regexp (10,000 rules):     %8.2f ms\n", ms_since(t0));
    t0 = Clock::now();
    auto ht = relay::rewrite::open_table("texthash:" + th);
    std::printf("load texthash (100,000 keys):   %8.2f ms\n", ms_since(t0));
    if (!rt || !ht) return 1;

    relay::config::Config cfg;
    cfg.myhostname = cfg.myorigin = "torres.example.net";
    cfg.mydomain = "example.net";
    cfg.rewrite.alias_maps.clear();
    cfg.rewrite.canonical_maps = {"texthash:" + th};
    cfg.rewrite.virtual_alias_maps = {"regexp:" + re};
    t0 = Clock::now();
    relay::rewrite::Pipeline p(cfg);
    std::printf("pipeline (both tables):         %8.2f ms\n", ms_since(t0));
    t0 = Clock::now();
    auto s = p.sender("login99999");
    auto r1 = p.recipient("root");
    auto r2 = p.recipient("user9999@example.com");
    auto r3 = p.recipient("cron@torres.example.net");
    std::printf("rewrite one message (1+3 addr): %8.2f ms\n", ms_since(t0));
    std::printf("  %s | %s | %s | %s\n", s.c_str(), r1.front().c_str(), r2.front().c_str(),
                r3.front().c_str());
    fs::remove_all(dir);
    return 0;
}
