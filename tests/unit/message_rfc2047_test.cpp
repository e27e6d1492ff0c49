#include <gtest/gtest.h>

#include <random>
#include <regex>
#include <string>

#include "message/codec.hpp"
#include "message/header.hpp"
#include "message/rfc2047.hpp"

using namespace relay::message;

namespace {
std::vector<std::string> split_words(const std::string &s) {
    std::vector<std::string> out;
    size_t p = 0;
    while (p <= s.size()) {
        size_t sp = s.find(' ', p);
        if (sp == std::string::npos) sp = s.size();
        out.push_back(s.substr(p, sp - p));
        p = sp + 1;
    }
    return out;
}
}  // namespace

TEST(Rfc2047, AsciiUnchanged) {
    EXPECT_EQ(encode_header_text("Cron <root@vm> echo hi"), "Cron <root@vm> echo hi");
    EXPECT_EQ(encode_header_text(""), "");
}

TEST(Rfc2047, EncodesUtf8WithQ) {
    EXPECT_EQ(encode_header_text("S\xc3\xbc" "bject \xc3\xbcmlaut"),
              "=?UTF-8?Q?S=C3=BCbject_=C3=BCmlaut?=");
    EXPECT_EQ(decode_header_text("=?UTF-8?Q?S=C3=BCbject_=C3=BCmlaut?="), "S\xc3\xbc" "bject \xc3\xbcmlaut");
}

TEST(Rfc2047, PrefersBForMostlyNonAscii) {
    std::string greek = "\xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1";
    auto enc = encode_header_text(greek);
    EXPECT_EQ(enc.substr(0, 10), "=?UTF-8?B?");
    EXPECT_EQ(decode_header_text(enc), greek);
}

TEST(Rfc2047, WordsAreShortAndKeepCharactersWhole) {
    std::string text;
    for (int i = 0; i < 40; ++i) text += "\xe2\x82\xac caf\xc3\xa9 ";  // euro sign, e acute
    for (size_t col : {size_t(0), size_t(9), size_t(70)}) {
        auto enc = encode_header_text(text, col);
        auto words = split_words(enc);
        ASSERT_GT(words.size(), 3u);
        for (const auto &w : words) {
            EXPECT_LE(w.size(), 75u);
            std::smatch m;
            ASSERT_TRUE(std::regex_match(w, m, std::regex(R"(=\?UTF-8\?([QB])\?([^? ]+)\?=)"))) << w;
            std::string raw = m[1] == "Q" ? decode_header_text(w) : base64_decode(m[2].str());
            EXPECT_TRUE(is_valid_utf8(raw)) << w;  // no character split across words
        }
        if (col == 9) {
            EXPECT_LE(words[0].size() + 9, 76u);
        }
        EXPECT_EQ(decode_header_text(enc), text);
    }
}

TEST(Rfc2047, InvalidUtf8IsUnknown8bit) {
    auto enc = encode_header_text("caf\xe9");
    EXPECT_EQ(enc, "=?unknown-8bit?Q?caf=E9?=");
    EXPECT_EQ(decode_header_text(enc), "caf\xe9");
}

TEST(Rfc2047, EncodesLookalikesAndStripsLineBreaks) {
    auto enc = encode_header_text("=?x?Q?y?= literal");
    EXPECT_NE(enc, "=?x?Q?y?= literal");
    EXPECT_EQ(decode_header_text(enc), "=?x?Q?y?= literal");
    EXPECT_EQ(encode_header_text("a\r\nBcc: x"), "a  Bcc: x");
}

TEST(Rfc2047, FoldsCleanlyInAHeader) {
    std::string text;
    for (int i = 0; i < 30; ++i) text += "J\xc3\xbcrgen ";
    Message m;
    m.add("Subject", encode_header_text(text, 9));
    const std::string &raw = m.headers()[0].raw;
    size_t p = 0;
    while (p < raw.size()) {
        size_t nl = raw.find('\n', p);
        EXPECT_LE(nl - p, 76u) << raw;
        p = nl + 1;
    }
    EXPECT_EQ(decode_header_text(m.headers()[0].value()), text);
}

