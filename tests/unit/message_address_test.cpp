#include <gtest/gtest.h>

#include <random>
#include <string>

#include "message/address.hpp"

using namespace relay::message;

namespace {

std::vector<std::string> addrs(const ParsedList &l) {
    std::vector<std::string> v;
    for (const auto &a : l.addresses) v.push_back(a.address);
    return v;
}

using V = std::vector<std::string>;

// Every reported range must cover exactly the text the address came from
// (modulo folding inside quoted strings), and never a line break.
void check_ranges(std::string_view text, const ParsedList &l) {
    size_t last = 0;
    for (const auto &a : l.addresses) {
        ASSERT_LE(a.begin, a.end);
        ASSERT_LE(a.end, text.size());
        ASSERT_GE(a.begin, last);
        last = a.end;
        for (char c : a.address) {
            ASSERT_NE(c, '\r');
            ASSERT_NE(c, '\n');
            ASSERT_NE(c, '\0');
        }
        for (char c : a.display) {
            ASSERT_NE(c, '\r');
            ASSERT_NE(c, '\n');
            ASSERT_NE(c, '\0');
        }
    }
}

}  // namespace

TEST(SplitAddress, Basic) {
    Address a;
    ASSERT_TRUE(split_address("john@example.net", a));
    EXPECT_EQ(a.local, "john");
    EXPECT_EQ(a.domain, "example.net");
    EXPECT_TRUE(a.has_at);
    EXPECT_EQ(a.str(), "john@example.net");
}

TEST(SplitAddress, BareLocalAndEmptyDomain) {
    Address a;
    ASSERT_TRUE(split_address("root", a));
    EXPECT_EQ(a.local, "root");
    EXPECT_TRUE(a.domain.empty());
    EXPECT_FALSE(a.has_at);
    EXPECT_EQ(a.str(), "root");

    ASSERT_TRUE(split_address("root@", a));
    EXPECT_EQ(a.local, "root");
    EXPECT_TRUE(a.domain.empty());
    EXPECT_TRUE(a.has_at);
    EXPECT_EQ(a.str(), "root");
}

TEST(SplitAddress, NullSender) {
    Address a;
    a.local = "junk";
    ASSERT_TRUE(split_address("", a));
    EXPECT_TRUE(a.local.empty());
    EXPECT_TRUE(a.domain.empty());
    EXPECT_FALSE(a.has_at);
}

TEST(SplitAddress, LastAtOutsideQuotes) {
    Address a;
    ASSERT_TRUE(split_address("\"john@doe\"@example.net", a));
    EXPECT_EQ(a.local, "\"john@doe\"");
    EXPECT_EQ(a.domain, "example.net");
    ASSERT_TRUE(split_address("a@b@c", a));
    EXPECT_EQ(a.local, "a@b");
    EXPECT_EQ(a.domain, "c");
    ASSERT_TRUE(split_address("\"a\\\"@b\"", a));  // escaped quote, '@' inside quotes
    EXPECT_EQ(a.local, "\"a\\\"@b\"");
    EXPECT_FALSE(a.has_at);
}

TEST(SplitAddress, Rejects) {
    Address a;
    EXPECT_FALSE(split_address("a\n@b", a));
    EXPECT_FALSE(split_address("a@b\r", a));
    EXPECT_FALSE(split_address(std::string_view("a\0b@c", 5), a));
    EXPECT_FALSE(split_address("<a@b>", a));
    EXPECT_FALSE(split_address("a>@b", a));
    EXPECT_FALSE(split_address("\"a@b", a));
    EXPECT_FALSE(split_address("a@b\\", a));
    EXPECT_FALSE(split_address("\"a\\\n\"@b", a));
}

TEST(AddressList, SimpleList) {
    auto l = parse_address_list("a@x, b@y,c@z");
    EXPECT_EQ(addrs(l), (V{"a@x", "b@y", "c@z"}));
    EXPECT_TRUE(l.errors.empty());
}

TEST(AddressList, ExactRanges) {
    std::string t = "Bob <b@example.org>, \"Doe, J\" <j@x> (x), root (Cron Daemon)";
    auto l = parse_address_list(t);
    ASSERT_EQ(l.addresses.size(), 3u);
    for (const auto &a : l.addresses) EXPECT_EQ(t.substr(a.begin, a.end - a.begin), a.address);
    EXPECT_EQ(l.addresses[0].begin, 5u);
    EXPECT_EQ(l.addresses[0].display, "Bob");
    EXPECT_EQ(l.addresses[1].display, "Doe, J");
    EXPECT_EQ(l.addresses[2].address, "root");
    EXPECT_EQ(l.addresses[2].display, "Cron Daemon");
}

