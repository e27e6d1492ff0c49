// The mail transaction's command lines and the DATA encoding (esmtp.hpp).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "smtp/esmtp.hpp"
#include "smtp/idna.hpp"

using namespace relay::smtp;

namespace {

Capabilities all_caps() {
    return Capabilities::parse({"PIPELINING", "SIZE 10240000", "8BITMIME", "DSN", "SMTPUTF8",
                                "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN"});
}

// What a server does to DATA: strip one leading dot per line, stop at ".".
std::string unstuff(const std::string &wire, bool &terminated) {
    std::string out;
    terminated = false;
    size_t pos = 0;
    while (pos < wire.size()) {
        size_t eol = wire.find("\r\n", pos);
        if (eol == std::string::npos) break;
        std::string line = wire.substr(pos, eol - pos);
        pos = eol + 2;
        if (line == ".") {
            terminated = pos == wire.size();
            return out;
        }
        if (!line.empty() && line[0] == '.') line.erase(0, 1);
        out += line + "\r\n";
    }
    return out;
}

}  // namespace

TEST(SmtpEsmtp, CapabilitiesFromEhloKeywords) {
    Capabilities c = all_caps();
    EXPECT_TRUE(c.pipelining);
    EXPECT_TRUE(c.eight_bit_mime);
    EXPECT_TRUE(c.dsn);
    EXPECT_TRUE(c.smtputf8);
    EXPECT_TRUE(c.size);
    EXPECT_EQ(c.size_limit, 10240000u);

    Capabilities none = Capabilities::parse({"PIPELININGX", "DSNX", "X-SIZE 5"});
    EXPECT_FALSE(none.pipelining);
    EXPECT_FALSE(none.dsn);
    EXPECT_FALSE(none.size);

    // SIZE without a number, lower case keywords, "SIZE=" (old servers).
    Capabilities odd = Capabilities::parse({"size", "pipelining", "8bitmime"});
    EXPECT_TRUE(odd.size);
    EXPECT_EQ(odd.size_limit, 0u);
    EXPECT_TRUE(odd.pipelining);
    EXPECT_TRUE(odd.eight_bit_mime);
    EXPECT_EQ(Capabilities::parse({"SIZE=2048"}).size_limit, 2048u);
    EXPECT_EQ(Capabilities::parse({"SIZE 12x"}).size_limit, 0u);
}

TEST(SmtpEsmtp, MailFromParametersOnlyWhenOffered) {
    TxEnvelope env{"alice@example.net", 2170, true, false, "HDRS", "id 42+x"};
    EXPECT_EQ(mail_command(env, all_caps(), false),
              "MAIL FROM:<alice@example.net> SIZE=2170 BODY=8BITMIME RET=HDRS ENVID=id+2042+2Bx");
    EXPECT_EQ(mail_command(env, Capabilities{}, false), "MAIL FROM:<alice@example.net>");
    env.eight_bit = false;
    env.ret.clear();
    env.envid.clear();
    EXPECT_EQ(mail_command(env, all_caps(), true), "MAIL FROM:<alice@example.net> SIZE=2170 SMTPUTF8");
    TxEnvelope bounce{"", 10, false, false, "", ""};
    EXPECT_EQ(mail_command(bounce, Capabilities{}, false), "MAIL FROM:<>");
}

TEST(SmtpEsmtp, RcptToDsnParameters) {
    Capabilities c = all_caps();
    EXPECT_EQ(rcpt_command("bob@example.org", "FAILURE,DELAY", "bob+x@example.org", c),
              "RCPT TO:<bob@example.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob+2Bx@example.org");
    EXPECT_EQ(rcpt_command("bob@example.org", "NEVER", "", c), "RCPT TO:<bob@example.org> NOTIFY=NEVER");
    // An unqualified or non-ASCII original address is no rfc822 ORCPT.
    EXPECT_EQ(rcpt_command("root@example.org", "", "root", c), "RCPT TO:<root@example.org>");
    EXPECT_EQ(rcpt_command("j@example.org", "", "jörg@example.org", c), "RCPT TO:<j@example.org>");
    // Nothing that is not a NOTIFY list reaches the command line.
    EXPECT_EQ(rcpt_command("b@example.org", "FAILURE\r\nRSET", "", c), "RCPT TO:<b@example.org>");
    // Without DSN no parameter at all.
    EXPECT_EQ(rcpt_command("bob@example.org", "FAILURE", "bob@example.org", Capabilities{}),
              "RCPT TO:<bob@example.org>");
}

