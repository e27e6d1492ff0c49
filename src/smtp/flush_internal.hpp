// flush_internal.hpp - what flush.cpp shares with flush_entry.cpp (internal
// to src/smtp).
//
// One RunState per flush() call, shared by its delivery threads. Each
// thread works on distinct queue entries (an entry is handed out exactly
// once), so the per-entry queue operations need no lock; the few shared
// things (notifications queued during the run, progress) are guarded by
// RunState::lock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "queue/envelope.hpp"
#include "queue/queue_fs.hpp"
#include "smtp/client.hpp"
#include "smtp/direct.hpp"
#include "smtp/flush.hpp"
#include "smtp/generic.hpp"

namespace relay::smtp {

struct Item {
    std::string id;
    queue::Envelope env;
    bool direct = false;  // no relayhost: to the recipient domains' MX hosts (direct.hpp)
};

// Deletes removed entries from purge/ in a thread of its own, so that
// freeing their inodes (the dearest file-system work of a flush) never
// holds up a connection. The entries were removed from the queue for good
// before they get here (FsQueue::decide_retired); a crash leaves the rest
// to recover(). At most MAX_BACKLOG ids wait: past that add() deletes
// them itself. finish() deletes what is left and stops the thread.
class Purger {
public:
    static constexpr size_t kMaxBacklog = 8192;

    explicit Purger(queue::FsQueue &q, size_t max_backlog = kMaxBacklog)
        : q_(q), max_backlog_(max_backlog) {}
    ~Purger() { finish(); }
    Purger(const Purger &) = delete;
    Purger &operator=(const Purger &) = delete;

    void add(std::vector<std::string> ids);
    void finish();

private:
    void run();
    void purge(const std::vector<std::string> &ids);

    queue::FsQueue &q_;
    const size_t max_backlog_;
    std::mutex lock_;
    std::condition_variable wake_;
    std::deque<std::string> ids_;
    bool stop_ = false;
    std::thread thread_;
};

struct RunState {
    RunState(const config::Config &c, queue::FsQueue &queue, const FlushOptions &o,
             const GenericMaps &g)
        : cfg(c), q(queue), opt(o), generic(g), purger(queue) {}

    const config::Config &cfg;
    queue::FsQueue &q;
    const FlushOptions &opt;
    const GenericMaps &generic;
    Purger purger;

    std::mutex lock;
    std::vector<std::string> new_ids;  // notifications queued during the run: sent in it too

    bool stopping() const { return opt.stop && *opt.stop; }

    // The progress line (FlushOptions::progress, more than kProgressOver due).
    bool progress = false;
    unsigned total = 0;  // messages to send so far in the run (grows with each round)
    std::atomic<unsigned> done{0};
    double last_draw = 0;  // under lock
    void tick();
};

inline constexpr unsigned kProgressOver = 50;

double real_now();
std::string format_delay(double seconds);

// Finished entries of one delivery thread, removed by group commit: each
// is retired (renamed into purge/) when its last recipient is done, and
// the batch is made durable (one fsync of queue/) every kMaxRetired
// entries and whenever the thread closes a connection, then handed to
// the Purger.
struct Retired {
    static constexpr size_t kMaxRetired = 64;
    std::vector<std::string> ids;
    void finish(RunState &run, FlushReport &rep);  // logs "removed" for each
};

// Sends ITEM's pending recipients over CLIENT and records every outcome
// (log line, envelope, notifications, back-off or retirement into DONE).
// Adds to REP.
// A direct ITEM goes through DIRECT instead of CLIENT.
void deliver_entry(RunState &run, Client &client, DirectClients &direct, Item &item, Retired &done,
                   FlushReport &rep);

// Adds PART's counts to REP (next_due is the earlier of the two).
void merge_report(FlushReport &rep, const FlushReport &part);

}  // namespace relay::smtp
