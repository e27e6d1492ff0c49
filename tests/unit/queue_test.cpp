#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sys/stat.h>

#include "queue/envelope.hpp"
#include "queue/id.hpp"
#include "queue/maildrop.hpp"
#include "queue/queue_fs.hpp"
#include "support/tmpdir.hpp"

using namespace relay;
using namespace relay::queue;
namespace fs = std::filesystem;

namespace {
Envelope sample_envelope(const std::string &id) {
    Envelope e;
    e.id = id;
    e.arrival = id_time(id);
    e.sender = "alice@example.net";
    e.uid = 1000;
    e.user = "alice";
    e.size = 5;
    e.body = "8BITMIME";
    e.reason = "connect to mail.example.net[192.0.2.1]:587: Connection refused";
    Recipient r;
    r.address = "root@example.net";
    r.orig = "root";
    r.notify = "FAILURE,DELAY";
    r.reason = "451 4.3.0 try again\nlater";
    e.rcpts.push_back(r);
    Recipient r2;
    r2.address = "ops@example.com";
    r2.status = RcptStatus::Sent;
    e.rcpts.push_back(r2);
    return e;
}

std::string slurp(const std::string &p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}
}  // namespace

TEST(QueueId, UniqueSortableValid) {
    std::set<std::string> ids;
    std::string prev;
    for (int i = 0; i < 2000; ++i) {
        auto id = make_id();
        ASSERT_TRUE(is_valid_id(id)) << id;
        ASSERT_EQ(id.size(), id_length);
        ids.insert(id);
        prev = id;
    }
    EXPECT_EQ(ids.size(), 2000u);
    auto a = make_id();
    usleep(2000);
    auto b = make_id();
    EXPECT_LT(a, b);
    EXPECT_NEAR(static_cast<double>(id_time(a)), static_cast<double>(time(nullptr)), 2.0);
}

TEST(QueueId, RejectsPathTricks) {
    EXPECT_FALSE(is_valid_id(""));
    EXPECT_FALSE(is_valid_id("../../etc/passwd"));
    EXPECT_FALSE(is_valid_id("0S2X3K70003ZQ4M/"));
    EXPECT_FALSE(is_valid_id("0S2X3K70003ZQ4MI"));  // I is not in the alphabet
    EXPECT_FALSE(is_valid_id("0s2x3k70003zq4mn"));  // lower case
    EXPECT_FALSE(is_valid_id("0S2X3K70003ZQ4MN0"));
    EXPECT_TRUE(is_valid_id("0S2X3K70003ZQ4MN"));
}

TEST(Envelope, RoundTrip) {
    auto e = sample_envelope(make_id());
    auto text = serialize(e);
    auto p = parse_envelope(text);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->id, e.id);
    EXPECT_EQ(p->sender, e.sender);
    EXPECT_EQ(p->reason, e.reason);
    ASSERT_EQ(p->rcpts.size(), 2u);
    EXPECT_EQ(p->rcpts[0].orig, "root");
    EXPECT_EQ(p->rcpts[0].reason, "451 4.3.0 try again\nlater");
    EXPECT_EQ(p->rcpts[0].notify, "FAILURE,DELAY");
    EXPECT_EQ(p->rcpts[1].status, RcptStatus::Sent);
    EXPECT_EQ(p->pending(), 1u);
    EXPECT_EQ(serialize(*p), text);
}

TEST(Envelope, NullSenderRoundTrips) {
    auto e = sample_envelope(make_id());
    e.sender = "";
    auto p = parse_envelope(serialize(e));
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_TRUE(p->is_bounce());
}

TEST(Envelope, RejectsDamage) {
    auto good = serialize(sample_envelope(make_id()));
    EXPECT_FALSE(parse_envelope("").ok());
    EXPECT_FALSE(parse_envelope(good.substr(0, good.size() - 1)).ok());  // no final newline
    EXPECT_FALSE(parse_envelope("version: 2\n" + good.substr(good.find('\n') + 1)).ok());
    EXPECT_FALSE(parse_envelope(good + "bogus: 1\n").ok());
    EXPECT_FALSE(parse_envelope(good + "rcpt.status: maybe\n").ok());
    std::string cr = good;
    cr.insert(cr.find("sender: ") + 8, "\r");
    EXPECT_FALSE(parse_envelope(cr).ok());
    std::string badid = good;
    badid.replace(badid.find("id: ") + 4, 3, "../");
    EXPECT_FALSE(parse_envelope(badid).ok());
    // no recipients
    std::string norcpt = good.substr(0, good.find("rcpt: "));
    EXPECT_FALSE(parse_envelope(norcpt).ok());
}