TEST(AddressList, CommentGivesDisplay) {
    auto l = parse_address_list("root (Cron Daemon)");
    ASSERT_EQ(l.addresses.size(), 1u);
    EXPECT_EQ(l.addresses[0].address, "root");
    EXPECT_EQ(l.addresses[0].display, "Cron Daemon");
    EXPECT_EQ(l.addresses[0].begin, 0u);
    EXPECT_EQ(l.addresses[0].end, 4u);

    l = parse_address_list("(Root) <root@x>");
    ASSERT_EQ(l.addresses.size(), 1u);
    EXPECT_EQ(l.addresses[0].display, "Root");
    l = parse_address_list("  Real Name <r@x> (ignored)");
    ASSERT_EQ(l.addresses.size(), 1u);
    EXPECT_EQ(l.addresses[0].display, "Real Name");
}

TEST(AddressList, NestedCommentsAndQuotedPairs) {
    auto l = parse_address_list("root (Cron (the \\) daemon) x), b@y");
    EXPECT_EQ(addrs(l), (V{"root", "b@y"}));
    EXPECT_EQ(l.addresses[0].display, "Cron (the ) daemon) x");
}

TEST(AddressList, QuotedDisplayAndLocal) {
    auto l = parse_address_list("\"Smith, John \\\"JS\\\"\" <\"john smith\"@example.net>");
    ASSERT_EQ(l.addresses.size(), 1u);
    EXPECT_EQ(l.addresses[0].display, "Smith, John \"JS\"");
    EXPECT_EQ(l.addresses[0].address, "\"john smith\"@example.net");
}

TEST(AddressList, Groups) {
    auto l = parse_address_list("undisclosed-recipients:;");
    EXPECT_TRUE(l.addresses.empty());
    EXPECT_TRUE(l.errors.empty());

    l = parse_address_list("team: a@x, Bee <b@y>;, c@z");
    EXPECT_EQ(addrs(l), (V{"a@x", "b@y", "c@z"}));
    EXPECT_TRUE(l.errors.empty());
    EXPECT_EQ(l.addresses[1].display, "Bee");

    // No ';' at the end: forgiven.
    l = parse_address_list("team: a@x, b@y");
    EXPECT_EQ(addrs(l), (V{"a@x", "b@y"}));

    l = parse_address_list("\"Quoted Team\" : a@x ; b@y");
    EXPECT_EQ(addrs(l), (V{"a@x", "b@y"}));
}

TEST(AddressList, BareLocalPartsAndEmptyDomain) {
    auto l = parse_address_list("root, rcpt2, systemd <root@>");
    EXPECT_EQ(addrs(l), (V{"root", "rcpt2", "root@"}));
    EXPECT_EQ(l.addresses[2].display, "systemd");
}

TEST(AddressList, SetEscapeIsAnErrorButRootSurvives) {
    std::string t = "root, set escape";
    auto l = parse_address_list(t);
    EXPECT_EQ(addrs(l), (V{"root"}));
    ASSERT_EQ(l.errors.size(), 1u);
    EXPECT_NE(l.errors[0].find("set escape"), std::string::npos) << l.errors[0];
}

TEST(AddressList, EightBitDisplayName) {
    std::string t = "J\xc3\xbcrgen M\xc3\xbcller <jm@example.de>, \xe9t\xe9 <e@x>";
    auto l = parse_address_list(t);
    ASSERT_EQ(l.addresses.size(), 2u);
    EXPECT_EQ(l.addresses[0].display, "J\xc3\xbcrgen M\xc3\xbcller");
    EXPECT_EQ(l.addresses[1].display, "\xe9t\xe9");
    EXPECT_TRUE(l.errors.empty());
}

TEST(AddressList, FoldedInput) {
    std::string t = "Bob <bob@example.org>,\r\n\tAlice Dev\n <alice@example.net>, \"Fo\r\n lded\" <f@x>";
    auto l = parse_address_list(t);
    EXPECT_EQ(addrs(l), (V{"bob@example.org", "alice@example.net", "f@x"}));
    EXPECT_EQ(l.addresses[1].display, "Alice Dev");
    EXPECT_EQ(l.addresses[2].display, "Fo lded");
    check_ranges(t, l);
}

TEST(AddressList, FoldedQuotedLocalPartLosesLineBreak) {
    std::string t = "\"a\r\n b\"@x";
    auto l = parse_address_list(t);
    ASSERT_EQ(l.addresses.size(), 1u);
    EXPECT_EQ(l.addresses[0].address, "\"a b\"@x");
    EXPECT_EQ(l.addresses[0].begin, 0u);
    EXPECT_EQ(l.addresses[0].end, t.size());
}

