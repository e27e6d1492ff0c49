// The token-response JSON reader used by the OAuth2 flow.
#include <gtest/gtest.h>

#include "smtp/oauth2.hpp"

using relay::smtp::json_field;

TEST(SmtpOAuth2Json, TopLevelFields) {
    const char *j = R"({"token_type":"Bearer", "expires_in": 3599,
        "scope": {"nested": ["access_token", "x"]},
        "access_token" : "ya29.a\u0062c\/d\"e", "ok": true})";
    std::string v;
    ASSERT_TRUE(json_field(j, "access_token", v));
    EXPECT_EQ(v, "ya29.abc/d\"e");
    ASSERT_TRUE(json_field(j, "expires_in", v));
    EXPECT_EQ(v, "3599");
    ASSERT_TRUE(json_field(j, "ok", v));
    EXPECT_EQ(v, "true");
    EXPECT_FALSE(json_field(j, "nested", v));  // only top-level keys
    EXPECT_FALSE(json_field(j, "missing", v));
}

TEST(SmtpOAuth2Json, Malformed) {
    std::string v;
    for (const char *bad : {"", "[]", "{", R"({"a")", R"({"a":})", R"({"a":"x)", "not json",
                            R"({"a":"\q"})"})
        EXPECT_FALSE(json_field(bad, "a", v)) << bad;
    EXPECT_TRUE(json_field(R"({"e":"\u00e9"})", "e", v));
    EXPECT_EQ(v, "\xc3\xa9");
}
