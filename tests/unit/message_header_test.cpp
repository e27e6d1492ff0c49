#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <random>
#include <regex>
#include <string>

#include "message/header.hpp"

using namespace relay::message;

TEST(HeaderParse, SimpleLf) {
    auto m = Message::parse("From: a@x\nTo: b@y\nSubject: hi\n\nbody\n");
    ASSERT_EQ(m.headers().size(), 3u);
    EXPECT_EQ(m.headers()[0].name, "From");
    EXPECT_EQ(m.headers()[0].raw, "From: a@x\n");
    EXPECT_EQ(m.headers()[2].value(), "hi");
    EXPECT_EQ(m.body(), "body\n");
    EXPECT_EQ(m.str(), "From: a@x\nTo: b@y\nSubject: hi\n\nbody\n");
}

TEST(HeaderParse, CrlfAndMixedBecomeLf) {
    auto m = Message::parse("To: a@x\r\nSubject: s\n\r\nline1\r\nline2\nline3\r\n");
    ASSERT_EQ(m.headers().size(), 2u);
    EXPECT_EQ(m.headers()[0].raw, "To: a@x\n");
    EXPECT_EQ(m.headers()[1].raw, "Subject: s\n");
    EXPECT_EQ(m.body(), "line1\nline2\nline3\n");
    EXPECT_EQ(m.str(), "To: a@x\nSubject: s\n\nline1\nline2\nline3\n");
}

TEST(HeaderParse, FoldedFieldsKeptByteExact) {
    std::string in = "Cc: Bob <bob@example.org>,\r\n\tAlice Dev <alice@example.net>\r\nSubject:  a\n   b \n\nx";
    auto m = Message::parse(in);
    ASSERT_EQ(m.headers().size(), 2u);
    EXPECT_EQ(m.headers()[0].raw, "Cc: Bob <bob@example.org>,\n\tAlice Dev <alice@example.net>\n");
    EXPECT_EQ(m.headers()[0].value(), "Bob <bob@example.org>,\tAlice Dev <alice@example.net>");
    EXPECT_EQ(m.headers()[1].raw, "Subject:  a\n   b \n");
    EXPECT_EQ(m.headers()[1].value(), "a   b ");
    EXPECT_EQ(m.body(), "x");
}

TEST(HeaderParse, NonHeaderLineEndsHeaders) {
    auto m = Message::parse("Subject: x\nthis is not a header\nmore\n");
    ASSERT_EQ(m.headers().size(), 1u);
    EXPECT_EQ(m.body(), "this is not a header\nmore\n");
    // The separator is supplied when the message is written out.
    EXPECT_EQ(m.str(), "Subject: x\n\nthis is not a header\nmore\n");
}

TEST(HeaderParse, NoHeadersAtAll) {
    auto m = Message::parse("hello world\nSubject: not a header now\n");
    EXPECT_TRUE(m.headers().empty());
    EXPECT_EQ(m.body(), "hello world\nSubject: not a header now\n");
    EXPECT_EQ(m.str(), "hello world\nSubject: not a header now\n");

    m = Message::parse(" leading continuation\nTo: x\n");
    EXPECT_TRUE(m.headers().empty());
    EXPECT_EQ(m.str(), " leading continuation\nTo: x\n");

    m = Message::parse("\nTo: x\n");
    EXPECT_TRUE(m.headers().empty());
    EXPECT_EQ(m.body(), "To: x\n");
    EXPECT_EQ(m.str(), "\nTo: x\n");

    m = Message::parse("");
    EXPECT_TRUE(m.headers().empty());
    EXPECT_EQ(m.str(), "");

    m = Message::parse("body only\n");
    m.add("From", "root");
    EXPECT_EQ(m.str(), "From: root\n\nbody only\n");
}

TEST(HeaderParse, HeadersOnly) {
    auto m = Message::parse("Subject: x\nTo: y");
    ASSERT_EQ(m.headers().size(), 2u);
    EXPECT_EQ(m.headers()[1].raw, "To: y\n");
    EXPECT_EQ(m.body(), "");
    EXPECT_EQ(m.str(), "Subject: x\nTo: y\n");
    m = Message::parse("Subject: x\n\n");
    EXPECT_EQ(m.str(), "Subject: x\n\n");
}

