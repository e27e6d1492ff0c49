#include "server/users.hpp"

#include <cerrno>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "log/log.hpp"
#include "util/error.hpp"
#include "util/fd.hpp"
#include "util/strings.hpp"
#include "util/sys.hpp"

namespace relay::server {

bool valid_user_name(std::string_view name) {
    if (name.empty() || name.size() > 255) return false;
    for (char c : name) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f || c == ':' || c == '#') return false;
    }
    return true;
}

std::map<std::string, std::string> parse_users(std::string_view text, const std::string &path,
                                               std::vector<std::string> *warnings) {
    std::map<std::string, std::string> out;
    int lineno = 0;
    for (auto &raw : util::split(text, '\n')) {
        ++lineno;
        std::string_view line = util::trim(raw);
        if (line.empty() || line.front() == '#') continue;
        size_t colon = line.find(':');
        auto warn = [&](const std::string &w) {
            if (warnings) warnings->push_back(path + ":" + std::to_string(lineno) + ": " + w);
        };
        if (colon == std::string_view::npos) {
            warn("expected NAME:HASH: entry skipped");
            continue;
        }
        std::string name(line.substr(0, colon));
        std::string hash(util::trim(line.substr(colon + 1)));
        if (!valid_user_name(name)) {
            warn("bad user name: entry skipped");
            continue;
        }
        if (hash.rfind("$argon2id$", 0) != 0 && hash.rfind("$argon2i$", 0) != 0) {
            warn("user " + name + ": not an argon2 hash (use relay passwd): entry skipped");
            continue;
        }
        if (out.count(name)) warn("user " + name + ": duplicate entry; the first one counts");
        else out.emplace(name, hash);
    }
    return out;
}

void UserDb::refresh() {
    struct stat st;
    if (::stat(path_.c_str(), &st) != 0) {
        if (mtime_ns_ != -2) log::warning("users file " + path_ + ": " + errno_text(errno));
        users_.clear();
        mtime_ns_ = -2;
        return;
    }
    long long mtime = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    if (mtime == mtime_ns_ && st.st_ino == ino_ && static_cast<unsigned long long>(st.st_size) == size_)
        return;
    mtime_ns_ = mtime;
    ino_ = st.st_ino;
    size_ = static_cast<unsigned long long>(st.st_size);
    if (st.st_mode & 077)
        log::warning("users file " + path_ + " is readable by others: chmod 600 it");
    std::ifstream in(path_, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    std::vector<std::string> warnings;
    users_ = parse_users(ss.str(), path_, &warnings);
    for (auto &w : warnings) log::warning(w);
}

std::optional<std::string> UserDb::hash_of(const std::string &user) {
    std::lock_guard<std::mutex> lock(mu_);
    refresh();
    auto it = users_.find(user);
    if (it == users_.end()) return std::nullopt;
    return it->second;
}

bool UserDb::verify(const std::optional<std::string> &hash, const std::string &password) {
    // The dummy costs one hash at the first unknown user; after that an
    // unknown name and a wrong password take the same time.
    static const std::string dummy = [] {
        auto h = hash_password("relay dummy password");
        return h ? *h : std::string();
    }();
    const std::string &h = hash ? *hash : dummy;
    if (h.empty()) return false;
    bool ok = crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
    return ok && hash.has_value();
}

Result<std::string> hash_password(const std::string &password) {
    if (sodium_init() < 0) return make_error("libsodium failed to initialise");
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                              crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return make_error("out of memory while hashing the password");
    return std::string(out);
}

Result<void> write_user(const std::string &path, const std::string &user, const std::string &hash) {
    if (!valid_user_name(user)) return make_error("bad user name \"" + user + "\"");
    std::string old;
    {
        std::ifstream in(path, std::ios::binary);
        if (in) {
            std::ostringstream ss;
            ss << in.rdbuf();
            old = ss.str();
        } else if (errno != ENOENT) {
            return make_error(path + ": " + errno_text(errno), errno);
        }
    }
    std::string text;
    bool found = false;
    for (auto &raw : util::split(old, '\n')) {
        std::string_view line = util::trim(raw);
        size_t colon = line.find(':');
        if (!line.empty() && line.front() != '#' && colon != std::string_view::npos &&
            line.substr(0, colon) == user) {
            if (!found && !hash.empty()) text += user + ":" + hash + "\n";
            found = true;
            continue;
        }
        text += raw + "\n";
    }
    while (text.size() >= 2 && text[text.size() - 1] == '\n' && text[text.size() - 2] == '\n')
        text.pop_back();
    if (text == "\n") text.clear();
    if (!found && !hash.empty()) text += user + ":" + hash + "\n";
    if (!found && hash.empty()) return make_error("no user \"" + user + "\" in " + path);

    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
    std::string tmp = path + ".tmp." + std::to_string(getpid());
    util::UniqueFd fd(util::sys::openat(AT_FDCWD, tmp.c_str(),
                                        O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return make_error(tmp + ": " + errno_text(errno), errno);
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && fchown(fd.get(), st.st_uid, st.st_gid) != 0) {
        // Keeping the owner needs root; the file stays ours.
    }
    if (util::sys::write_all(fd.get(), text.data(), text.size()) != 0 ||
        util::sys::fsync(fd.get()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return make_error(tmp + ": " + errno_text(e), e);
    }
    fd.reset();
    if (util::sys::renameat(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return make_error("rename to " + path + ": " + errno_text(e), e);
    }
    util::sys::fsync_dir_path(dir.c_str());
    return {};
}

}  // namespace relay::server
