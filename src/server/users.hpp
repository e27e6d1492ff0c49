// users.hpp - the SMTP AUTH users file: "user:$argon2id$..." lines.
//
// One entry per line, "NAME:HASH", where HASH is what libsodium's
// crypto_pwhash_str() makes (argon2id, interactive limits: 64 MiB, ~0.1 s
// here). '#' starts a comment; blank lines are ignored; a malformed line
// is skipped with a warning ("users:3: ..."). The file must be a regular
// file not readable by group or others (0600), like Postfix's
// sasl_passwd: the hashes are slow to crack, not impossible.
//
// UserDb re-reads the file when its inode, size or mtime changes, so
// `relay passwd` takes effect at the next AUTH without a reload. verify()
// is slow on purpose and runs on a worker thread; an unknown user is
// checked against a dummy hash so that both answers take the same time.
//
// write_user() is what `relay passwd` uses: it rewrites the file through a
// temporary file in the same directory (mode 0600, fsync, rename, fsync of
// the directory), keeping the other entries and comments as they are.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace relay::server {

class UserDb {
public:
    explicit UserDb(std::string path) : path_(std::move(path)) {}
    // The stored hash for USER (reloading the file first if it changed).
    std::optional<std::string> hash_of(const std::string &user);
    const std::string &path() const { return path_; }

    // Slow: argon2id. Thread-safe.
    static bool verify(const std::optional<std::string> &hash, const std::string &password);

private:
    void refresh();
    std::string path_;
    std::mutex mu_;
    std::map<std::string, std::string> users_;
    unsigned long long ino_ = 0, size_ = 0;
    long long mtime_ns_ = -1;
};

// Validates a user name for the file (no ':', white space or controls).
bool valid_user_name(std::string_view name);
// argon2id hash of PASSWORD (crypto_pwhash_str, interactive limits).
Result<std::string> hash_password(const std::string &password);
// Sets USER's HASH in PATH (adding the entry when absent); HASH empty
// removes it. Creates the file (0600) when it does not exist.
Result<void> write_user(const std::string &path, const std::string &user, const std::string &hash);
// Parses the file's text; warnings as "PATH:LINE: text".
std::map<std::string, std::string> parse_users(std::string_view text, const std::string &path,
                                               std::vector<std::string> *warnings);

}  // namespace relay::server
