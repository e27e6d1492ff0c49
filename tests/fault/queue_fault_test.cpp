// The crash-state table of src/queue/README.md, row by row: every
// open/write/fsync/rename/mkdir/unlink of each queue operation is failed in
// turn through the util/sys.hpp seam; then recover() runs and the rule of
// that row is checked. A failed operation here stands for a crash at that
// point: nothing after it runs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config/config.hpp"
#include "log/log.hpp"
#include "queue/id.hpp"
#include "queue/maildrop.hpp"
#include "queue/pickup.hpp"
#include "queue/queue_fs.hpp"
#include "rewrite/pipeline.hpp"
#include "support/tmpdir.hpp"
#include "util/sys.hpp"

using namespace relay;
using namespace relay::queue;
namespace fs = std::filesystem;
namespace sys = relay::util::sys;

namespace {

int g_fail_at = 0;   // fail the k-th operation (1-based); 0 = never
int g_count = 0;
int g_errno = EIO;
bool g_sticky = false;  // fail every operation from the k-th on (a crash)

int hook(sys::Op, const char *) {
    ++g_count;
    return g_count == g_fail_at || (g_sticky && g_count > g_fail_at) ? g_errno : 0;
}

struct FaultScope {
    FaultScope(int k, int err = EIO, bool sticky = false) {
        g_fail_at = k;
        g_count = 0;
        g_errno = err;
        g_sticky = sticky;
        sys::set_fault_hook(hook);
    }
    ~FaultScope() { sys::set_fault_hook(nullptr); }
    bool fired() const { return g_count >= g_fail_at; }
};

Envelope env_for(const std::string &id) {
    Envelope e;
    e.id = id;
    e.arrival = id_time(id);
    e.sender = "a@example.net";
    e.size = 4;
    e.rcpts.push_back(Recipient{"b@example.net"});
    return e;
}

bool dir_empty(const std::string &p) { return !fs::exists(p) || fs::is_empty(p); }

}  // namespace

// Rows S1, S2: a submission either exists complete under its id (and the
// call said ok) or not at all (and the call said why).
TEST(QueueFault, SubmissionAtEveryStep) {
    int tried = 0;
    for (int k = 1;; ++k) {
        test::TempDir dir;
        ASSERT_TRUE(FsQueue::init(dir.path(), -1, -1, -1).ok());
        Submission s;
        s.recipients = {"root"};
        s.message = "Subject: x\n\nbody\n";
        std::string id = make_id();
        Result<void> r;
        bool fired;
        {
            FaultScope f(k, k % 2 ? EIO : ENOSPC);
            r = write_maildrop(dir.path(), id, s);
            fired = f.fired();
        }
        std::string final_path = dir.path() + "/maildrop/" + id;
        if (!fired) {
            ASSERT_TRUE(r.ok());
            ASSERT_TRUE(fs::exists(final_path));
            break;
        }
        ++tried;
        EXPECT_FALSE(r.ok()) << "step " << k;
        EXPECT_FALSE(fs::exists(final_path)) << "step " << k << ": failed yet visible";
        EXPECT_NE(r.error().sys_errno, 0);
        EXPECT_TRUE(dir_empty(dir.path() + "/maildrop")) << "step " << k << ": left a temp file";
    }
    EXPECT_GE(tried, 5);  // open, write x2, fsync, rename, dir fsync
}

