// guard_toml_text: toml++ 3.3 is only ever given ASCII, and the strings
// of a valid document keep their values.
#include <gtest/gtest.h>
#include <toml++/toml.h>

#include "config/config.hpp"
#include "config/toml_text.hpp"

using relay::config::guard_toml_text;

namespace {

std::string guarded(std::string_view s) {
    auto r = guard_toml_text(s, "t.toml");
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : std::string();
}

std::string refused(std::string_view s) {
    auto r = guard_toml_text(s, "t.toml");
    EXPECT_FALSE(r.ok()) << "accepted: " << s;
    return r.ok() ? std::string() : r.error().message;
}

bool ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c >= 0x80) return false;
    return true;
}

std::string str(const toml::table &t, std::string_view key) {
    return t[key].value_or(std::string("<missing>"));
}

toml::table parse(const std::string &s) { return toml::parse(std::string_view(s), std::string_view("t")); }

}  // namespace

TEST(TomlText, AsciiTextIsUnchanged) {
    const std::string s =
        "# comment\nmyhostname = \"h.example\" # x\n[smtp]\na = 'C:\\dir'\nb = \"\"\"x\\\n  y\"\"\"\n";
    EXPECT_EQ(guarded(s), s);
}

TEST(TomlText, StringsKeepTheirValues) {
    // Every kind of string with non-ASCII characters, including the escape
    // and quote rules of each; toml++ parses the guarded text to the values
    // TOML gives the original.
    const std::string doc =
        "# caf\xc3\xa9 \xf0\x9f\x93\xa7\n"
        "b = \"h\xc3\xa9 \\\" \\\\ \\u00e9\" # \xc3\xa9\n"
        "l = 'C:\\d\xc3\xa9r \"q\"'\n"
        "mb = \"\"\"\n\xc3\xa9\n\"\"y\xc2\xa7\"\"\"\"\"\n"
        "ml = '''\n\\\xc3\xa9 \"\"\" ''x'''''\n"
        "'k\xc3\xa9y' = \"v\"\n"
        "\"q\xc3\xa9\" = 'w'\n";
    const std::string out = guarded(doc);
    EXPECT_TRUE(ascii(out)) << out;
    auto t = parse(out);
    EXPECT_EQ(str(t, "b"), "h\xc3\xa9 \" \\ \xc3\xa9");
    EXPECT_EQ(str(t, "l"), "C:\\d\xc3\xa9r \"q\"");
    EXPECT_EQ(str(t, "mb"), "\xc3\xa9\n\"\"y\xc2\xa7\"\"");
    EXPECT_EQ(str(t, "ml"), "\\\xc3\xa9 \"\"\" ''x''");
    EXPECT_EQ(str(t, "k\xc3\xa9y"), "v");
    EXPECT_EQ(str(t, "q\xc3\xa9"), "w");
    // Line numbers survive: an error on line 12 is reported there.
    try {
        parse(guarded(doc + "\nbad = \n"));
        ADD_FAILURE() << "parsed";
    } catch (const toml::parse_error &e) {
        EXPECT_EQ(e.source().begin.line, 12u);
    }
}

TEST(TomlText, TheLineEndingBackslashCase) {
    // The document of toml++ issue 190, which reached its unreachable
    // branch: valid TOML whose value is "\u00A7 x".
    const std::string out = guarded("s = \"\"\"\\\n  \xc2\xa7 x\"\"\"\n");
    EXPECT_EQ(out, "s = \"\"\"\\\n  \\u00A7 x\"\"\"\n");
    EXPECT_EQ(str(parse(out), "s"), "\xc2\xa7 x");
}

TEST(TomlText, RefusesNonAsciiOutsideStringsWithTheLine) {
    EXPECT_EQ(refused("a = 1\nb = \xc3\xa9\n"),
              "t.toml:2: non-ASCII character outside a quoted string or a comment");
    // The inputs libFuzzer found: a combining mark alone, and a character
    // inside a bare value.
    EXPECT_NE(refused("\xcc\xaa"), "");
    EXPECT_NE(refused("k\xc3\xa9y = 1\n"), "");
    EXPECT_EQ(refused("a = \"x\" \xc2\xa7\n"),
              "t.toml:1: non-ASCII character outside a quoted string or a comment");
    EXPECT_EQ(refused("a = \"\"\"x\ny\"\"\"\xc2\xa7\n"),
              "t.toml:2: non-ASCII character outside a quoted string or a comment");
    EXPECT_EQ(refused("a = \"\\\\\" \xc3\xa9\n"),
              "t.toml:1: non-ASCII character outside a quoted string or a comment");
}

TEST(TomlText, RefusesWhatToml10Refuses) {
    EXPECT_EQ(refused("s = \"\\\xc3\xa9\"\n"), "t.toml:1: invalid escape sequence in a string");
    EXPECT_EQ(refused("s = \"\xc3\"\n"), "t.toml:1: invalid UTF-8");
    EXPECT_EQ(refused("# \xed\xa0\x80 surrogate\n"), "t.toml:1: invalid UTF-8");
    EXPECT_EQ(refused("s = '\xc0\xaf'\n"), "t.toml:1: invalid UTF-8");
}

TEST(TomlText, UnclosedStringsStayInvalid) {
    // Converting a literal string must not close what the user left open.
    for (std::string doc : {"s = '''ab\xc3\xa9''", "s = 'ab\xc3\xa9\nt = 1\n", "s = \"\xc3\xa9"}) {
        const std::string out = guarded(doc);
        EXPECT_TRUE(ascii(out));
        EXPECT_THROW(parse(out), toml::parse_error) << out;
    }
}

TEST(TomlText, ConfigParseUsesTheGuard) {
    auto r = relay::config::parse("[smtp]\nrelayhost = \xc2\xa0\"x\"\n", "relay.toml");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message,
              "relay.toml:2: non-ASCII character outside a quoted string or a comment");
    auto ok = relay::config::parse("# r\xc3\xa9lais\n[smtp]\nusername = 'j\xc3\xb6rg'\n", "relay.toml");
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(ok->smtp.username, "j\xc3\xb6rg");
}
