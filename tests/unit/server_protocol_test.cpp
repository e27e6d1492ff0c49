// The server's byte-level parsers: framing, commands, paths, DATA.
#include <gtest/gtest.h>

#include "server/protocol.hpp"

using namespace relay::server;

namespace {

std::vector<Line> frame(const std::string &bytes, size_t limit = 100) {
    LineFramer f;
    std::vector<Line> out;
    // Feed one byte at a time: framing must not depend on read boundaries.
    for (char c : bytes) {
        f.feed(std::string_view(&c, 1));
        while (auto l = f.next(limit)) out.push_back(*l);
    }
    return out;
}

DataReader data(const std::string &bytes, DataStatus *last, size_t limit = 1 << 20) {
    DataReader r(limit);
    LineFramer f;
    f.feed(bytes);
    *last = DataStatus::More;
    while (auto l = f.next(1 << 20)) {
        *last = r.add(*l);
        if (*last == DataStatus::End) break;
    }
    return r;
}

}  // namespace

TEST(ServerFramer, LineEnds) {
    auto lines = frame("EHLO a\r\nNOOP\nX\rY\r\n");
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0].text, "EHLO a");
    EXPECT_EQ(lines[0].end, LineEnd::Crlf);
    EXPECT_EQ(lines[1].text, "NOOP");
    EXPECT_EQ(lines[1].end, LineEnd::BareLf);
    EXPECT_EQ(lines[2].text, "X\rY");
    EXPECT_TRUE(lines[2].bare_cr);
}

TEST(ServerFramer, TooLongLineIsCutAndTheRestDropped) {
    auto lines = frame(std::string(250, 'a') + "\r\nNOOP\r\n", 100);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].end, LineEnd::TooLong);
    EXPECT_EQ(lines[0].text.size(), 100u);
    EXPECT_EQ(lines[1].text, "NOOP");
}

TEST(ServerFramer, DiscardDropsPipelinedInput) {
    LineFramer f;
    f.feed("STARTTLS\r\nMAIL FROM:<a@b.c>\r\n");
    auto l = f.next(100);
    ASSERT_TRUE(l);
    f.discard();
    EXPECT_FALSE(f.next(100));
    EXPECT_EQ(f.buffered(), 0u);
}

TEST(ServerCommand, VerbsAndArguments) {
    auto c = parse_command("mail FROM:<a@b.c> SIZE=10  ");
    EXPECT_EQ(c.verb, Verb::Mail);
    EXPECT_EQ(c.arg, "FROM:<a@b.c> SIZE=10");
    EXPECT_EQ(parse_command("").verb, Verb::Empty);
    EXPECT_EQ(parse_command("GET / HTTP/1.1").verb, Verb::Http);
    EXPECT_EQ(parse_command("XYZZY").verb, Verb::Unknown);
    EXPECT_EQ(parse_command("starttls").verb, Verb::StartTls);
}

TEST(ServerPath, ParsesAddressAndParameters) {
    PathError why;
    auto p = parse_path("FROM:<alice@example.com> SIZE=100 BODY=8BITMIME", "FROM:", &why);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->address, "alice@example.com");
    ASSERT_EQ(p->params.size(), 2u);
    EXPECT_EQ(p->params[0].key, "SIZE");
    EXPECT_EQ(p->params[0].value, "100");
    auto null = parse_path("FROM: <>", "FROM:", &why);
    ASSERT_TRUE(null);
    EXPECT_EQ(null->address, "");
    auto routed = parse_path("TO:<@relay.example:bob@example.org>", "TO:", &why);
    ASSERT_TRUE(routed);
    EXPECT_EQ(routed->address, "bob@example.org");
}

