// util/strings.hpp: the list splitters the configuration and the tables use.
#include <gtest/gtest.h>

#include "util/strings.hpp"

using relay::util::split;
using relay::util::split_words;
using V = std::vector<std::string>;

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
