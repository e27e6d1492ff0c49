#include "queue/maildrop.hpp"

#include <cctype>
#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/strings.hpp"
#include "util/sys.hpp"

namespace relay::queue {
namespace sys = util::sys;

namespace {
constexpr size_t max_fields_bytes = 4 * 1024 * 1024;
constexpr size_t max_recipients = 10000;

constexpr size_t max_value = 2048;

// The same rule as the front end's: no control character at all (TAB only
// where ALLOW_TAB), so a hand-made file cannot bring in what -f refuses.
// MAX is the length limit (larger for the xtext form of a value).
bool clean(std::string_view v, bool allow_tab = false, size_t max = max_value) {
    if (v.size() > max) return false;
    for (unsigned char c : v)
        if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f) return false;
    return true;
}
// xtext turns one byte into up to three ("+XX"): the limit is on the value.
bool is_xtext_field(std::string_view key) { return key == "fullname" || key == "envid"; }
}  // namespace

bool valid_notify(std::string_view v) {
    if (v.empty()) return false;
    bool never = false, other = false;
    size_t start = 0;
    for (;;) {
        size_t comma = v.find(',', start);
        std::string_view w = v.substr(start, comma == std::string_view::npos ? v.npos : comma - start);
        if (w == "NEVER") never = true;
        else if (w == "SUCCESS" || w == "FAILURE" || w == "DELAY") other = true;
        else return false;
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return !(never && other);
}

bool valid_orcpt(std::string_view v) {
    // addr-type ";" xtext (RFC 3461 section 4.2), at most 500 characters.
    size_t semi = v.find(';');
    if (semi == std::string_view::npos || semi == 0 || semi + 1 >= v.size() || v.size() > 500)
        return false;
    for (char c : v.substr(0, semi))
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    std::string_view x = v.substr(semi + 1);
    for (size_t i = 0; i < x.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(x[i]);
        if (c == '+') {
            if (i + 2 >= x.size()) return false;
            if (!std::isxdigit(static_cast<unsigned char>(x[i + 1])) ||
                !std::isxdigit(static_cast<unsigned char>(x[i + 2])))
                return false;
            i += 2;
        } else if (c < 0x21 || c > 0x7e || c == '=') {
            return false;
        }
    }
    return true;
}

std::string serialize_submission(const Submission &s) {
    std::string out = "maildrop: 1\n";
    auto kv = [&out](std::string_view k, std::string_view v) {
        out.append(k).append(": ").append(v).append("\n");
    };
    if (s.sender) kv("sender", *s.sender);
    if (s.fullname) kv("fullname", util::xtext_encode(*s.fullname));
    if (s.extract_recipients) kv("flags", "t");
    if (!s.body_type.empty()) kv("body", s.body_type);
    if (!s.notify.empty()) kv("notify", s.notify);
    if (!s.ret.empty()) kv("ret", s.ret);
    if (!s.envid.empty()) kv("envid", util::xtext_encode(s.envid));
    for (size_t i = 0; i < s.recipients.size(); ++i) {
        kv("rcpt", s.recipients[i]);
        if (i < s.rcpt_params.size()) {
            if (!s.rcpt_params[i].notify.empty()) kv("rcpt.notify", s.rcpt_params[i].notify);
            if (!s.rcpt_params[i].orcpt.empty()) kv("rcpt.orcpt", s.rcpt_params[i].orcpt);
        }
    }
    out += "data:\n";
    return out;
}

Result<Submission> parse_submission(std::string_view text, size_t limit) {
    Submission s;
    bool first = true;
    size_t consumed = 0;
    for (;;) {
        size_t nl = text.find('\n', consumed);
        if (nl == std::string_view::npos || nl > max_fields_bytes)
            return make_error("no data: line in maildrop file");
        std::string_view line = text.substr(consumed, nl - consumed);
        consumed = nl + 1;
        if (line == "data:") break;
        size_t colon = line.find(": ");
        std::string_view key = colon == std::string_view::npos ? line : line.substr(0, colon);
        std::string_view val = colon == std::string_view::npos ? "" : line.substr(colon + 2);
        if (key.size() && key.back() == ':') key.remove_suffix(1);
        if (!clean(val, false, is_xtext_field(key) ? 3 * max_value : max_value))
            return make_error("bad value for " + std::string(key.substr(0, 20)));
        if (first) {
            if (key != "maildrop" || val != "1") return make_error("not a maildrop file (version)");
            first = false;
        } else if (key == "sender") {
            s.sender = std::string(val);
        } else if (key == "fullname") {
            auto f = util::xtext_decode(val);
            if (!clean(f, true)) return make_error("bad fullname");
            s.fullname = f;
        } else if (key == "flags") {
            for (char c : val) {
                if (c == 't') s.extract_recipients = true;
                else return make_error("unknown flag");
            }
        } else if (key == "body") {
            if (val != "7BIT" && val != "8BITMIME") return make_error("bad body type");
            s.body_type = val;
        } else if (key == "notify") {
            if (!valid_notify(val)) return make_error("bad notify");
            s.notify = val;
        } else if (key == "ret") {
            if (val != "FULL" && val != "HDRS") return make_error("bad ret");
            s.ret = val;
        } else if (key == "envid") {
            auto e = util::xtext_decode(val);
            if (!clean(e)) return make_error("bad envid");
            s.envid = e;
        } else if (key == "rcpt") {
            if (val.empty()) return make_error("empty rcpt");
            if (s.recipients.size() >= max_recipients) return make_error("too many recipients");
            s.recipients.emplace_back(val);
        } else if (key == "rcpt.notify" || key == "rcpt.orcpt") {
            if (s.recipients.empty()) return make_error(std::string(key) + " before any rcpt");
            s.rcpt_params.resize(s.recipients.size());
            auto &p = s.rcpt_params.back();
            if (key == "rcpt.notify") {
                if (!valid_notify(val) || !p.notify.empty()) return make_error("bad rcpt.notify");
                p.notify = val;
            } else {
                if (!valid_orcpt(val) || !p.orcpt.empty()) return make_error("bad rcpt.orcpt");
                p.orcpt = val;
            }
        } else {
            return make_error("unknown field '" + std::string(key.substr(0, 20)) + "'");
        }
    }
    if (first) return make_error("not a maildrop file");
    if (!s.rcpt_params.empty()) s.rcpt_params.resize(s.recipients.size());
    if (text.size() - consumed > limit) return make_error("message exceeds the size limit");
    s.message = std::string(text.substr(consumed));
    return s;
}

Result<void> write_maildrop(const std::string &spool, const std::string &id, const Submission &s) {
    // Accepted means delivered: never write what pickup would refuse (a
    // recipient over 2048 bytes went to corrupt/ after the caller heard "ok").
    std::string head = serialize_submission(s);
    if (auto check = parse_submission(head, 0); !check)
        return make_error("cannot queue this submission: " + check.error().message + " (over " +
                              std::to_string(max_value) + " bytes, or a control character)",
                          EINVAL);
    std::string dir_path = spool + "/maildrop";
    util::UniqueFd dir(::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) {
        int e = errno;
        return make_error("cannot open " + dir_path + ": " + errno_text(e), e);
    }
    std::string tmp = "t." + id;
    util::UniqueFd fd(sys::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
                                  0600));
    if (!fd) {
        int e = errno;
        return make_error("cannot create " + dir_path + "/" + tmp + ": " + errno_text(e), e);
    }
    // Held until the file is renamed (and the fd closed): pickup removes a
    // stale t.* file only when it can take this lock, i.e. its writer died.
    while (::flock(fd.get(), LOCK_EX) < 0 && errno == EINTR) {
    }
    auto fail = [&](const char *what) -> Result<void> {
        int e = errno;
        ::unlinkat(dir.get(), tmp.c_str(), 0);
        return make_error(std::string(what) + " " + dir_path + "/" + tmp + ": " + errno_text(e), e);
    };
    if (sys::write_all(fd.get(), head.data(), head.size()) < 0) return fail("cannot write");
    if (sys::write_all(fd.get(), s.message.data(), s.message.size()) < 0) return fail("cannot write");
    // Readable by pickup (the relay user) whatever the umask; nobody else can
    // search the maildrop directory.
    if (::fchmod(fd.get(), 0644) < 0) return fail("cannot chmod");
    if (sys::fsync(fd.get()) < 0) return fail("cannot fsync");
    if (sys::renameat(dir.get(), tmp.c_str(), dir.get(), id.c_str()) < 0) return fail("cannot rename");
    fd.reset();
    if (sys::fsync_dir(dir.get()) < 0) {
        // The name may not be durable: take the file back and say so, so the
        // caller keeps its copy. Exit 0 always means "durably queued".
        int e = errno;
        ::unlinkat(dir.get(), id.c_str(), 0);
        return make_error("cannot fsync " + dir_path + ": " + errno_text(e), e);
    }
    return {};
}

}  // namespace relay::queue
