#include "cli/mailq.hpp"

#include <cstdio>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <fstream>
#include <sstream>

#include "queue/id.hpp"
#include "queue/maildrop.hpp"
#include "queue/pickup.hpp"
#include "queue/queue_fs.hpp"
#include "util/error.hpp"

namespace relay::cli {
namespace {

struct Row {
    std::string id;
    char mark = ' ';
    uint64_t size = 0;
    int64_t arrival = 0;
    std::string queue_name;
    std::string sender;
    std::string reason;
    struct Rcpt {
        std::string address, orig, reason;
    };
    std::vector<Rcpt> rcpts;
};

// Like Postfix's printable(): what a local user put into an address (-f
// takes any byte but CR, LF and NUL) must not drive the terminal of the
// admin who runs mailq, nor make the JSON output invalid UTF-8. Valid UTF-8
// stays; a byte that is not part of a valid sequence becomes '?', and so do
// control characters (C0, DEL, C1) unless KEEP_CONTROLS (JSON escapes them).
std::string printable(std::string_view s, bool keep_controls = false) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            out += (!keep_controls && (c < 0x20 || c == 0x7f)) ? '?' : static_cast<char>(c);
            ++i;
            continue;
        }
        size_t len = (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3
                   : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
        uint32_t cp = len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
        bool ok = len > 0 && i + len <= s.size();
        for (size_t k = 1; ok && k < len; ++k) {
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            ok = (cc & 0xc0) == 0x80;
            cp = (cp << 6) | (cc & 0x3f);
        }
        ok = ok && !(len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) &&
             !(len == 4 && (cp < 0x10000 || cp > 0x10ffff));
        if (!ok || (!keep_controls && cp <= 0x9f)) {
            out += '?';
            i += ok ? len : 1;
            continue;
        }
        out.append(s.substr(i, len));
        i += len;
    }
    return out;
}

std::string json_escape(const std::string &raw) {
    std::string out;
    std::string s = printable(raw, true);
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                char b[8];
                snprintf(b, sizeof b, "\\u%04x", c);
                out += b;
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    return out;
}

std::vector<Row> maildrop_rows(const std::string &spool) {
    std::vector<Row> rows;
    std::string dir = spool + "/maildrop";
    DIR *d = opendir(dir.c_str());
    if (!d) return rows;
    std::vector<std::string> names;
    while (auto *e = readdir(d))
        if (queue::is_valid_id(e->d_name)) names.emplace_back(e->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());
    for (auto &n : names) {
        std::string path = dir + "/" + n;
        int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) continue;
        struct stat st;
        std::string text;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (64 << 20)) {
            text.resize(static_cast<size_t>(st.st_size));
            ssize_t got = ::read(fd, text.data(), text.size());
            text.resize(got > 0 ? static_cast<size_t>(got) : 0);
        }
        ::close(fd);
        auto sub = queue::parse_submission(text, 1ull << 40);
        if (!sub) continue;
        Row r;
        r.id = n;
        r.queue_name = "maildrop";
        r.size = sub->message.size();
        r.arrival = queue::id_time(n);
        r.sender = sub->sender ? *sub->sender : queue::login_name(st.st_uid);
        for (auto &a : sub->recipients) r.rcpts.push_back({a, "", ""});
        if (sub->extract_recipients) r.rcpts.push_back({"(recipients from the message headers)", "", ""});
        rows.push_back(std::move(r));
    }
    return rows;
}

}  // namespace

