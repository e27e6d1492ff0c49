// Purger (smtp/flush_internal.hpp) and FsQueue::purge(): entries removed
// from the queue are deleted from purge/, by the purge thread or, past its
// backlog, by the caller; finish() leaves nothing behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "queue/id.hpp"
#include "queue/queue_fs.hpp"
#include "smtp/flush_internal.hpp"
#include "support/tmpdir.hpp"

using namespace relay;
namespace fs = std::filesystem;

namespace {

// N entries in purge/ as retire() leaves them (a directory with a message
// and an envelope).
std::vector<std::string> purged_entries(const std::string &spool, size_t n) {
    std::vector<std::string> ids;
    for (size_t i = 0; i < n; ++i) {
        std::string id = queue::make_id();
        std::string d = spool + "/purge/" + id;
        fs::create_directory(d);
        std::ofstream(d + "/message") << "Subject: x\n\nbody\n";
        std::ofstream(d + "/envelope") << "version: 1\n";
        ids.push_back(id);
    }
    return ids;
}

class SmtpPurger : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(queue::FsQueue::init(dir.path(), -1, -1, -1).ok()); }
    bool purge_empty() const { return fs::is_empty(dir.path() + "/purge"); }
    test::TempDir dir;
};

}  // namespace

TEST_F(SmtpPurger, FinishLeavesPurgeEmpty) {
    queue::FsQueue q(dir.path());
    smtp::Purger p(q);
    auto ids = purged_entries(dir.path(), 150);
    for (size_t at = 0; at < ids.size(); at += 64)
        p.add(std::vector<std::string>(ids.begin() + static_cast<long>(at),
                                       ids.begin() + static_cast<long>(std::min(ids.size(), at + 64))));
    p.finish();
    EXPECT_TRUE(purge_empty());
    // A purger that finished takes work again (the daemon's next run).
    p.add(purged_entries(dir.path(), 5));
    p.finish();
    EXPECT_TRUE(purge_empty());
}

TEST_F(SmtpPurger, PastTheBacklogTheCallerDeletes) {
    queue::FsQueue q(dir.path());
    smtp::Purger p(q, 8);
    auto ids = purged_entries(dir.path(), 9);
    p.add(ids);  // more than may wait: deleted before add() returns
    EXPECT_TRUE(purge_empty());
    p.finish();
}

TEST_F(SmtpPurger, StrayFilesAndNonDirectories) {
    queue::FsQueue q(dir.path());
    auto ids = purged_entries(dir.path(), 2);
    // An interrupted envelope update left envelope.tmp; a name that is a
    // plain file is no entry directory. Both go.
    std::ofstream(dir.path() + "/purge/" + ids[0] + "/envelope.tmp") << "half";
    std::string odd = queue::make_id();
    std::ofstream(dir.path() + "/purge/" + odd) << "not a directory";
    ids.push_back(odd);
    ids.push_back(queue::make_id());  // already gone: fine
    auto r = q.purge(ids);
    EXPECT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(purge_empty());
}
