// queue_fs.hpp - the crash-safe on-disk queue (see README.md in this directory).
//
//   SPOOL/maildrop/<id>        untrusted submissions (front end -> pickup)
//   SPOOL/incoming/<id>/       an entry being built by pickup
//   SPOOL/queue/<id>/message   immutable after commit
//   SPOOL/queue/<id>/envelope  replaced atomically
//   SPOOL/hold/<id>/           entries put on hold (postsuper -h)
//   SPOOL/corrupt/<id>/        entries that failed validation
//   SPOOL/purge/<id>/          entries being deleted
//
// commit() makes an entry exist completely or not at all: both files are
// written and fsynced in incoming/<id>/, the directory is fsynced, renamed
// into queue/ in one step, and queue/ is fsynced. remove() renames into
// purge/ (one durable step) before deleting the files. CommitBatch and
// retire()/finish_retired() do the same for many entries at a time with
// one fsync of each shared directory (group commit). recover() finishes
// or undoes whatever a crash interrupted; it is run by every flush and by
// `relay check`. The state table in README.md lists each crash point.
//
// A FsQueue opens each spool directory once, on first use, and works
// relative to it (openat "ID/envelope", renameat between areas): an
// FsQueue lives for one command or one flush run, so a spool that is
// replaced meanwhile is seen by the next one. It may be used from several
// threads.
//
// Errors are values (Result) carrying errno; nothing here throws.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "queue/envelope.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace relay::queue {

enum class Area { Queue, Hold, Corrupt };

struct RecoveryReport {
    unsigned incoming_removed = 0;  // half-built entries from a crashed pickup
    unsigned purge_finished = 0;    // deletions a crash interrupted
    unsigned tmp_removed = 0;       // stale envelope.tmp files
    unsigned moved_corrupt = 0;     // entries with a missing/unreadable file
};

class FsQueue {
public:
    explicit FsQueue(std::string spool_dir);

    const std::string &spool() const { return spool_; }
    std::string path(Area area, const std::string &id) const;

    // Creates every spool directory with its mode; OWNER/GROUP are applied
    // when running as root (uid -1 = leave as is). maildrop gets 1770
    // owner:drop_group, everything else 0700 owner.
    static Result<void> init(const std::string &spool_dir, int owner_uid, int owner_gid,
                             int drop_gid);

    // pickup: makes ENV + MESSAGE a committed queue entry (see header).
    Result<void> commit(const Envelope &env, std::string_view message);
    bool exists(const std::string &id) const;  // in queue/, hold/ or corrupt/

    // Ids in AREA, sorted (= arrival order).
    std::vector<std::string> list(Area area = Area::Queue) const;
    Result<Envelope> load(const std::string &id, Area area = Area::Queue) const;
    Result<util::UniqueFd> open_message(const std::string &id, Area area = Area::Queue) const;
    // Replaces the envelope atomically (tmp + fsync + rename + dir fsync).
    Result<void> update(const Envelope &env, Area area = Area::Queue);
    // Deletes an entry: rename into purge/ (durable), then unlink its files.
    Result<void> remove(const std::string &id, Area area = Area::Queue);
    // remove() in two halves, for many entries: retire() renames the entry
    // into purge/ (it is no longer queued, but the rename is not durable
    // yet); finish_retired() fsyncs AREA once, which decides every rename
    // of IDS, then deletes those entries. A
    // crash in between may bring retired entries back (sent again: the
    // duplicate window of README.md, rows R1 and R3).
    Result<void> retire(const std::string &id, Area area = Area::Queue);
    Result<void> finish_retired(const std::vector<std::string> &ids, Area area = Area::Queue);
    // finish_retired() in two halves: decide_retired() is the fsync of
    // AREA (from then on the entries are gone from the queue for good);
    // purge() deletes decided entries from purge/, at any later time
    // (recover() does it after a crash).
    Result<void> decide_retired(Area area = Area::Queue);
    Result<void> purge(const std::vector<std::string> &ids);
    // Moves an entry between areas (hold, release, quarantine as corrupt).
    Result<void> move(const std::string &id, Area from, Area to);

    RecoveryReport recover();

    // SPOOL/NAME ("queue", "purge", ...), opened once; -1 with errno set.
    int dir_fd(const char *name) const;

private:
    std::string spool_;
    struct OpenDir {
        std::string name;
        util::UniqueFd fd;
    };
    mutable std::mutex dirs_lock_;
    mutable std::vector<OpenDir> dirs_;
};

// Group commit for pickup: stage() writes entries into incoming/ and starts
// their write-back; commit() waits for all of them (an fsync per file and
// per entry directory, which the disk has mostly done by then), fsyncs
// incoming/ once, renames every entry into queue/ and fsyncs queue/ once.
// An entry is committed exactly when commit() lists it; one that failed is
// removed from incoming/ (or, when only the final fsync of queue/ failed,
// left in queue/ for the next pickup to recognise, state-table row P3).
// At most kMaxEntries may be staged (each holds three descriptors).
class CommitBatch {
public:
    static constexpr size_t kMaxEntries = 64;

    explicit CommitBatch(FsQueue &queue);
    ~CommitBatch();
    CommitBatch(const CommitBatch &) = delete;
    CommitBatch &operator=(const CommitBatch &) = delete;

    Result<void> stage(const Envelope &env, std::string_view message);
    size_t size() const { return staged_.size(); }
    bool full() const { return staged_.size() >= kMaxEntries; }

    struct Outcome {
        std::vector<std::string> committed;
        std::vector<std::pair<std::string, Error>> failed;
    };
    Outcome commit();

private:
    struct Staged {
        std::string id;
        util::UniqueFd dir, message, envelope;
    };
    void discard(Staged &s);

    FsQueue &queue_;
    util::UniqueFd incoming_;
    std::vector<Staged> staged_;
};

}  // namespace relay::queue
