// Client and flush pieces that need no server: setup errors, address
// guards and the back-off schedule. (Conversations with a real server are
// in tests/integration/test_smtp_client.py.)
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "smtp/client.hpp"
#include "smtp/flush.hpp"

using namespace relay;
using namespace relay::smtp;

namespace {
config::Config base_config() {
    config::Config c;
    config::finish_defaults(c);
    return c;
}
}  // namespace

TEST(SmtpClient, NoRelayhostDefersEverythingAsConfigFailure) {
    auto cfg = base_config();
    Client client(cfg);
    Job job;
    job.sender = "a@example.org";
    job.recipients = {"b@example.net", "c@example.net"};
    auto d = client.send(job);
    ASSERT_EQ(d.rcpts.size(), 2u);
    for (auto &r : d.rcpts) {
        EXPECT_EQ(r.outcome, Outcome::Deferred);
        EXPECT_NE(r.reply.find("relayhost"), std::string::npos) << r.reply;
    }
    EXPECT_TRUE(d.config_failure);
    EXPECT_EQ(client.messages_sent(), 0u);
}

TEST(SmtpClient, BadRelayhostIsReported) {
    auto cfg = base_config();
    cfg.smtp.relayhost = {"[mail.example.net"};
    Client client(cfg);
    Job job;
    job.recipients = {"b@example.net"};
    auto d = client.send(job);
    EXPECT_TRUE(d.config_failure);
    EXPECT_NE(d.rcpts[0].reply.find("no closing ']'"), std::string::npos);
}

TEST(SmtpClient, AddressesThatWouldBreakTheCommandNeverGoOut) {
    auto cfg = base_config();
    cfg.smtp.relayhost = {"[127.0.0.1]:1"};
    Client client(cfg);
    Job job;
    job.sender = "a@example.org";
    job.recipients = {"b@example.net>\r\nRCPT TO:<evil@example.net", "<x@y>", ""};
    auto d = client.send(job);
    for (auto &r : d.rcpts) {
        EXPECT_EQ(r.outcome, Outcome::Bounced);
        EXPECT_NE(r.reply.find("5.1.3"), std::string::npos);
    }
    EXPECT_EQ(client.messages_sent(), 0u);  // nothing left to send: no connection
    Job bad_sender;
    bad_sender.sender = "a@example.org\r\nDATA";
    bad_sender.recipients = {"b@example.net"};
    auto e = client.send(bad_sender);
    EXPECT_EQ(e.rcpts[0].outcome, Outcome::Bounced);
    EXPECT_NE(e.rcpts[0].reply.find("5.1.7"), std::string::npos);
    EXPECT_EQ(client.messages_sent(), 0u);
}

TEST(SmtpFlush, BackoffDoublesUpToTheMaximum) {
    config::QueueConfig q;
    q.minimal_backoff_time = config::Seconds(300);
    q.maximal_backoff_time = config::Seconds(4000);
    EXPECT_EQ(backoff_seconds(q, 1), 300);
    EXPECT_EQ(backoff_seconds(q, 2), 600);
    EXPECT_EQ(backoff_seconds(q, 3), 1200);
    EXPECT_EQ(backoff_seconds(q, 4), 2400);
    EXPECT_EQ(backoff_seconds(q, 5), 4000);
    EXPECT_EQ(backoff_seconds(q, 500), 4000);
    q.minimal_backoff_time = config::Seconds(0);
    EXPECT_EQ(backoff_seconds(q, 1), 1);
}