TEST(HeaderParse, MboxFromLineDropped) {
    auto m = Message::parse("From root@vm  Sun Nov 22 04:45:25 2026\nFrom: root\n\nb\n");
    ASSERT_EQ(m.headers().size(), 1u);
    EXPECT_EQ(m.headers()[0].name, "From");
    EXPECT_EQ(m.str(), "From: root\n\nb\n");
    // Only at the very top.
    m = Message::parse("To: a\nFrom root@vm Sun Nov 22\n\nb\n");
    ASSERT_EQ(m.headers().size(), 1u);
    EXPECT_EQ(m.body(), "From root@vm Sun Nov 22\n\nb\n");
}

TEST(HeaderParse, NameSyntax) {
    auto m = Message::parse("Subject : spaced\nX-8bit\xc3\xa4: no\n\n");
    ASSERT_EQ(m.headers().size(), 1u);
    EXPECT_EQ(m.headers()[0].name, "Subject");
    EXPECT_EQ(m.headers()[0].value(), "spaced");
    EXPECT_EQ(m.body(), "X-8bit\xc3\xa4: no\n\n");
    m = Message::parse(": no name\n");
    EXPECT_TRUE(m.headers().empty());
    m = Message::parse("Empty:\n\n");
    ASSERT_EQ(m.headers().size(), 1u);
    EXPECT_EQ(m.headers()[0].value(), "");
}

TEST(HeaderParse, BareCrAndNulAreKept) {
    std::string in("Subject: a\rb\nX: \0\n\nbo\rdy\r\r\n", 27);
    auto m = Message::parse(in);
    ASSERT_EQ(m.headers().size(), 2u);
    EXPECT_EQ(m.headers()[0].value(), "a\rb");
    EXPECT_EQ(m.headers()[1].raw, std::string("X: \0\n", 5));
    EXPECT_EQ(m.body(), "bo\rdy\n");
}

TEST(HeaderFind, CaseInsensitiveFindAllRemove) {
    auto m = Message::parse("To: a\nX-Cron-Env: 1\nto: b\nX-CRON-ENV: 2\n\n");
    ASSERT_NE(m.find("TO"), nullptr);
    EXPECT_EQ(m.find("TO")->value(), "a");
    auto all = m.find_all("x-cron-env");
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[1]->value(), "2");
    EXPECT_FALSE(m.has("Cc"));
    EXPECT_EQ(m.remove("x-cron-env"), 2u);
    EXPECT_EQ(m.remove("x-cron-env"), 0u);
    EXPECT_EQ(m.str(), "To: a\nto: b\n\n");
}

TEST(HeaderAdd, AppendPrependSetValue) {
    auto m = Message::parse("Subject : old\n\nbody\n");
    m.add("Date", "Sun, 22 Nov 2026 04:45:25 +0000");
    m.prepend("Received", "from local");
    Message::set_value(m.headers()[1], "new");
    EXPECT_EQ(m.str(), "Received: from local\nSubject: new\nDate: Sun, 22 Nov 2026 04:45:25 +0000\n\nbody\n");
    m.add("X-Empty", "");
    EXPECT_EQ(m.headers().back().raw, "X-Empty:\n");
}

TEST(HeaderAdd, FoldsLongValuesAtWhiteSpace) {
    Message m;
    std::string v;
    for (int i = 0; i < 30; ++i) v += "word" + std::to_string(i) + " ";
    v += "end";
    m.add("Subject", v);
    const auto &raw = m.headers()[0].raw;
    size_t start = 0;
    int lines = 0;
    while (start < raw.size()) {
        size_t nl = raw.find('\n', start);
        ASSERT_NE(nl, std::string::npos);
        EXPECT_LE(nl - start, 78u) << raw;
        if (lines > 0) {
            EXPECT_EQ(raw[start], ' ');
        }
        start = nl + 1;
        ++lines;
    }
    EXPECT_GT(lines, 2);
    // Unfolding gives the value back.
    EXPECT_EQ(m.headers()[0].value(), v);
}