TEST(AddressList, ObsoleteSyntax) {
    // CFWS around dots, obs-route, empty list elements, phrase with dots.
    auto l = parse_address_list(", john . doe @ example . com ,, <@r1,@r2:u@d>, John Q. Public <jqp@x>,");
    EXPECT_EQ(addrs(l), (V{"john.doe@example.com", "u@d", "jqp@x"}));
    EXPECT_TRUE(l.errors.empty());
    EXPECT_EQ(l.addresses[2].display, "John Q. Public");
    // dotted local parts real mailers accept
    l = parse_address_list("a..b@docomo.ne.jp, .x.@y");
    EXPECT_EQ(addrs(l), (V{"a..b@docomo.ne.jp", ".x.@y"}));
}

TEST(AddressList, DomainLiteralAndNullAddress) {
    auto l = parse_address_list("postmaster@[192.0.2.1], <>");
    ASSERT_EQ(l.addresses.size(), 2u);
    EXPECT_EQ(l.addresses[0].address, "postmaster@[192.0.2.1]");
    EXPECT_EQ(l.addresses[1].address, "");
    EXPECT_EQ(l.addresses[1].begin, l.addresses[1].end);
}

TEST(AddressList, SemicolonSeparatorAndMissingBracket) {
    auto l = parse_address_list("a@x; b@y");
    EXPECT_EQ(addrs(l), (V{"a@x", "b@y"}));
    l = parse_address_list("Name <a@x, b@y");
    EXPECT_EQ(addrs(l), (V{"a@x", "b@y"}));
}

TEST(AddressList, Errors) {
    struct Case {
        const char *text;
        V good;
        size_t errors;
    } cases[] = {
        {"a@x, \"unterminated@y", {"a@x"}, 1},
        {"a@x, (unterminated comment", {"a@x"}, 1},
        {"a@x, b@[1.2.3.4", {"a@x"}, 1},
        {"a@b@c, d@e", {"d@e"}, 1},
        {"@x, d@e", {"d@e"}, 1},
        {"john doe@x", {}, 1},
        {"a@exa mple.com", {}, 1},
        {"a@x>, b@y", {"b@y"}, 1},
        {"a) b, c@d", {"c@d"}, 1},
        {"A <a@x> B, c@d", {"c@d"}, 1},
        {"A <a@x> <b@y>", {}, 1},
        {"<@r1,@r2 u@d>", {}, 1},
        {"<a@x:y>", {}, 1},
        {"<a@<b>>", {}, 1},
        {"\"x\"\"y\"@z", {}, 1},
        {"a@\"quoted\"", {}, 1},
        {"a@[1.2.3.4]x", {}, 1},
    };
    for (const auto &c : cases) {
        auto l = parse_address_list(c.text);
        EXPECT_EQ(addrs(l), c.good) << c.text;
        EXPECT_EQ(l.errors.size(), c.errors) << c.text;
        check_ranges(c.text, l);
    }
}

TEST(AddressList, ControlCharactersNeverReturned) {
    std::string nul("a\0b@x, c@y", 10);
    auto l = parse_address_list(nul);
    EXPECT_EQ(addrs(l), (V{"c@y"}));
    EXPECT_EQ(l.errors.size(), 1u);

    l = parse_address_list("\"a\x01\"@x, Bell\x07 <b@x>, c@y");
    EXPECT_EQ(addrs(l), (V{"c@y"}));
    EXPECT_EQ(l.errors.size(), 2u);

    // A bare LF between addresses is only white space.
    l = parse_address_list("a@x\nb@y");  // two words: an error, not two addresses
    EXPECT_TRUE(l.addresses.empty());
    EXPECT_EQ(l.errors.size(), 1u);
    l = parse_address_list("a@x,\nb@y");
    EXPECT_EQ(addrs(l), (V{"a@x", "b@y"}));
}

TEST(AddressList, ErrorMessagesAreOneBoundedLine) {
    std::string t = "x y\n z" + std::string(500, 'q') + std::string("\x01", 1);
    auto l = parse_address_list(t);
    ASSERT_EQ(l.errors.size(), 1u);
    EXPECT_EQ(l.errors[0].find('\n'), std::string::npos);
    EXPECT_EQ(l.errors[0].find('\x01'), std::string::npos);
    EXPECT_LT(l.errors[0].size(), 200u);
}

