#include <gtest/gtest.h>

#include "config/config.hpp"

using namespace relay;

TEST(Config, DefaultsWhenEmpty) {
    auto r = config::parse("", "relay.toml");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->queue.message_size_limit, 10u * 1024 * 1024);
    EXPECT_EQ(r->smtp.tls, config::TlsMode::StartTls);
    EXPECT_TRUE(r->smtp.tls_verify);
    EXPECT_FALSE(r->myhostname.empty());
    EXPECT_FALSE(r->myorigin.empty());
}

TEST(Config, ReadsPostfixNames) {
    auto r = config::parse(R"(
myhostname = "torres.example.net"
myorigin = "example.net"
relayhost = "[mail.example.net]:587"
[queue]
message_size_limit = "20M"
maximal_queue_lifetime = "3d"
[rewrite]
virtual_alias_maps = ["regexp:/etc/relay/virtual_alias"]
[smtp]
tls = "smtps"
connect_timeout = "10s"
)", "relay.toml");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->myhostname, "torres.example.net");
    EXPECT_EQ(r->mydomain, "example.net");
    EXPECT_EQ(r->myorigin, "example.net");
    ASSERT_EQ(r->smtp.relayhost.size(), 1u);
    EXPECT_EQ(r->smtp.relayhost[0], "[mail.example.net]:587");
    EXPECT_EQ(r->queue.message_size_limit, 20u * 1024 * 1024);
    EXPECT_EQ(r->queue.maximal_queue_lifetime.count(), 3 * 86400);
    EXPECT_EQ(r->smtp.tls, config::TlsMode::Smtps);
    EXPECT_EQ(r->smtp.connect_timeout.count(), 10);
    ASSERT_EQ(r->rewrite.virtual_alias_maps.size(), 1u);
}

TEST(Config, UnknownKeyNamesFileLineAndKey) {
    auto r = config::parse("myhostname = \"a.b\"\n[smtp]\ntsl = \"none\"\n", "relay.toml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "relay.toml:3: [smtp] tsl: unknown key");
}

TEST(Config, WrongTypeAndBadEnum) {
    auto r = config::parse("[queue]\nmessage_size_limit = true\n", "f.toml");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("f.toml:2: [queue] message_size_limit: expected a size"),
              std::string::npos)
        << r.error().message;
    auto r2 = config::parse("[smtp]\ntls = \"maybe\"\n", "f.toml");
    ASSERT_FALSE(r2.ok());
    EXPECT_EQ(r2.error().message, "f.toml:2: [smtp] tls: expected one of starttls, smtps, none");
}

TEST(Config, SyntaxErrorHasLine) {
    auto r = config::parse("a = \n", "x.toml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message.rfind("x.toml:1: ", 0), 0u) << r.error().message;
}

TEST(Config, DurationUnitsAndBackoffOrder) {
    auto r = config::parse("[queue]\nminimal_backoff_time = \"2h\"\nmaximal_backoff_time = \"1h\"\n",
                           "f");
    ASSERT_FALSE(r.ok());
    auto r2 = config::parse("[queue]\nmaximal_backoff_time = \"1w\"\n", "f");
    ASSERT_TRUE(r2.ok());
    EXPECT_EQ(r2->queue.maximal_backoff_time.count(), 7 * 86400);
    auto r3 = config::parse("[queue]\nmaximal_backoff_time = \"1y\"\n", "f");
    ASSERT_FALSE(r3.ok());
}

TEST(Config, ListItemsRefuseLineBreaks) {
    auto r = config::parse("relayhost = [\"a:25\", \"\"\"b\n:25\"\"\"]\n", "f.toml");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("must not contain CR, LF or NUL"), std::string::npos)
        << r.error().message;
    auto r2 = config::parse("relayhost = \"\"\"x\ny\"\"\"\n", "f.toml");
    ASSERT_FALSE(r2.ok());
}

TEST(Config, DirectDeliveryKeys) {
    auto r = config::parse("[smtp]\ndirect_delivery = true\ndirect_tls = \"verify\"\ndirect_port = 2525\n"
                           "direct_dns_server = \"127.0.0.1:5353\"\n",
                           "f.toml");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->smtp.direct_delivery);
    EXPECT_EQ(r->smtp.direct_tls, config::DirectTls::Verify);
    EXPECT_EQ(r->smtp.direct_port, 2525u);
    EXPECT_EQ(r->smtp.direct_dns_server, "127.0.0.1:5353");
    EXPECT_FALSE(config::parse("[smtp]\ndirect_delivery = false\n", "f").value().smtp.direct_delivery);
    for (const char *bad : {"direct_tls = \"maybe\"", "direct_port = 0", "direct_dns_server = \"::1:53\"",
                            "direct_dns_server = \"127.0.0.1\"", "direct_dns_server = \"127.0.0.1:99999\"",
                            "direct_dns_server = \"host:53\""})
        EXPECT_FALSE(config::parse(std::string("[smtp]\n") + bad + "\n", "f").ok()) << bad;
}