// Rows P1, P2 (and the commit half of P3): after a failure at any step and
// recovery, the entry is either fully in queue/ or absent, incoming/ is
// empty, and a retry succeeds exactly once.
TEST(QueueFault, CommitAtEveryStep) {
    int tried = 0;
    for (int k = 1;; ++k) {
        test::TempDir dir;
        ASSERT_TRUE(FsQueue::init(dir.path(), -1, -1, -1).ok());
        FsQueue q(dir.path());
        auto e = env_for(make_id());
        Result<void> r;
        bool fired;
        {
            FaultScope f(k);
            r = q.commit(e, "body");
            fired = f.fired();
        }
        if (!fired) {
            ASSERT_TRUE(r.ok());
            break;
        }
        ++tried;
        EXPECT_FALSE(r.ok()) << "step " << k;
        q.recover();
        EXPECT_TRUE(dir_empty(dir.path() + "/incoming")) << "step " << k;
        if (q.exists(e.id)) {
            // Only possible once the rename happened: the entry is whole.
            auto l = q.load(e.id);
            ASSERT_TRUE(l.ok()) << "step " << k << ": " << l.error().message;
            EXPECT_TRUE(q.open_message(e.id).ok());
        } else {
            ASSERT_TRUE(q.commit(e, "body").ok()) << "retry after step " << k;
        }
        EXPECT_EQ(q.list().size(), 1u) << "step " << k;
        EXPECT_TRUE(q.list(Area::Corrupt).empty()) << "step " << k;
    }
    EXPECT_GE(tried, 9);
}

// Rows U1, U2: an envelope update is all or nothing.
TEST(QueueFault, EnvelopeUpdateAtEveryStep) {
    int tried = 0;
    for (int k = 1;; ++k) {
        test::TempDir dir;
        ASSERT_TRUE(FsQueue::init(dir.path(), -1, -1, -1).ok());
        FsQueue q(dir.path());
        auto e = env_for(make_id());
        ASSERT_TRUE(q.commit(e, "body").ok());
        auto updated = e;
        updated.tries = 7;
        updated.rcpts[0].status = RcptStatus::Sent;
        bool fired;
        {
            FaultScope f(k);
            (void)q.update(updated);
            fired = f.fired();
        }
        if (!fired) break;
        ++tried;
        q.recover();
        auto l = q.load(e.id);
        ASSERT_TRUE(l.ok()) << "step " << k << ": " << l.error().message;
        EXPECT_TRUE(l->tries == 0 || l->tries == 7) << "step " << k;
        EXPECT_EQ(l->tries == 7, l->rcpts[0].status == RcptStatus::Sent) << "step " << k;
        EXPECT_FALSE(fs::exists(q.path(Area::Queue, e.id) + "/envelope.tmp"));
    }
    EXPECT_GE(tried, 4);
}

// Rows R1, R2: a removal is decided by the rename into purge/.
TEST(QueueFault, RemoveAtEveryStep) {
    int tried = 0;
    for (int k = 1;; ++k) {
        test::TempDir dir;
        ASSERT_TRUE(FsQueue::init(dir.path(), -1, -1, -1).ok());
        FsQueue q(dir.path());
        auto e = env_for(make_id());
        ASSERT_TRUE(q.commit(e, "body").ok());
        bool fired;
        {
            FaultScope f(k);
            (void)q.remove(e.id);
            fired = f.fired();
        }
        if (!fired) {
            EXPECT_FALSE(q.exists(e.id));
            break;
        }
        ++tried;
        q.recover();
        EXPECT_TRUE(dir_empty(dir.path() + "/purge")) << "step " << k;
        if (q.exists(e.id)) {
            EXPECT_TRUE(q.load(e.id).ok()) << "step " << k;
        }
    }
    EXPECT_GE(tried, 3);
}

// Row C1 for a message file that vanished and an envelope cut short.
TEST(QueueFault, TruncatedEnvelopeIsQuarantinedNotDelivered) {
    test::TempDir dir;
    ASSERT_TRUE(FsQueue::init(dir.path(), -1, -1, -1).ok());
    FsQueue q(dir.path());
    auto e = env_for(make_id());
    ASSERT_TRUE(q.commit(e, "body").ok());
    std::string env_path = q.path(Area::Queue, e.id) + "/envelope";
    auto size = fs::file_size(env_path);
    fs::resize_file(env_path, size / 2);
    auto rep = q.recover();
    EXPECT_EQ(rep.moved_corrupt, 1u);
    EXPECT_TRUE(q.list().empty());
    EXPECT_EQ(q.list(Area::Corrupt), std::vector<std::string>{e.id});
}