TEST(Rfc2047, DecodeCallerSubjects) {
    EXPECT_EQ(decode_header_text("=?iso-8859-1?Q?S=FCbject_=FCmlaut?="), "S\xc3\xbc" "bject \xc3\xbcmlaut");
    EXPECT_EQ(decode_header_text("=?UTF-8?B?U8O8YmplY3Q=?="), "S\xc3\xbc" "bject");
    EXPECT_EQ(decode_header_text("=?utf-8?Q?S=C3=BCbject?= =?utf-8?Q?_=C3=BCmlaut?="),
              "S\xc3\xbc" "bject \xc3\xbcmlaut");
    EXPECT_EQ(decode_header_text("[PATCH] =?UTF-8?q?Change=20f:=20=C3=BCmlaut?="),
              "[PATCH] Change f: \xc3\xbcmlaut");
    EXPECT_EQ(decode_header_text("=?UTF-8*en?Q?hi?="), "hi");
}

TEST(Rfc2047, DecodeKeepsMalformedAndSpacing) {
    EXPECT_EQ(decode_header_text("a =?utf-8?Q?x y?= b"), "a =?utf-8?Q?x y?= b");
    EXPECT_EQ(decode_header_text("=?utf-8?X?abc?="), "=?utf-8?X?abc?=");
    EXPECT_EQ(decode_header_text("=??Q?abc?="), "=??Q?abc?=");
    EXPECT_EQ(decode_header_text("x =?utf-8?Q?a?=  y"), "x a  y");
    EXPECT_EQ(decode_header_text("=?utf-8?Q?a?=\n =?utf-8?Q?b?="), "ab");
    EXPECT_EQ(decode_header_text("=?utf-8?Q?a=0D=0Ab?="), "a  b");
    EXPECT_EQ(decode_header_text("unterminated =?utf-8?Q?abc"), "unterminated =?utf-8?Q?abc");
}

TEST(Rfc2047, Phrases) {
    EXPECT_EQ(encode_phrase("Cron Daemon"), "Cron Daemon");
    EXPECT_EQ(encode_phrase("Doe, John"), "\"Doe, John\"");
    EXPECT_EQ(encode_phrase("John Q. Public"), "\"John Q. Public\"");
    EXPECT_EQ(encode_phrase("a \"b\" \\c"), "\"a \\\"b\\\" \\\\c\"");
    EXPECT_EQ(encode_phrase("J\xc3\xbcrgen"), "=?UTF-8?Q?J=C3=BCrgen?=");
    EXPECT_EQ(format_mailbox("", "root@vm"), "root@vm");
    EXPECT_EQ(format_mailbox("Cron Daemon", "root@vm"), "Cron Daemon <root@vm>");
}

TEST(Rfc2047, RandomRoundTrip) {
    std::mt19937 rng(9);
    const std::string alphabet = std::string("a =?_\xc3\xa9\xe2\x82\xac\xff", 11);
    for (int i = 0; i < 3000; ++i) {
        std::string t;
        size_t n = rng() % 120;
        for (size_t k = 0; k < n; ++k) t += alphabet[rng() % alphabet.size()];
        auto enc = encode_header_text(t, rng() % 80);
        ASSERT_TRUE(is_ascii(enc)) << t;
        for (const auto &w : split_words(enc)) ASSERT_LE(w.size(), 75u);
        ASSERT_EQ(decode_header_text(enc), t) << enc;
        (void)decode_header_text(t);
    }
}

TEST(Rfc2047, HostileInputStaysLinear) {
    std::string t;
    for (int i = 0; i < 300000; ++i) t += "=?a?Q?x";
    EXPECT_EQ(decode_header_text(t), t);
    std::string u;
    for (int i = 0; i < 100000; ++i) u += "=?utf-8?Q?=C3=A9?= ";
    EXPECT_EQ(decode_header_text(u).size(), 200000u + 1);
}
