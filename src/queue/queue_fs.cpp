#include "queue/queue_fs.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/id.hpp"
#include "util/error.hpp"
#include "util/sys.hpp"

namespace relay::queue {
namespace sys = util::sys;
using util::UniqueFd;

namespace {

const char *area_dir(Area a) {
    switch (a) {
    case Area::Queue: return "queue";
    case Area::Hold: return "hold";
    case Area::Corrupt: return "corrupt";
    }
    return "queue";
}

Error sys_error(const std::string &what, int err = errno) {
    return make_error(what + ": " + errno_text(err), err);
}

UniqueFd open_dir(const std::string &path) {
    return UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
}

UniqueFd open_subdir(int dirfd, const char *name) {
    return UniqueFd(::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
}

// Writes DATA into DIRFD/NAME (a new file), fsyncs it.
Result<void> write_new_file(int dirfd, const char *name, std::string_view data) {
    UniqueFd fd(sys::openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600));
    if (!fd) return sys_error(std::string("create ") + name);
    if (sys::write_all(fd.get(), data.data(), data.size()) < 0)
        return sys_error(std::string("write ") + name);
    if (sys::fsync(fd.get()) < 0) return sys_error(std::string("fsync ") + name);
    return {};
}

// Removes DIRFD/NAME and the plain files in it (queue entries hold no
// subdirectories). Missing entries are fine.
int remove_entry(int dirfd, const char *name) {
    UniqueFd d(open_subdir(dirfd, name));
    if (!d) {
        if (errno == ENOENT) return 0;
        if (errno == ENOTDIR) return sys::unlinkat(dirfd, name, 0);
        return -1;
    }
    DIR *dir = fdopendir(::dup(d.get()));
    if (!dir) return -1;
    while (auto *e = readdir(dir)) {
        std::string_view n = e->d_name;
        if (n == "." || n == "..") continue;
        if (sys::unlinkat(d.get(), e->d_name, 0) < 0 && errno != ENOENT) {
            closedir(dir);
            return -1;
        }
    }
    closedir(dir);
    if (sys::unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) return -1;
    return 0;
}

// remove_entry() for an entry as the queue writes it (message and
// envelope): three unlinks, no directory listing, unless it holds more.
int remove_known_entry(int dirfd, const std::string &id) {
    for (const char *f : {"/message", "/envelope"}) {
        if (sys::unlinkat(dirfd, (id + f).c_str(), 0) == 0 || errno == ENOENT) continue;
        if (errno == ENOTDIR) return remove_entry(dirfd, id.c_str());  // not an entry directory
        return -1;
    }
    if (sys::unlinkat(dirfd, id.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return 0;
    if (errno != ENOTEMPTY && errno != EEXIST) return -1;
    return remove_entry(dirfd, id.c_str());  // a stray envelope.tmp
}

std::vector<std::string> list_names(const std::string &path) {
    std::vector<std::string> out;
    DIR *dir = opendir(path.c_str());
    if (!dir) return out;
    while (auto *e = readdir(dir)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(std::move(n));
    }
    closedir(dir);
    std::sort(out.begin(), out.end());
    return out;
}

Result<std::string> read_all_at(int dirfd, const char *name, size_t limit) {
    UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return sys_error(std::string("open ") + name);
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return sys_error(std::string("read ") + name);
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > limit) return make_error(std::string(name) + ": too large");
    }
    return out;
}

}  // namespace

FsQueue::FsQueue(std::string spool_dir) : spool_(std::move(spool_dir)) {}

int FsQueue::dir_fd(const char *name) const {
    std::lock_guard<std::mutex> hold(dirs_lock_);
    for (auto &d : dirs_)
        if (d.name == name) return d.fd.get();
    UniqueFd fd = open_dir(spool_ + "/" + name);
    if (!fd) return -1;
    int raw = fd.get();
    dirs_.push_back({name, std::move(fd)});
    return raw;
}

std::string FsQueue::path(Area area, const std::string &id) const {
    return spool_ + "/" + area_dir(area) + "/" + id;
}

Result<void> FsQueue::init(const std::string &spool_dir, int owner_uid, int owner_gid,
                           int drop_gid) {
    struct Dir {
        std::string path;
        mode_t mode;
        int gid;
    };
    const std::vector<Dir> dirs = {
        {spool_dir, 0755, owner_gid},
        {spool_dir + "/maildrop", 01770, drop_gid},
        {spool_dir + "/incoming", 0700, owner_gid},
        {spool_dir + "/queue", 0700, owner_gid},
        {spool_dir + "/hold", 0700, owner_gid},
        {spool_dir + "/corrupt", 0700, owner_gid},
        {spool_dir + "/purge", 0700, owner_gid},
    };
    for (auto &d : dirs) {
        if (::mkdir(d.path.c_str(), d.mode) < 0 && errno != EEXIST)
            return sys_error("mkdir " + d.path);
        struct stat st;
        if (::lstat(d.path.c_str(), &st) < 0) return sys_error("stat " + d.path);
        if (!S_ISDIR(st.st_mode)) return make_error(d.path + ": not a directory");
        if (geteuid() == 0 && (owner_uid >= 0 || d.gid >= 0)) {
            if (::chown(d.path.c_str(), owner_uid, d.gid) < 0) return sys_error("chown " + d.path);
        }
        // Explicit modes: the caller's umask must not decide them.
        if (::chmod(d.path.c_str(), d.mode) < 0) return sys_error("chmod " + d.path);
    }
    return {};
}

bool FsQueue::exists(const std::string &id) const {
    if (!is_valid_id(id)) return false;
    struct stat st;
    for (Area a : {Area::Queue, Area::Hold, Area::Corrupt})
        if (::lstat(path(a, id).c_str(), &st) == 0) return true;
    return false;
}

Result<void> FsQueue::commit(const Envelope &env, std::string_view message) {
    CommitBatch batch(*this);
    if (auto r = batch.stage(env, message); !r) return r;
    auto out = batch.commit();
    if (!out.failed.empty()) return out.failed.front().second;
    return {};
}

CommitBatch::CommitBatch(FsQueue &queue)
    : queue_(queue), incoming_(open_dir(queue.spool() + "/incoming")) {}

CommitBatch::~CommitBatch() {
    for (auto &s : staged_) discard(s);
}

void CommitBatch::discard(Staged &s) {
    s.message.reset();
    s.envelope.reset();
    s.dir.reset();
    if (incoming_) remove_entry(incoming_.get(), s.id.c_str());
}

Result<void> CommitBatch::stage(const Envelope &env, std::string_view message) {
    if (!is_valid_id(env.id)) return make_error("commit: invalid queue id");
    if (full()) return make_error("commit: batch full");
    if (!incoming_) return sys_error("open spool directory " + queue_.spool());
    Staged s;
    s.id = env.id;
    const char *id = s.id.c_str();
    // A leftover from a crashed attempt at this very id is incomplete by
    // definition (the commit is the rename into queue/): start over.
    if (remove_entry(incoming_.get(), id) < 0) return sys_error("clean incoming/" + s.id);
    if (sys::mkdirat(incoming_.get(), id, 0700) < 0) return sys_error("mkdir incoming/" + s.id);
    // A failure removes the partial entry at once (a crash leaves it to
    // recover()): on a full disk it holds the space the next one needs.
    auto fail = [&](Error e) -> Result<void> {
        discard(s);
        return e;
    };
    s.dir = open_subdir(incoming_.get(), id);
    if (!s.dir) return fail(sys_error("open incoming/" + s.id));
    auto create = [&](const char *name, std::string_view data, UniqueFd &fd) -> Result<void> {
        fd = UniqueFd(sys::openat(s.dir.get(), name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                  0600));
        if (!fd) return sys_error("create incoming/" + s.id + "/" + name);
        if (sys::write_all(fd.get(), data.data(), data.size()) < 0)
            return sys_error("write incoming/" + s.id + "/" + name);
        // Start the write-back now, so that commit()'s fsyncs find it done.
        ::sync_file_range(fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
        return {};
    };
    if (auto r = create("message", message, s.message); !r) return fail(r.error());
    if (auto r = create("envelope", serialize(env), s.envelope); !r) return fail(r.error());
    staged_.push_back(std::move(s));
    return {};
}

CommitBatch::Outcome CommitBatch::commit() {
    Outcome out;
    std::vector<Staged> ready;
    for (auto &s : staged_) {
        std::string what;
        if (sys::fsync(s.message.get()) < 0) what = "fsync incoming/" + s.id + "/message";
        else if (sys::fsync(s.envelope.get()) < 0) what = "fsync incoming/" + s.id + "/envelope";
        else if (sys::fsync_dir(s.dir.get()) < 0) what = "fsync incoming/" + s.id;
        if (!what.empty()) {
            out.failed.emplace_back(s.id, sys_error(what));
            discard(s);
        } else {
            ready.push_back(std::move(s));
        }
    }
    staged_.clear();
    if (ready.empty()) return out;
    UniqueFd queue_dir = open_dir(queue_.spool() + "/queue");
    std::string what;
    if (!queue_dir) what = "open spool directory " + queue_.spool();
    else if (sys::fsync_dir(incoming_.get()) < 0) what = "fsync incoming";
    if (!what.empty()) {
        Error e = sys_error(what);
        for (auto &s : ready) {
            out.failed.emplace_back(s.id, e);
            discard(s);
        }
        return out;
    }
    std::vector<std::string> renamed;
    for (auto &s : ready) {
        s.message.reset();
        s.envelope.reset();
        s.dir.reset();
        if (sys::renameat(incoming_.get(), s.id.c_str(), queue_dir.get(), s.id.c_str()) < 0) {
            out.failed.emplace_back(s.id, sys_error("rename into queue/" + s.id));
            remove_entry(incoming_.get(), s.id.c_str());
        } else {
            renamed.push_back(s.id);
        }
    }
    if (renamed.empty()) return out;
    if (sys::fsync_dir(queue_dir.get()) < 0) {
        // Renamed but perhaps not durable: the callers keep the maildrop
        // files, and the next pickup finds these entries in queue/.
        Error e = sys_error("fsync queue");
        for (auto &id : renamed) out.failed.emplace_back(id, e);
        return out;
    }
    out.committed = std::move(renamed);
    return out;
}

std::vector<std::string> FsQueue::list(Area area) const {
    auto names = list_names(spool_ + "/" + area_dir(area));
    names.erase(std::remove_if(names.begin(), names.end(),
                               [](const std::string &n) { return !is_valid_id(n); }),
                names.end());
    return names;
}

Result<Envelope> FsQueue::load(const std::string &id, Area area) const {
    if (!is_valid_id(id)) return make_error("invalid queue id");
    int dir = dir_fd(area_dir(area));
    if (dir < 0) return sys_error("open spool directory " + spool_);
    auto text = read_all_at(dir, (id + "/envelope").c_str(), 64u << 20);
    if (!text) return text.error();
    auto env = parse_envelope(*text);
    if (!env) return make_error(id + ": envelope: " + env.error().message);
    if (env->id != id) return make_error(id + ": envelope names another id");
    return env;
}

Result<UniqueFd> FsQueue::open_message(const std::string &id, Area area) const {
    if (!is_valid_id(id)) return make_error("invalid queue id");
    int dir = dir_fd(area_dir(area));
    if (dir < 0) return sys_error("open spool directory " + spool_);
    UniqueFd fd(::openat(dir, (id + "/message").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return sys_error(id + "/message");
    return fd;
}

Result<void> FsQueue::update(const Envelope &env, Area area) {
    if (!is_valid_id(env.id)) return make_error("update: invalid queue id");
    UniqueFd entry = open_dir(path(area, env.id));
    if (!entry) return sys_error(env.id);
    if (sys::unlinkat(entry.get(), "envelope.tmp", 0) < 0 && errno != ENOENT)
        return sys_error(env.id + "/envelope.tmp");
    // On failure the old envelope holds; the partial envelope.tmp goes at
    // once (a crash leaves it to recover()).
    if (auto r = write_new_file(entry.get(), "envelope.tmp", serialize(env)); !r) {
        ::unlinkat(entry.get(), "envelope.tmp", 0);
        return r;
    }
    if (sys::renameat(entry.get(), "envelope.tmp", entry.get(), "envelope") < 0) {
        Error e = sys_error("rename " + env.id + "/envelope");
        ::unlinkat(entry.get(), "envelope.tmp", 0);
        return e;
    }
    if (sys::fsync_dir(entry.get()) < 0) return sys_error("fsync " + env.id);
    return {};
}

Result<void> FsQueue::remove(const std::string &id, Area area) {
    if (auto r = retire(id, area); !r) return r;
    return finish_retired({id}, area);
}

Result<void> FsQueue::retire(const std::string &id, Area area) {
    if (!is_valid_id(id)) return make_error("remove: invalid queue id");
    int from = dir_fd(area_dir(area)), purge = dir_fd("purge");
    if (from < 0 || purge < 0) return sys_error("open spool directory " + spool_);
    if (sys::renameat(from, id.c_str(), purge, id.c_str()) < 0)
        return sys_error("rename " + id + " into purge");
    return {};
}

Result<void> FsQueue::finish_retired(const std::vector<std::string> &ids, Area area) {
    if (ids.empty()) return {};
    if (auto r = decide_retired(area); !r) return r;
    return purge(ids);
}

Result<void> FsQueue::decide_retired(Area area) {
    int from = dir_fd(area_dir(area));
    if (from < 0) return sys_error("open spool directory " + spool_);
    // The decision for every entry retired since the last call.
    if (sys::fsync_dir(from) < 0) return sys_error("fsync " + std::string(area_dir(area)));
    return {};
}

Result<void> FsQueue::purge(const std::vector<std::string> &ids) {
    if (ids.empty()) return {};
    int purge = dir_fd("purge");
    if (purge < 0) return sys_error("open spool directory " + spool_);
    std::optional<Error> first;
    for (auto &id : ids) {
        if (!is_valid_id(id)) continue;
        if (remove_known_entry(purge, id) < 0 && !first) first = sys_error("remove purge/" + id);
    }
    if (first) return *first;
    return {};
}

Result<void> FsQueue::move(const std::string &id, Area from_area, Area to_area) {
    if (!is_valid_id(id)) return make_error("move: invalid queue id");
    UniqueFd from = open_dir(spool_ + "/" + area_dir(from_area));
    UniqueFd to = open_dir(spool_ + "/" + area_dir(to_area));
    if (!from || !to) return sys_error("open spool directory " + spool_);
    struct stat st;
    if (::fstatat(to.get(), id.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
        return make_error(id + ": already in " + area_dir(to_area), EEXIST);
    if (sys::renameat(from.get(), id.c_str(), to.get(), id.c_str()) < 0)
        return sys_error("move " + id + " to " + area_dir(to_area));
    if (sys::fsync_dir(to.get()) < 0) return sys_error("fsync " + std::string(area_dir(to_area)));
    if (sys::fsync_dir(from.get()) < 0)
        return sys_error("fsync " + std::string(area_dir(from_area)));
    return {};
}

RecoveryReport FsQueue::recover() {
    RecoveryReport rep;
    // Row "crash before the commit rename": incoming/ holds only entries that
    // were never committed; their maildrop files still exist.
    if (UniqueFd incoming = open_dir(spool_ + "/incoming")) {
        for (auto &n : list_names(spool_ + "/incoming"))
            if (remove_entry(incoming.get(), n.c_str()) == 0) ++rep.incoming_removed;
    }
    // Row "crash during remove": the rename into purge/ was the decision.
    if (UniqueFd purge = open_dir(spool_ + "/purge")) {
        for (auto &n : list_names(spool_ + "/purge"))
            if (remove_entry(purge.get(), n.c_str()) == 0) ++rep.purge_finished;
    }
    // Rows "crash during update" and "entry damaged": a stale envelope.tmp
    // is dropped (the old envelope is intact); an entry without a readable
    // envelope and message is quarantined, never delivered.
    for (Area area : {Area::Queue, Area::Hold}) {
        int dir = dir_fd(area_dir(area));
        if (dir < 0) continue;
        for (auto &id : list(area)) {
            struct stat st;
            if (::fstatat(dir, id.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) continue;  // gone
            // Not a directory (a symbolic link, say): never read through it.
            if (!S_ISDIR(st.st_mode)) {
                if (move(id, area, Area::Corrupt)) ++rep.moved_corrupt;
                continue;
            }
            if (sys::unlinkat(dir, (id + "/envelope.tmp").c_str(), 0) == 0) ++rep.tmp_removed;
            bool has_msg = ::fstatat(dir, (id + "/message").c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                           S_ISREG(st.st_mode);
            if (!has_msg || !load(id, area)) {
                if (move(id, area, Area::Corrupt)) ++rep.moved_corrupt;
            }
        }
    }
    return rep;
}

}  // namespace relay::queue
