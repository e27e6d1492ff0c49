// Delay warnings, the admin notice's rate limit, connection lanes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>

#include "config/config.hpp"
#include "message/header.hpp"
#include "queue/bounce.hpp"
#include "queue/id.hpp"
#include "queue/queue_fs.hpp"
#include "smtp/flush.hpp"
#include "smtp/notice.hpp"

using namespace relay;
using namespace relay::queue;

namespace {

config::Config cfg(const std::string &extra = "") {
    auto c = config::parse("myhostname = \"torres.example.net\"\n" + extra, "t");
    return c.value();
}

Envelope deferred_message() {
    Envelope e;
    e.id = make_id();
    e.arrival = id_time(e.id) - 4 * 3600;
    e.sender = "alice@example.net";
    e.rcpts.push_back(Recipient{"slow@example.org", "slow"});
    e.rcpts.push_back(Recipient{"fast@example.org", ""});
    e.rcpts[1].status = RcptStatus::Sent;
    return e;
}

struct TempSpool {
    std::string dir;
    TempSpool() {
        char tmpl[] = "/tmp/relay-notice-test-XXXXXX";
        dir = mkdtemp(tmpl);
        EXPECT_TRUE(FsQueue::init(dir, -1, -1, -1));
    }
    ~TempSpool() { std::system(("rm -rf '" + dir + "'").c_str()); }
};

}  // namespace

TEST(SmtpDelayWarning, OnlyWhenAskedAndNeverTwice) {
    auto e = deferred_message();
    std::vector<Failure> d{{e.rcpts[0], "451 4.3.0 try later", "mx[192.0.2.1]:25"}};
    EXPECT_TRUE(want_delay_warning(e, d));  // default NOTIFY
    e.rcpts[0].notify = "FAILURE,DELAY";
    d[0].rcpt = e.rcpts[0];
    EXPECT_TRUE(want_delay_warning(e, d));
    d[0].rcpt.notify = "FAILURE";
    EXPECT_FALSE(want_delay_warning(e, d));
    d[0].rcpt.notify = "NEVER";
    EXPECT_FALSE(want_delay_warning(e, d));
    d[0].rcpt.notify = "";
    e.warned = true;
    EXPECT_FALSE(want_delay_warning(e, d));  // once per message
    e.warned = false;
    e.sender = "";
    EXPECT_FALSE(want_delay_warning(e, d));  // never to the null sender
    EXPECT_FALSE(want_delay_warning(deferred_message(), {}));
}

TEST(SmtpDelayWarning, StatusStaysTransient) {
    EXPECT_EQ(dsn_delay_status("451 4.3.0 try later"), "4.3.0");
    EXPECT_EQ(dsn_delay_status("host mx[1.2.3.4] said: 452 4.2.2 full (in reply to RCPT TO command)"),
              "4.2.2");
    EXPECT_EQ(dsn_delay_status("connect to mx[192.0.2.1]:25: Connection refused"), "4.0.0");
    EXPECT_EQ(dsn_delay_status("550 5.7.1 later maybe"), "4.7.1");
}

