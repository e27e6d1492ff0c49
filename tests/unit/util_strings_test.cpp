// util/strings.hpp: the list splitters the configuration and the tables use, hex and xtext.
#include <gtest/gtest.h>

#include "util/strings.hpp"

using relay::util::split;
using relay::util::split_words;
using V = std::vector<std::string>;
namespace util = relay::util;

TEST(UtilStrings, SplitWordsDropsEmptyWords) {
    EXPECT_EQ(split_words("a, b  c,,\td"), (V{"a", "b", "c", "d"}));
    EXPECT_EQ(split_words("[mail.example.net]:587,[backup.example.net]:587"),
              (V{"[mail.example.net]:587", "[backup.example.net]:587"}));
    EXPECT_EQ(split_words(" , \t"), V{});
    EXPECT_EQ(split_words(""), V{});
}

TEST(UtilStrings, SplitKeepsEmptyFields) {
    EXPECT_EQ(split("a,,b", ','), (V{"a", "", "b"}));
    EXPECT_EQ(split("", ','), V{""});
}

TEST(UtilStrings, HexDigitsAndXtext) {
    EXPECT_EQ(util::hex_value('0'), 0);
    EXPECT_EQ(util::hex_value('f'), 15);
    EXPECT_EQ(util::hex_value('C'), 12);
    EXPECT_EQ(util::hex_value('g'), -1);
    std::string out = "x";
    util::append_hex(out, '%', 0x2b);
    util::append_hex(out, '=', 0xff);
    EXPECT_EQ(out, "x%2B=FF");
    // xtext: '+', '=', blanks and non-ASCII are encoded, and decode back.
    const std::string text = "a+b=c d\xc3\xa9";
    EXPECT_EQ(util::xtext_encode(text), "a+2Bb+3Dc+20d+C3+A9");
    EXPECT_EQ(util::xtext_decode(util::xtext_encode(text)), text);
    EXPECT_EQ(util::xtext_decode("+4"), "+4");  // cut short: kept as it is
}
