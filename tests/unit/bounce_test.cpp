#include <gtest/gtest.h>

#include "config/config.hpp"
#include "message/header.hpp"
#include "queue/bounce.hpp"
#include "queue/id.hpp"

using namespace relay;
using namespace relay::queue;

namespace {
config::Config cfg() {
    auto c = config::parse("myhostname = \"torres.example.net\"\n", "t");
    return c.value();
}
Envelope original(const std::string &ret = "") {
    Envelope e;
    e.id = make_id();
    e.arrival = id_time(e.id);
    e.sender = "alice@example.net";
    e.ret = ret;
    e.rcpts.push_back(Recipient{"gone@example.org", "gone"});
    return e;
}
}  // namespace

TEST(Bounce, StatusFromReplies) {
    EXPECT_EQ(dsn_status("550 5.1.1 <x>: unknown"), "5.1.1");
    EXPECT_EQ(dsn_status("host a[1.2.3.4] said: 552 5.2.2 full (in reply to RCPT TO command)"), "5.2.2");
    EXPECT_EQ(dsn_status("554 transaction failed"), "5.0.0");
    EXPECT_EQ(dsn_status("message expired after 5d; last error: 451 4.3.0 later"), "4.4.7");
}

TEST(Bounce, NeverForABounceNorForNotifyNever) {
    auto e = original();
    std::vector<Failure> f{{e.rcpts[0], "550 5.1.1 unknown", "mx[1.2.3.4]:25"}};
    EXPECT_TRUE(want_bounce(e, f));
    e.sender = "";
    EXPECT_FALSE(want_bounce(e, f));
    e = original();
    f[0].rcpt.notify = "NEVER";
    EXPECT_FALSE(want_bounce(e, f));
    f[0].rcpt.notify = "SUCCESS,DELAY";
    EXPECT_FALSE(want_bounce(e, f));
    f[0].rcpt.notify = "FAILURE";
    EXPECT_TRUE(want_bounce(e, f));
}

TEST(Bounce, ReportStructure) {
    auto e = original();
    std::vector<Failure> f{{e.rcpts[0], "550 5.1.1 <gone@example.org>: unknown", "mx.example.org[192.0.2.1]:25"}};
    auto b = make_bounce(cfg(), e, f, "Subject: hi\nFrom: alice@example.net\n\nbody\n");
    EXPECT_EQ(b.envelope.sender, "");
    ASSERT_EQ(b.envelope.rcpts.size(), 1u);
    EXPECT_EQ(b.envelope.rcpts[0].address, "alice@example.net");
    EXPECT_TRUE(is_valid_id(b.envelope.id));
    EXPECT_EQ(b.envelope.size, b.message.size());
    auto m = message::Message::parse(b.message);
    ASSERT_NE(m.find("Content-Type"), nullptr);
    EXPECT_NE(m.find("Content-Type")->value().find("report-type=delivery-status"), std::string::npos);
    EXPECT_EQ(m.find("Auto-Submitted")->value(), "auto-replied");
    EXPECT_EQ(m.find("From")->value(), "MAILER-DAEMON@torres.example.net (Mail Delivery System)");
    const auto &body = m.body();
    EXPECT_NE(body.find("Final-Recipient: rfc822; gone@example.org\nOriginal-Recipient: rfc822; gone\n"
                        "Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.example.org\n"
                        "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: unknown\n"),
              std::string::npos)
        << body;
    EXPECT_NE(body.find("Content-Type: message/rfc822\n\nSubject: hi\n"), std::string::npos);
    EXPECT_NE(body.find("\nbody\n"), std::string::npos);
}

TEST(Bounce, HeadersOnlyForRetHdrsAndLargeMessages) {
    std::string orig = "Subject: big\n\n" + std::string(bounce_size_limit + 10, 'x') + "\n";
    for (auto [ret, text] : {std::pair<std::string, std::string>{"HDRS", "Subject: s\n\nsecret body\n"},
                             {"", orig}}) {
        auto e = original(ret);
        std::vector<Failure> f{{e.rcpts[0], "550 no", ""}};
        auto b = make_bounce(cfg(), e, f, text);
        EXPECT_NE(b.message.find("Content-Type: text/rfc822-headers"), std::string::npos);
        EXPECT_EQ(b.message.find("secret body"), std::string::npos);
        EXPECT_EQ(b.message.find(std::string(100, 'x')), std::string::npos);
        EXPECT_LT(b.message.size(), 10000u);
    }
}
