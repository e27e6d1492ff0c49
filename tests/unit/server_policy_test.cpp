// mynetworks matching and hosted-domain resolution.
#include <gtest/gtest.h>

#include "server/peername.hpp"
#include "server/policy.hpp"

using namespace relay;
using namespace relay::server;

TEST(ServerCidr, Ipv4AndIpv6) {
    auto nets = NetworkList::parse({"192.0.2.0/24 10.0.0.0/8", "[2001:db8::]/32", "127.0.0.1"});
    ASSERT_TRUE(nets.ok());
    EXPECT_TRUE(nets->contains(*IpAddress::parse("192.0.2.200")));
    EXPECT_FALSE(nets->contains(*IpAddress::parse("192.0.3.1")));
    EXPECT_TRUE(nets->contains(*IpAddress::parse("10.255.0.1")));
    EXPECT_TRUE(nets->contains(*IpAddress::parse("2001:db8:1::5")));
    EXPECT_FALSE(nets->contains(*IpAddress::parse("2001:db9::5")));
    EXPECT_TRUE(nets->contains(*IpAddress::parse("127.0.0.1")));
    EXPECT_FALSE(nets->contains(*IpAddress::parse("127.0.0.2")));
    // An IPv4-mapped client address on a dual-stack socket matches IPv4.
    auto mapped = IpAddress::parse("::ffff:192.0.2.7");
    ASSERT_TRUE(mapped);
    EXPECT_FALSE(mapped->v6);
    EXPECT_TRUE(nets->contains(*mapped));
}

TEST(ServerCidr, BadEntries) {
    EXPECT_FALSE(NetworkList::parse({"192.0.2.1/24"}).ok());  // host bits set
    EXPECT_FALSE(NetworkList::parse({"192.0.2.0/33"}).ok());
    EXPECT_FALSE(NetworkList::parse({"example.com"}).ok());
    EXPECT_TRUE(NetworkList::parse({}).ok());
}

TEST(ServerPolicy, ResolveAliasesAndMailboxes) {
    auto cfg = config::parse(
        "[rewrite]\nrecipient_delimiter = \"+\"\n[server]\n"
        "virtual_mailbox_domains = [\"a.example b.example\"]\n"
        "virtual_mailbox_maps = [\"inline:{ joe@a.example=a.example/joe, @b.example=b.example/all/ }\"]\n"
        "virtual_alias_maps = [\"inline:{ sales@a.example=joe@a.example, out@a.example=x@remote.example, "
        "loop1@a.example=loop2@a.example, loop2@a.example=loop1@a.example, bad@a.example=../../etc }\"]\n"
        "virtual_mailbox_base = \"/srv/mail/\"\n",
        "t.toml");
    ASSERT_TRUE(cfg.ok()) << cfg.error().message;
    auto p = Policy::load(*cfg);
    ASSERT_TRUE(p.ok()) << p.error().message;
    auto &pol = **p;
    EXPECT_TRUE(pol.is_hosted("A.EXAMPLE"));
    EXPECT_FALSE(pol.is_hosted("c.example"));
    auto joe = pol.resolve("Joe+tag@a.example");
    ASSERT_EQ(joe.local.size(), 1u);
    EXPECT_EQ(joe.local[0].maildir, "/srv/mail/a.example/joe/");
    auto sales = pol.resolve("sales@a.example");
    ASSERT_EQ(sales.local.size(), 1u);
    EXPECT_EQ(sales.local[0].recipient, "joe@a.example");
    auto out = pol.resolve("out@a.example");
    EXPECT_TRUE(out.local.empty());
    ASSERT_EQ(out.remote.size(), 1u);
    EXPECT_EQ(out.remote[0], "x@remote.example");
    EXPECT_TRUE(pol.resolve("nobody@a.example").unknown);
    EXPECT_TRUE(pol.resolve("loop1@a.example").unknown);
    EXPECT_FALSE(pol.resolve("anyone@b.example").unknown);
    auto remote = pol.resolve("someone@c.example");
    EXPECT_FALSE(remote.hosted);
    ASSERT_EQ(remote.remote.size(), 1u);
}

TEST(ServerPolicy, HostingNeedsABase) {
    auto cfg = config::parse("[server]\nvirtual_mailbox_domains = [\"a.example\"]\n", "t.toml");
    ASSERT_TRUE(cfg.ok());
    EXPECT_FALSE(Policy::load(*cfg).ok());
}

TEST(ServerPeerName, OnlyPlainHostNamesAreBelieved) {
    using relay::server::plain_hostname;
    EXPECT_TRUE(plain_hostname("mail.example.net"));
    EXPECT_TRUE(plain_hostname("host-1_a.example"));
    EXPECT_FALSE(plain_hostname(""));
    EXPECT_FALSE(plain_hostname(".example"));
    EXPECT_FALSE(plain_hostname("-x.example"));
    EXPECT_FALSE(plain_hostname("a b.example"));
    EXPECT_FALSE(plain_hostname("evil.example]\r\nX-Injected: 1"));
    EXPECT_FALSE(plain_hostname("b\xc3\xbc" "cher.example"));
    EXPECT_FALSE(plain_hostname(std::string(254, 'a')));
}