TEST(AddressList, EmptyAndCommentOnly) {
    EXPECT_TRUE(parse_address_list("").addresses.empty());
    EXPECT_TRUE(parse_address_list("").errors.empty());
    auto l = parse_address_list(" (nobody) , ,");
    EXPECT_TRUE(l.addresses.empty());
    EXPECT_TRUE(l.errors.empty());
}

TEST(RewriteAddressList, ReplacesOnlyRanges) {
    std::string t = "\"Doe, J\" <j> (c), root (Cron Daemon),\n\tteam: a@x, b;, set escape";
    auto out = rewrite_address_list(t, [](const std::string &a) {
        return a.find('@') == std::string::npos ? a + "@example.net" : a;
    });
    EXPECT_EQ(out,
              "\"Doe, J\" <j@example.net> (c), root@example.net (Cron Daemon),\n\tteam: a@x, "
              "b@example.net;, set escape");
}

TEST(RewriteAddressList, NullAddressAndNoAddresses) {
    EXPECT_EQ(rewrite_address_list("<>", [](const std::string &a) { return a + "X"; }), "<X>");
    EXPECT_EQ(rewrite_address_list("undisclosed-recipients:;",
                                   [](const std::string &) { return std::string("boom"); }),
              "undisclosed-recipients:;");
}

TEST(RewriteAddressList, RefusesLineBreaksInReplacement) {
    auto out = rewrite_address_list("a@x, b@y", [](const std::string &a) {
        return a == "a@x" ? std::string("evil\r\nBcc: victim@z") : std::string("B@Y");
    });
    EXPECT_EQ(out, "a@x, B@Y");
}

TEST(RecipientArgument, CronCommaList) {
    auto l = parse_recipient_argument("ops@example.com,dev@example.org");
    EXPECT_EQ(addrs(l), (V{"ops@example.com", "dev@example.org"}));
    l = parse_recipient_argument("Ops Team <ops@example.com>, \"Dev, X\" <dev@example.org>,root");
    EXPECT_EQ(addrs(l), (V{"ops@example.com", "dev@example.org", "root"}));
    EXPECT_EQ(l.addresses[1].display, "Dev, X");
    EXPECT_TRUE(l.errors.empty());
}

TEST(RecipientArgument, RejectsLineBreaksAndNull) {
    auto l = parse_recipient_argument("a@x\nBcc: b@y");
    EXPECT_TRUE(l.addresses.empty());
    EXPECT_EQ(l.errors.size(), 1u);
    l = parse_recipient_argument(std::string("a@x\0", 4));
    EXPECT_TRUE(l.addresses.empty());
    l = parse_recipient_argument("<>, a@x");
    EXPECT_EQ(addrs(l), (V{"a@x"}));
    EXPECT_EQ(l.errors.size(), 1u);
    l = parse_recipient_argument("set escape");
    EXPECT_TRUE(l.addresses.empty());
    EXPECT_EQ(l.errors.size(), 1u);
}

// Random bytes drawn from an alphabet rich in syntax: the parser must stay
// total, keep its invariants, and rewriting with the identity must give the
// input back.
TEST(AddressList, RandomInputKeepsInvariants) {
    using namespace std::string_literals;
    const std::string alphabet = "ab@.,;:<>()[]\"\\ \t\r\n\x01\x80\xff\0"s;
    std::mt19937 rng(12345);
    for (int round = 0; round < 20000; ++round) {
        std::string t;
        size_t n = rng() % 40;
        for (size_t i = 0; i < n; ++i) t += alphabet[rng() % alphabet.size()];
        auto l = parse_address_list(t);
        check_ranges(t, l);
        // Where each range holds exactly its address, rewriting with the
        // identity must give the input back byte for byte.
        bool exact = true;
        for (const auto &a : l.addresses)
            exact = exact && t.compare(a.begin, a.end - a.begin, a.address) == 0;
        if (exact) {
            ASSERT_EQ(rewrite_address_list(t, [](const std::string &a) { return a; }), t) << t;
        }
        auto r = parse_recipient_argument(t);
        for (const auto &a : r.addresses) ASSERT_FALSE(a.address.empty());
    }
}

TEST(AddressList, LargeInputIsLinear) {
    std::string t;
    for (int i = 0; i < 100000; ++i) t += "user" + std::to_string(i) + "@example.net, ";
    t += std::string(200000, '(');  // deep unterminated comment
    auto l = parse_address_list(t);
    EXPECT_EQ(l.addresses.size(), 100000u);
    EXPECT_EQ(l.errors.size(), 1u);
    std::string lt(300000, '<');
    l = parse_address_list(lt);
    EXPECT_TRUE(l.addresses.empty());
    EXPECT_EQ(l.errors.size(), 1u);
}