TEST(SmtpDelayWarning, ReportStructure) {
    auto c = cfg("[queue]\nmaximal_queue_lifetime = \"5d\"\n");
    auto e = deferred_message();
    std::vector<Failure> d{{e.rcpts[0], "host mx[192.0.2.1] said: 451 4.3.0 try later (in reply to RCPT TO command)",
                            "mx.example.org[192.0.2.1]:25"}};
    std::string original = "From: alice@example.net\nSubject: report\n\nsecret body\n";
    auto w = make_delay_warning(c, e, d, original);
    EXPECT_EQ(w.envelope.sender, "");
    ASSERT_EQ(w.envelope.rcpts.size(), 1u);
    EXPECT_EQ(w.envelope.rcpts[0].address, "alice@example.net");
    const std::string &m = w.message;
    EXPECT_NE(m.find("Subject: Delayed Mail (still being retried)\n"), std::string::npos);
    EXPECT_NE(m.find("Auto-Submitted: auto-replied\n"), std::string::npos);
    EXPECT_NE(m.find("THIS IS A WARNING ONLY"), std::string::npos);
    EXPECT_NE(m.find("could not be delivered for 4.0 hours"), std::string::npos);
    EXPECT_NE(m.find("until it is 120.0 hours old"), std::string::npos);
    EXPECT_NE(m.find("Final-Recipient: rfc822; slow@example.org\nOriginal-Recipient: rfc822; slow\n"
                     "Action: delayed\nStatus: 4.3.0\nRemote-MTA: dns; mx.example.org\n"
                     "Diagnostic-Code: smtp; 451 4.3.0 try later\nWill-Retry-Until: " +
                     message::rfc5322_date(e.arrival + 5 * 86400) + "\n"),
              std::string::npos)
        << m;
    EXPECT_EQ(m.find("fast@example.org"), std::string::npos);
    EXPECT_NE(m.find("Content-Type: text/rfc822-headers\n\nFrom: alice@example.net\nSubject: report\n"),
              std::string::npos);
    EXPECT_EQ(m.find("secret body"), std::string::npos);  // headers only
    // The failure report is unchanged: Action: failed.
    auto b = make_bounce(c, e, d, original);
    EXPECT_NE(b.message.find("Action: failed\nStatus: 5.3.0"), std::string::npos);
    EXPECT_NE(b.message.find("secret body"), std::string::npos);
}

TEST(SmtpNotice, AtMostOneAnHourAndNoneWhileQueued) {
    TempSpool sp;
    auto c = cfg("[queue]\ndirectory = \"" + sp.dir + "\"\n[smtp]\nnotify_recipient = \"admin@example.net\"\n");
    FsQueue q(sp.dir);
    const int64_t t0 = 1'800'000'000;
    auto first = smtp::notify_admin(c, q, {"SASL authentication failed"}, 3, t0);
    ASSERT_TRUE(first);
    EXPECT_EQ(q.list().size(), 1u);
    auto env = q.load(*first);
    ASSERT_TRUE(env);
    EXPECT_EQ(env->sender, "");
    EXPECT_EQ(env->rcpts.at(0).address, "admin@example.net");
    // Still queued: none, even hours later.
    EXPECT_FALSE(smtp::notify_admin(c, q, {"x"}, 1, t0 + 5 * 3600));
    ASSERT_TRUE(q.remove(*first));  // delivered
    EXPECT_FALSE(smtp::notify_admin(c, q, {"x"}, 1, t0 + 60));
    EXPECT_FALSE(smtp::notify_admin(c, q, {"x"}, 1, t0 + smtp::kNoticeInterval - 1));
    auto second = smtp::notify_admin(c, q, {"TLS certificate verification failed"}, 1,
                                     t0 + smtp::kNoticeInterval);
    ASSERT_TRUE(second);
    EXPECT_NE(*second, *first);
    auto fd = q.open_message(*second);
    ASSERT_TRUE(fd);
    char buf[4096];
    ssize_t n = pread(fd->get(), buf, sizeof buf, 0);
    std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
    EXPECT_NE(text.find("  - TLS certificate verification failed\n"), std::string::npos);
    EXPECT_NE(text.find("To: admin@example.net\n"), std::string::npos);
}

TEST(SmtpNotice, OffWithoutRecipient) {
    TempSpool sp;
    auto c = cfg("[queue]\ndirectory = \"" + sp.dir + "\"\n");
    FsQueue q(sp.dir);
    EXPECT_FALSE(smtp::notify_admin(c, q, {"SASL authentication failed"}, 1, 1'800'000'000));
    EXPECT_TRUE(q.list().empty());
    EXPECT_NE(access((sp.dir + "/notice.stamp").c_str(), F_OK), 0);
}

TEST(SmtpFlush, ConnectionLanes) {
    EXPECT_EQ(smtp::connection_lanes(1, 2), 1u);
    EXPECT_EQ(smtp::connection_lanes(19, 2), 1u);  // a second connection pays off from 20
    EXPECT_EQ(smtp::connection_lanes(20, 2), 2u);
    EXPECT_EQ(smtp::connection_lanes(1000, 2), 2u);
    EXPECT_EQ(smtp::connection_lanes(1000, 1), 1u);
    EXPECT_EQ(smtp::connection_lanes(35, 8), 3u);
}