TEST(HeaderAdd, LongWordIsNotSplit) {
    Message m;
    std::string word(120, 'x');
    m.add("X-Long", "a " + word + " b");
    EXPECT_EQ(m.headers()[0].raw, "X-Long: a\n " + word + "\n b\n");
    m.add("X-Long2", word);
    EXPECT_EQ(m.headers()[1].raw, "X-Long2: " + word + "\n");
}

TEST(HeaderAdd, CallerDataCannotInjectHeaders) {
    Message m;
    m.add("Subject", "hi\r\nBcc: victim@example.com");
    m.add("X-A", std::string("a\0b\rc\n\n d", 10));
    m.add("X-B", "keep\n\tfold");
    m.add("X-C", "trailing\n ");
    m.add("Bad Name:", "v");
    EXPECT_EQ(m.headers()[0].raw, "Subject: hi Bcc: victim@example.com\n");
    EXPECT_EQ(m.headers()[1].raw, "X-A: ab c \n d\n");
    EXPECT_EQ(m.headers()[2].raw, "X-B: keep\n\tfold\n");
    EXPECT_EQ(m.headers()[3].raw, "X-C: trailing  \n");
    EXPECT_EQ(m.headers()[4].name, "BadName");
    auto again = Message::parse(m.str() + "\n");
    EXPECT_EQ(again.headers().size(), 5u);
}

TEST(HeaderSafety, IsSafeHeaderText) {
    EXPECT_TRUE(is_safe_header_text("Cron Daemon"));
    EXPECT_FALSE(is_safe_header_text("a\nb"));
    EXPECT_FALSE(is_safe_header_text("a\rb"));
    EXPECT_FALSE(is_safe_header_text(std::string("a\0b", 3)));
}

namespace {
struct TzGuard {
    std::string old;
    bool had;
    explicit TzGuard(const char *tz) {
        const char *o = std::getenv("TZ");
        had = o != nullptr;
        if (o) old = o;
        setenv("TZ", tz, 1);
        tzset();
    }
    ~TzGuard() {
        if (had) setenv("TZ", old.c_str(), 1);
        else unsetenv("TZ");
        tzset();
    }
};
}  // namespace

TEST(HeaderDate, Rfc5322Format) {
    {
        TzGuard tz("UTC0");
        EXPECT_EQ(rfc5322_date(1796145800), "Tue, 01 Dec 2026 17:23:20 +0000");
        EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    }
    {
        TzGuard tz("IST-5:30");
        EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 05:30:00 +0530");
    }
    {
        TzGuard tz("EST5");
        EXPECT_EQ(rfc5322_date(0), "Wed, 31 Dec 1969 19:00:00 -0500");
    }
    std::regex re(R"(^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}$)");
    EXPECT_TRUE(std::regex_match(rfc5322_date(), re)) << rfc5322_date();
}

TEST(HeaderMessageId, Format) {
    std::regex re(R"(^<\d{14}\.4Xk2Lz1pQ@mail\.example\.net>$)");
    EXPECT_TRUE(std::regex_match(make_message_id("4Xk2Lz1pQ", "mail.example.net"), re));
    auto id = make_message_id("a b<>\n", "");
    EXPECT_TRUE(std::regex_match(id, std::regex(R"(^<\d{14}\.ab@localhost>$)"))) << id;
    id = make_message_id("", "host");
    EXPECT_TRUE(std::regex_match(id, std::regex(R"(^<\d{14}@host>$)"))) << id;
}

TEST(HeaderParse, RandomInputRoundTrips) {
    std::mt19937 rng(7);
    const std::string alphabet = std::string("ab: \t\r\n-\0F", 10) + "rom ";
    for (int round = 0; round < 20000; ++round) {
        std::string t;
        size_t n = rng() % 60;
        for (size_t i = 0; i < n; ++i) t += alphabet[rng() % alphabet.size()];
        auto m = Message::parse(t);
        std::string s = m.str();
        // Stable: a second parse/str pass changes nothing.
        auto m2 = Message::parse(s);
        ASSERT_EQ(m2.str(), s) << t;
        ASSERT_EQ(m2.headers().size(), m.headers().size()) << t;
        for (const auto &h : m.headers()) {
            ASSERT_FALSE(h.name.empty());
            ASSERT_EQ(h.raw.back(), '\n');
            ASSERT_EQ(h.raw.find("\r\n"), std::string::npos);
        }
    }
}