void list_queue(const config::Config &cfg, std::ostream &out, bool json) {
    queue::FsQueue q(cfg.queue.directory);
    std::string probe = cfg.queue.directory + "/queue";
    if (::access(probe.c_str(), R_OK | X_OK) < 0) {
        int e = errno;
        throw Fatal(e == ENOENT ? Exit::TempFail : Exit::NoPerm,
                    "cannot read the queue in " + cfg.queue.directory + ": " + errno_text(e) +
                        (e == EACCES ? " (run mailq as root or as the relay user)" : ""));
    }
    std::vector<Row> rows;
    struct AreaInfo {
        queue::Area area;
        char mark;
        const char *name;
    };
    for (auto ai : {AreaInfo{queue::Area::Queue, ' ', "deferred"}, AreaInfo{queue::Area::Hold, '!', "hold"},
                    AreaInfo{queue::Area::Corrupt, '#', "corrupt"}}) {
        for (auto &id : q.list(ai.area)) {
            Row r;
            r.id = id;
            r.mark = ai.mark;
            r.queue_name = ai.name;
            auto env = q.load(id, ai.area);
            if (!env) {
                r.arrival = queue::id_time(id);
                r.sender = "?";
                r.reason = "unreadable queue entry: " + env.error().message;
                rows.push_back(std::move(r));
                continue;
            }
            r.size = env->size;
            r.arrival = env->arrival;
            r.sender = env->sender;
            r.reason = env->reason;
            if (ai.area == queue::Area::Queue && env->tries == 0) r.queue_name = "active";
            for (auto &rc : env->rcpts)
                if (rc.status == queue::RcptStatus::Pending) r.rcpts.push_back({rc.address, rc.orig, rc.reason});
            rows.push_back(std::move(r));
        }
    }
    auto md = maildrop_rows(cfg.queue.directory);
    rows.insert(rows.begin(), md.begin(), md.end());
    std::sort(rows.begin(), rows.end(), [](const Row &a, const Row &b) { return a.id < b.id; });

    if (json) {
        for (auto &r : rows) {
            out << "{\"queue_name\": \"" << r.queue_name << "\", \"queue_id\": \"" << r.id
                << "\", \"arrival_time\": " << r.arrival << ", \"message_size\": " << r.size
                << ", \"forced_expire\": false, \"sender\": \"" << json_escape(r.sender)
                << "\", \"recipients\": [";
            for (size_t i = 0; i < r.rcpts.size(); ++i) {
                auto &rc = r.rcpts[i];
                out << (i ? ", " : "") << "{\"address\": \"" << json_escape(rc.address) << "\"";
                if (!rc.orig.empty() && rc.orig != rc.address)
                    out << ", \"orig_address\": \"" << json_escape(rc.orig) << "\"";
                std::string why = rc.reason.empty() ? r.reason : rc.reason;
                if (!why.empty()) out << ", \"delay_reason\": \"" << json_escape(why) << "\"";
                out << "}";
            }
            out << "]}\n";
        }
        return;
    }
    if (rows.empty()) {
        out << "Mail queue is empty\n";
        return;
    }
    char line[1024];
    snprintf(line, sizeof line, "%-17s %8s %-19s %s\n", "----Queue ID-----", "--Size--",
             "---Arrival Time----", "--Sender/Recipient------");
    out << line;
    uint64_t total = 0;
    for (auto &r : rows) {
        total += r.size;
        time_t t = static_cast<time_t>(r.arrival);
        struct tm tm;
        localtime_r(&t, &tm);
        char when[64];
        asctime_r(&tm, when);
        std::string idm = r.id + r.mark;
        snprintf(line, sizeof line, "%-17s %8llu %19.19s %s\n", idm.c_str(),
                 static_cast<unsigned long long>(r.size), when,
                 r.sender.empty() ? "MAILER-DAEMON" : printable(r.sender).c_str());
        out << line;
        std::string last_reason;
        for (auto &rc : r.rcpts) {
            std::string why = printable(rc.reason.empty() ? r.reason : rc.reason);
            if (!why.empty() && why != last_reason) {
                int pad = std::max(13, 76 - static_cast<int>(why.size()) - 2);
                out << std::string(static_cast<size_t>(pad), ' ') << "(" << why << ")\n";
                last_reason = why;
            }
            out << std::string(47, ' ') << printable(rc.address) << "\n";
        }
        out << "\n";
    }
    snprintf(line, sizeof line, "-- %llu Kbytes in %zu Request%s.\n",
             static_cast<unsigned long long>(total / 1024), rows.size(), rows.size() == 1 ? "" : "s");
    out << line;
}

}  // namespace relay::cli