TEST(ServerPath, RefusesBadSyntax) {
    PathError why;
    EXPECT_FALSE(parse_path("FROM:alice@example.com", "FROM:", &why));
    EXPECT_EQ(why, PathError::Syntax);
    EXPECT_FALSE(parse_path("FROM:<alice@example.com", "FROM:", &why));
    EXPECT_FALSE(parse_path("FROM:<a\x01@example.com>", "FROM:", &why));
    EXPECT_EQ(why, PathError::BadAddress);
    EXPECT_FALSE(parse_path("FROM:<alice>", "FROM:", &why));
    EXPECT_EQ(why, PathError::BadAddress);
    EXPECT_FALSE(parse_path("FROM:<a@b.c>X", "FROM:", &why));
    EXPECT_FALSE(parse_path("TO:<a@b.c>", "FROM:", &why));
    EXPECT_FALSE(parse_path("FROM:<" + std::string(260, 'a') + "@b.c>", "FROM:", &why));
}

TEST(ServerPath, Fqdn) {
    EXPECT_TRUE(is_fqdn_address("a@b.c"));
    EXPECT_TRUE(is_fqdn_address("a@[192.0.2.1]"));
    EXPECT_FALSE(is_fqdn_address("a@localhost"));
    EXPECT_FALSE(is_fqdn_address("a@b."));
    EXPECT_FALSE(is_fqdn_address("root"));
    EXPECT_EQ(domain_of("A@Example.COM"), "example.com");
}

TEST(ServerData, DotUnstuffingAndEnd) {
    DataStatus last;
    auto r = data("Subject: x\r\n\r\n..leading dot\r\nbody\r\n.\r\nNOOP\r\n", &last);
    EXPECT_EQ(last, DataStatus::End);
    EXPECT_EQ(r.message(), "Subject: x\n\n.leading dot\nbody\n");
    EXPECT_FALSE(r.saw_bare_lf());
}

TEST(ServerData, SmugglingSequencesDoNotEndData) {
    // <LF>.<LF>, <LF>.<CR><LF> and <CR><LF>.<LF> are all content.
    for (const char *seq : {"a\n.\nMAIL FROM:<x@y.z>\r\n", "a\n.\r\nRCPT TO:<x@y.z>\r\n",
                            "a\r\n.\nDATA\r\n"}) {
        DataStatus last;
        auto r = data(seq, &last);
        EXPECT_EQ(last, DataStatus::More) << seq;
        EXPECT_TRUE(r.saw_bare_lf()) << seq;
    }
    DataStatus last;
    auto r = data("a\r.\r\n", &last);
    EXPECT_EQ(last, DataStatus::More);
    EXPECT_TRUE(r.saw_bare_cr());
}

TEST(ServerData, SizeLimitAndHopCount) {
    DataStatus last;
    auto big = data(std::string(50, 'x') + "\r\n.\r\n", &last, 20);
    EXPECT_EQ(last, DataStatus::End);
    EXPECT_TRUE(big.too_big());
    auto hops = data("Received: a\r\nreceived: b\r\nSubject: s\r\n\r\nReceived: body\r\n.\r\n", &last);
    EXPECT_EQ(hops.received_count(), 2u);
}

TEST(ServerSasl, Base64AndPlain) {
    EXPECT_EQ(base64_encode("Username:"), "VXNlcm5hbWU6");
    auto d = base64_decode("AGFsaWNlAHNlY3JldA==");
    ASSERT_TRUE(d);
    auto c = parse_plain(*d);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->user, "alice");
    EXPECT_EQ(c->password, "secret");
    EXPECT_FALSE(base64_decode("not base64!"));
    EXPECT_FALSE(parse_plain(std::string("nonul")));
    EXPECT_FALSE(parse_plain(std::string("\0\0pw", 4)));
}

TEST(ServerXtext, Validity) {
    EXPECT_TRUE(valid_xtext("abc+2Bdef"));
    EXPECT_FALSE(valid_xtext("abc+2"));
    EXPECT_FALSE(valid_xtext("a b"));
    EXPECT_FALSE(valid_xtext("a=b"));
}