TEST(Maildrop, RoundTripKeepsBytes) {
    Submission s;
    s.sender = "";
    s.fullname = "Cron Daemon";
    s.extract_recipients = true;
    s.body_type = "8BITMIME";
    s.recipients = {"a@x", "Bob <b@y>"};
    s.message = std::string("Subject: x\r\n\r\nbody\0with nul\n.\n", 31);
    auto text = serialize_submission(s) + s.message;
    auto p = parse_submission(text, 1000);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(*p->sender, "");
    EXPECT_EQ(*p->fullname, "Cron Daemon");
    EXPECT_TRUE(p->extract_recipients);
    EXPECT_EQ(p->recipients, s.recipients);
    EXPECT_EQ(p->message, s.message);
    EXPECT_FALSE(parse_submission(text, 10).ok());  // over the limit
}

TEST(Maildrop, PerRecipientDsnRoundTrip) {
    Submission s;
    s.recipients = {"a@x", "b@y", "c@z"};
    s.rcpt_params = {{"NEVER", ""}, {}, {"SUCCESS,FAILURE", "rfc822;C+2Bz@z"}};
    auto text = serialize_submission(s);
    EXPECT_NE(text.find("rcpt: a@x\nrcpt.notify: NEVER\nrcpt: b@y\nrcpt: c@z\n"
                        "rcpt.notify: SUCCESS,FAILURE\nrcpt.orcpt: rfc822;C+2Bz@z\n"),
              std::string::npos)
        << text;
    auto p = parse_submission(text, 1000);
    ASSERT_TRUE(p.ok()) << p.error().message;
    ASSERT_EQ(p->rcpt_params.size(), 3u);
    EXPECT_EQ(p->rcpt_params[0].notify, "NEVER");
    EXPECT_EQ(p->rcpt_params[1].notify, "");
    EXPECT_EQ(p->rcpt_params[2].orcpt, "rfc822;C+2Bz@z");
    // Only the first recipients had some: the list still has one per rcpt.
    auto q = parse_submission("maildrop: 1\nrcpt: a\nrcpt.notify: DELAY\nrcpt: b\ndata:\n", 100);
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(q->rcpt_params.size(), 2u);
    // Refused: before any rcpt, twice, a bad list, a bad ORCPT.
    for (const char *bad : {"rcpt.notify: NEVER\nrcpt: a\n", "rcpt: a\nrcpt.notify: NEVER\nrcpt.notify: DELAY\n",
                            "rcpt: a\nrcpt.notify: NEVER,DELAY\n", "rcpt: a\nrcpt.notify: failure\n",
                            "rcpt: a\nrcpt.orcpt: rfc822\n", "rcpt: a\nrcpt.orcpt: rfc822;a+zz\n",
                            "rcpt: a\nrcpt.orcpt: rfc822;a b\n", "rcpt: a\nrcpt.orcpt: ;a\n", "notify: SOMETIMES\n"})
        EXPECT_FALSE(parse_submission(std::string("maildrop: 1\n") + bad + "data:\n", 100).ok()) << bad;
}

TEST(Maildrop, HostileFieldsRefused) {
    EXPECT_FALSE(parse_submission("", 100).ok());
    EXPECT_FALSE(parse_submission("maildrop: 1\nrcpt: a\n", 100).ok());  // no data line
    EXPECT_FALSE(parse_submission("maildrop: 1\nuid: 0\ndata:\n", 100).ok());
    EXPECT_FALSE(parse_submission("maildrop: 1\nrcpt: a\rb\ndata:\n", 100).ok());
    EXPECT_FALSE(parse_submission("maildrop: 1\nbody: 9BIT\ndata:\n", 100).ok());
    EXPECT_FALSE(parse_submission("maildrop: 1\nfullname: a+0Ab\ndata:\n", 100).ok());
    EXPECT_FALSE(parse_submission("maildrop: 2\ndata:\n", 100).ok());
    // Whatever -f refuses, a hand-made file cannot bring in either.
    EXPECT_FALSE(parse_submission("maildrop: 1\nsender: \x1b[2Jx@y\ndata:\n", 100).ok());
    EXPECT_FALSE(parse_submission("maildrop: 1\nrcpt: a\x7f@b\ndata:\n", 100).ok());
    EXPECT_TRUE(parse_submission("maildrop: 1\nfullname: A+09B\ndata:\n", 100).ok());
}

class FsQueueTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(FsQueue::init(dir.path(), -1, -1, -1).ok());
    }
    test::TempDir dir;
};

TEST_F(FsQueueTest, InitSetsModesWhateverTheUmask) {
    mode_t old = umask(0777);
    auto r = FsQueue::init(dir.path() + "/s2", -1, -1, -1);
    umask(old);
    ASSERT_TRUE(r.ok()) << r.error().message;
    struct stat st;
    ASSERT_EQ(stat((dir.path() + "/s2/maildrop").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 01770u);
    ASSERT_EQ(stat((dir.path() + "/s2/queue").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(FsQueueTest, CommitListLoadUpdateRemove) {
    FsQueue q(dir.path());
    auto e = sample_envelope(make_id());
    ASSERT_TRUE(q.commit(e, "hello").ok());
    EXPECT_TRUE(q.exists(e.id));
    ASSERT_EQ(q.list(), std::vector<std::string>{e.id});
    EXPECT_TRUE(fs::is_empty(dir.path() + "/incoming"));
    auto l = q.load(e.id);
    ASSERT_TRUE(l.ok()) << l.error().message;
    EXPECT_EQ(l->rcpts.size(), 2u);
    EXPECT_EQ(slurp(q.path(Area::Queue, e.id) + "/message"), "hello");
    l->tries = 3;
    l->rcpts[0].status = RcptStatus::Bounced;
    ASSERT_TRUE(q.update(*l).ok());
    EXPECT_EQ(q.load(e.id)->tries, 3u);
    EXPECT_FALSE(fs::exists(q.path(Area::Queue, e.id) + "/envelope.tmp"));
    // A second commit of the same id is refused, not merged.
    EXPECT_FALSE(q.commit(e, "again").ok());
    ASSERT_TRUE(q.move(e.id, Area::Queue, Area::Hold).ok());
    EXPECT_TRUE(q.list().empty());
    EXPECT_EQ(q.list(Area::Hold).size(), 1u);
    ASSERT_TRUE(q.move(e.id, Area::Hold, Area::Queue).ok());
    ASSERT_TRUE(q.remove(e.id).ok());
    EXPECT_FALSE(q.exists(e.id));
    EXPECT_TRUE(fs::is_empty(dir.path() + "/purge"));
}

TEST_F(FsQueueTest, RecoverQuarantinesDamagedEntries) {
    FsQueue q(dir.path());
    auto a = sample_envelope(make_id());
    ASSERT_TRUE(q.commit(a, "x").ok());
    fs::remove(q.path(Area::Queue, a.id) + "/message");
    std::string b_id = make_id();
    auto b = sample_envelope(b_id);
    ASSERT_TRUE(q.commit(b, "y").ok());
    std::ofstream(q.path(Area::Queue, b_id) + "/envelope") << "garbage\n";
    auto c = sample_envelope(make_id());
    ASSERT_TRUE(q.commit(c, "z").ok());
    std::ofstream(q.path(Area::Queue, c.id) + "/envelope.tmp") << "half";
    fs::create_directory(dir.path() + "/incoming/" + make_id());
    fs::create_directory(dir.path() + "/purge/" + make_id());

    auto rep = q.recover();
    EXPECT_EQ(rep.moved_corrupt, 2u);
    EXPECT_EQ(rep.tmp_removed, 1u);
    EXPECT_EQ(rep.incoming_removed, 1u);
    EXPECT_EQ(rep.purge_finished, 1u);
    EXPECT_EQ(q.list(), std::vector<std::string>{c.id});
    EXPECT_EQ(q.list(Area::Corrupt).size(), 2u);
}

TEST_F(FsQueueTest, WriteMaildropIsCompleteAndReadableByPickup) {
    Submission s;
    s.recipients = {"root"};
    s.message = "Subject: hi\n\nbody\n";
    auto id = make_id();
    mode_t old = umask(0177);
    auto r = write_maildrop(dir.path(), id, s);
    umask(old);
    ASSERT_TRUE(r.ok()) << r.error().message;
    std::string p = dir.path() + "/maildrop/" + id;
    struct stat st;
    ASSERT_EQ(stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u);
    EXPECT_FALSE(fs::exists(dir.path() + "/maildrop/t." + id));
    auto back = parse_submission(slurp(p), 1 << 20);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->message, s.message);
}

TEST_F(FsQueueTest, WriteMaildropMissingSpoolReportsErrno) {
    Submission s;
    s.recipients = {"root"};
    auto r = write_maildrop(dir.path() + "/nonexistent", make_id(), s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().sys_errno, ENOENT);
}
