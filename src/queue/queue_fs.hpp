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
// purge/ (one durable step) before deleting the files. recover() finishes
// or undoes whatever a crash interrupted; it is run by every flush and by
// `relay check`. The state table in README.md lists each crash point.
//
// Errors are values (Result) carrying errno; nothing here throws.
#pragma once

#include <string>
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
    // Moves an entry between areas (hold, release, quarantine as corrupt).
    Result<void> move(const std::string &id, Area from, Area to);

    RecoveryReport recover();

private:
    std::string spool_;
};

}  // namespace relay::queue