// Rows P1-P3 for the group commit of pickup: maildrop files are taken in
// batches (an fsync per batch for each shared directory). A failure at any
// step, alone or as a crash (every later step failing too), followed by
// recovery and a clean pickup leaves each submission queued exactly once
// and maildrop/ and incoming/ empty.
TEST(QueueFault, PickupBatchAtEveryStep) {
    constexpr int kMessages = 3;
    int tried = 0;
    for (bool sticky : {false, true}) {
        for (int k = 1;; ++k) {
            test::TempDir dir;
            ASSERT_TRUE(FsQueue::init(dir.path(), -1, -1, -1).ok());
            config::Config cfg;
            cfg.queue.directory = dir.path();
            config::finish_defaults(cfg);
            rewrite::Pipeline rw(cfg);
            FsQueue q(dir.path());
            std::vector<std::string> ids;
            for (int i = 0; i < kMessages; ++i) {
                Submission s;
                s.recipients = {"rcpt" + std::to_string(i) + "@example.net"};
                s.message = "Subject: " + std::to_string(i) + "\n\nbody\n";
                ids.push_back(make_id());
                ASSERT_TRUE(write_maildrop(dir.path(), ids.back(), s).ok());
            }
            bool fired;
            {
                FaultScope f(k, EIO, sticky);
                (void)pickup(cfg, q, rw);
                fired = f.fired();
            }
            q.recover();
            auto rep = pickup(cfg, q, rw);
            EXPECT_EQ(rep.corrupt, 0u) << "step " << k;
            EXPECT_EQ(q.list(), (std::vector<std::string>{ids.begin(), ids.end()}))
                << "step " << k << (sticky ? " (crash)" : "");
            for (auto &id : ids) EXPECT_TRUE(q.load(id).ok()) << "step " << k << ": " << id;
            EXPECT_TRUE(dir_empty(dir.path() + "/maildrop")) << "step " << k;
            EXPECT_TRUE(dir_empty(dir.path() + "/incoming")) << "step " << k;
            if (!fired) break;
            ++tried;
        }
    }
    // Per message: mkdir, 2 creates and writes, 2 fsyncs and a directory
    // fsync; per batch: incoming/, the renames, queue/, the unlinks, maildrop/.
    EXPECT_GE(tried, 2 * (kMessages * 8 + 3));
}

// Rows R1-R3 for removals in a batch: after a failure or crash at any step
// and recovery, purge/ is empty and every entry is either gone or whole.
TEST(QueueFault, RetireBatchAtEveryStep) {
    int tried = 0;
    for (bool sticky : {false, true}) {
        for (int k = 1;; ++k) {
            test::TempDir dir;
            ASSERT_TRUE(FsQueue::init(dir.path(), -1, -1, -1).ok());
            FsQueue q(dir.path());
            std::vector<std::string> ids;
            for (int i = 0; i < 3; ++i) {
                auto e = env_for(make_id());
                ASSERT_TRUE(q.commit(e, "body").ok());
                ids.push_back(e.id);
            }
            bool fired;
            {
                FaultScope f(k, EIO, sticky);
                std::vector<std::string> retired;
                for (auto &id : ids)
                    if (q.retire(id)) retired.push_back(id);
                (void)q.finish_retired(retired);
                fired = f.fired();
            }
            if (!fired) {
                EXPECT_TRUE(q.list().empty());
                EXPECT_TRUE(dir_empty(dir.path() + "/purge"));
                break;
            }
            ++tried;
            q.recover();
            EXPECT_TRUE(dir_empty(dir.path() + "/purge")) << "step " << k;
            for (auto &id : ids) {
                if (q.exists(id)) {
                    EXPECT_TRUE(q.load(id).ok()) << "step " << k;
                }
            }
            EXPECT_TRUE(q.list(Area::Corrupt).empty()) << "step " << k;
        }
    }
    EXPECT_GE(tried, 2 * 6);
}
