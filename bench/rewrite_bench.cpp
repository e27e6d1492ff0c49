// rewrite_bench - load a 10,000-rule regexp table and a 100,000-entry
// texthash table, then rewrite one message's envelope, printing timings.
//
// Build: cmake --build build --target rewrite_bench
// Run:   build/rewrite_bench [--dir DIR] [--runs N] [--kv]
//
//   --dir DIR  write the two tables into DIR and keep them there (bench/run
//              then queries the very same files with postmap -q); without
//              it they go to a temporary directory that is removed.
//   --runs N   repeat every step N times and print the median (default 1).
//   --kv       print key=value lines (milliseconds) for bench/run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#include <unistd.h>

#include "rewrite/pipeline.hpp"
#include "rewrite/table.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
    std::string keep_dir;
    int runs = 1;
    bool kv = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) keep_dir = argv[++i];
        else if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--kv")) kv = true;
        else {
            std::fprintf(stderr, "usage: rewrite_bench [--dir DIR] [--runs N] [--kv]\n");
            return 64;
        }
    }
    fs::path dir = keep_dir.empty()
                       ? fs::temp_directory_path() / ("relay-bench-" + std::to_string(getpid()))
                       : fs::path(keep_dir);
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

    relay::config::Config cfg;
    cfg.myhostname = cfg.myorigin = "torres.example.net";
    cfg.mydomain = "example.net";
    cfg.rewrite.alias_maps.clear();
    cfg.rewrite.canonical_maps = {"texthash:" + th};
    cfg.rewrite.virtual_alias_maps = {"regexp:" + re};

    std::vector<double> t_re, t_th, t_pipe, t_rw, t_look_re, t_look_th;
    std::string line;
    for (int run = 0; run < runs; ++run) {
        auto t0 = Clock::now();
        auto rt = relay::rewrite::open_table("regexp:" + re);
        t_re.push_back(ms_since(t0));
        t0 = Clock::now();
        auto ht = relay::rewrite::open_table("texthash:" + th);
        t_th.push_back(ms_since(t0));
        if (!rt || !ht) return 1;
        // One lookup of the last rule / last key: the worst case for a
        // first-match regexp table.
        t0 = Clock::now();
        auto m1 = (*rt)->lookup("user9999@example.com");
        t_look_re.push_back(ms_since(t0));
        t0 = Clock::now();
        auto m2 = (*ht)->lookup("login99999");
        t_look_th.push_back(ms_since(t0));
        if (!m1 || !m2) return 1;

        t0 = Clock::now();
        relay::rewrite::Pipeline p(cfg);
        t_pipe.push_back(ms_since(t0));
        t0 = Clock::now();
        auto s = p.sender("login99999");
        auto r1 = p.recipient("root");
        auto r2 = p.recipient("user9999@example.com");
        auto r3 = p.recipient("cron@torres.example.net");
        t_rw.push_back(ms_since(t0));
        line = s + " | " + r1.front() + " | " + r2.front() + " | " + r3.front();
    }
    if (kv) {
        std::printf("rw_runs=%d\nrw_load_regexp_ms=%.3f\nrw_load_texthash_ms=%.3f\n"
                    "rw_lookup_regexp_ms=%.4f\nrw_lookup_texthash_ms=%.4f\n"
                    "rw_pipeline_ms=%.3f\nrw_rewrite_ms=%.4f\n",
                    runs, median(t_re), median(t_th), median(t_look_re), median(t_look_th),
                    median(t_pipe), median(t_rw));
        std::printf("rw_result=%s\n", line.c_str());
    } else {
        std::printf("load regexp (10,000 rules):     %8.2f ms\n", median(t_re));
        std::printf("load texthash (100,000 keys):   %8.2f ms\n", median(t_th));
        std::printf("lookup last regexp rule:        %8.4f ms\n", median(t_look_re));
        std::printf("lookup last texthash key:       %8.4f ms\n", median(t_look_th));
        std::printf("pipeline (both tables):         %8.2f ms\n", median(t_pipe));
        std::printf("rewrite one message (1+3 addr): %8.4f ms\n", median(t_rw));
        if (runs > 1) std::printf("  (medians of %d runs)\n", runs);
        std::printf("  %s\n", line.c_str());
    }
    if (keep_dir.empty()) fs::remove_all(dir);
    return 0;
}