TEST(SmtpEsmtp, Smtputf8WhenAnAddressOrTheHeadersNeedIt) {
    Capabilities c = all_caps();
    TxEnvelope env{"a@example.net", 1, false, false, "", ""};
    EXPECT_FALSE(wants_smtputf8(env, {"b@example.org"}, c));
    EXPECT_TRUE(wants_smtputf8(env, {"b@example.org", "jörg@example.org"}, c));
    env.smtputf8 = true;
    EXPECT_TRUE(wants_smtputf8(env, {"b@example.org"}, c));
    EXPECT_FALSE(wants_smtputf8(env, {"jörg@example.org"}, Capabilities{}));
    env.smtputf8 = false;
    env.sender = "jörg@example.net";
    EXPECT_TRUE(wants_smtputf8(env, {"b@example.org"}, c));
}

TEST(SmtpEsmtp, DotStuffingAcrossChunkBoundaries) {
    const std::string text = ".first\r\nmiddle\r\n..two\r\n.\r\nend.\r\n";
    // Every split of the input into two chunks gives the same wire form.
    std::string expected;
    {
        DotStuffer s;
        s.put(text, expected);
        s.finish(expected);
    }
    EXPECT_EQ(expected, "..first\r\nmiddle\r\n...two\r\n..\r\nend.\r\n.\r\n");
    for (size_t cut = 0; cut <= text.size(); ++cut) {
        DotStuffer s;
        std::string out;
        s.put(std::string_view(text).substr(0, cut), out);
        s.put(std::string_view(text).substr(cut), out);
        s.finish(out);
        EXPECT_EQ(out, expected) << "split at " << cut;
    }
    DotStuffer empty;
    std::string out;
    empty.finish(out);
    EXPECT_EQ(out, ".\r\n");
}

TEST(SmtpEsmtp, DotStuffingRoundTripsRandomText) {
    std::mt19937 rng(20261201);
    const char alphabet[] = {'.', '.', 'a', ' '};
    for (int round = 0; round < 500; ++round) {
        // Random CRLF-only lines, as MessageReader produces them.
        std::string text;
        int lines = static_cast<int>(rng() % 12);
        for (int l = 0; l < lines; ++l) {
            int len = static_cast<int>(rng() % 6);
            for (int k = 0; k < len; ++k) {
                char ch = alphabet[rng() % 4];
                text += ch;
            }
            text += "\r\n";
        }
        DotStuffer s;
        std::string wire;
        size_t pos = 0;
        while (pos < text.size()) {
            size_t n = 1 + rng() % 7;
            s.put(std::string_view(text).substr(pos, n), wire);
            pos += n;
        }
        s.finish(wire);
        bool terminated = false;
        EXPECT_EQ(unstuff(wire, terminated), text);
        EXPECT_TRUE(terminated) << "the final dot must end the data and nothing may follow";
    }
}

// ---- idna.hpp (libidn2 at run time) ----

TEST(SmtpIdna, DomainsBecomeALabels) {
    auto a = domain_to_ascii("b\xc3\xbc" "cher.example");  // "bücher.example"
    ASSERT_TRUE(a) << a.error().message;
    EXPECT_EQ(*a, "xn--bcher-kva.example");
    auto same = domain_to_ascii("example.org");
    ASSERT_TRUE(same);
    EXPECT_EQ(*same, "example.org");
    // Upper case is mapped (UTS #46), as for any IDN lookup.
    auto upper = domain_to_ascii("B\xc3\x9c" "CHER.example");  // "BÜCHER.example"
    ASSERT_TRUE(upper) << upper.error().message;
    EXPECT_EQ(*upper, "xn--bcher-kva.example");
}

TEST(SmtpIdna, OnlyTheDomainIsConverted) {
    auto a = address_to_ascii("bob@b\xc3\xbc" "cher.example");
    ASSERT_TRUE(a) << a.error().message;
    EXPECT_EQ(*a, "bob@xn--bcher-kva.example");
    EXPECT_FALSE(address_to_ascii("j\xc3\xb6rg@example.org"));  // the local part has no ASCII form
    EXPECT_FALSE(address_to_ascii("no-at-sign"));
    EXPECT_FALSE(domain_to_ascii("a\xff" "b.example"));  // not UTF-8
}
