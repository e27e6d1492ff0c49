#include <gtest/gtest.h>

#include <random>
#include <string>

#include "message/codec.hpp"

using namespace relay::message;

TEST(Base64, Rfc4648Vectors) {
    EXPECT_EQ(base64_encode("", 0), "");
    EXPECT_EQ(base64_encode("f", 0), "Zg==");
    EXPECT_EQ(base64_encode("fo", 0), "Zm8=");
    EXPECT_EQ(base64_encode("foo", 0), "Zm9v");
    EXPECT_EQ(base64_encode("foob", 0), "Zm9vYg==");
    EXPECT_EQ(base64_encode("fooba", 0), "Zm9vYmE=");
    EXPECT_EQ(base64_encode("foobar", 0), "Zm9vYmFy");
    EXPECT_EQ(base64_decode("Zm9vYmFy"), "foobar");
    EXPECT_EQ(base64_decode("Zm9v\nYmE="), "fooba");
    EXPECT_EQ(base64_decode("Zm9vYg=="), "foob");
    EXPECT_EQ(base64_decode("Z m 9 v !!"), "foo");
}

TEST(Base64, LineWrapping) {
    std::string data(200, '\xff');
    auto enc = base64_encode(data);
    EXPECT_EQ(longest_line(enc), 76u);
    EXPECT_EQ(enc.back(), '\n');
    EXPECT_EQ(base64_decode(enc), data);
    EXPECT_EQ(base64_encode("foo", 4), "Zm9v\n");
}

TEST(Base64, RandomRoundTrip) {
    std::mt19937 rng(3);
    for (int i = 0; i < 500; ++i) {
        std::string d;
        size_t n = rng() % 300;
        for (size_t k = 0; k < n; ++k) d += static_cast<char>(rng());
        ASSERT_EQ(base64_decode(base64_encode(d)), d);
        ASSERT_EQ(base64_decode(base64_encode(d, 0)), d);
    }
}

TEST(QuotedPrintable, Basics) {
    EXPECT_EQ(qp_encode("caf\xc3\xa9 = ok\n"), "caf=C3=A9 =3D ok\n");
    EXPECT_EQ(qp_encode("trailing \nspace\t\n"), "trailing=20\nspace=09\n");
    EXPECT_EQ(qp_encode("From here\n.\n..\n"), "=46rom here\n=2E\n..\n");
    EXPECT_EQ(qp_encode("no newline"), "no newline");
    EXPECT_EQ(qp_decode("caf=C3=A9 =3d ok=\n still\n"), "caf\xc3\xa9 = ok still\n");
    EXPECT_EQ(qp_decode("bad =ZZ and =\r\nsoft"), "bad =ZZ and soft");
    EXPECT_EQ(qp_decode("ws at end   \nx"), "ws at end\nx");
    EXPECT_EQ(qp_decode("end ="), "end ");
}

TEST(QuotedPrintable, LongLinesAreSoftBroken) {
    std::string line(1500, 'x');
    auto enc = qp_encode(line + "\n" + std::string(300, '\xe9') + "\n");
    EXPECT_LE(longest_line(enc), 76u);
    EXPECT_EQ(qp_decode(enc), line + "\n" + std::string(300, '\xe9') + "\n");
}

TEST(QuotedPrintable, RandomRoundTrip) {
    std::mt19937 rng(4);
    const std::string alphabet("ab =\t\n\r.F\x80\xff\0", 12);
    for (int i = 0; i < 3000; ++i) {
        std::string d;
        size_t n = rng() % 400;
        for (size_t k = 0; k < n; ++k) d += alphabet[rng() % alphabet.size()];
        auto enc = qp_encode(d);
        ASSERT_LE(longest_line(enc), 76u) << d;
        ASSERT_TRUE(is_ascii(enc));
        ASSERT_EQ(qp_decode(enc), d);
    }
}

TEST(Utf8, Validation) {
    EXPECT_TRUE(is_valid_utf8("plain"));
    EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    EXPECT_FALSE(is_valid_utf8("caf\xe9"));            // latin-1
    EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));           // overlong
    EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));       // overlong
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));       // surrogate
    EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));   // > U+10FFFF
    EXPECT_FALSE(is_valid_utf8("\xe2\x82"));           // truncated
    EXPECT_TRUE(is_ascii("abc"));
    EXPECT_FALSE(is_ascii("\x80"));
}

TEST(LongestLine, Counts) {
    EXPECT_EQ(longest_line(""), 0u);
    EXPECT_EQ(longest_line("abc\nde\n"), 3u);
    EXPECT_EQ(longest_line("a\nabcd"), 4u);
}

TEST(ContentTypeParse, Basics) {
    auto ct = parse_content_type("Multipart/Mixed; boundary=\"=_a b;c\"; Charset=UTF-8 (comment)");
    EXPECT_EQ(ct.type, "multipart");
    EXPECT_EQ(ct.subtype, "mixed");
    EXPECT_TRUE(ct.is_multipart());
    EXPECT_EQ(ct.param("boundary"), "=_a b;c");
    EXPECT_EQ(ct.param("charset"), "UTF-8");
    EXPECT_EQ(ct.param("missing"), "");
    ct = parse_content_type(" text / plain ;charset=\"utf-8\"");
    EXPECT_EQ(ct.type, "text");
    EXPECT_EQ(ct.subtype, "plain");
    EXPECT_EQ(ct.param("charset"), "utf-8");
}

TEST(ContentTypeParse, Rfc2231) {
    auto ct = parse_content_type(
        "application/pdf; name*0*=utf-8''R%C3%A9; name*1=\"sum\xc3\xa9.pdf\"; title*=us-ascii'en'a%20b");
    EXPECT_EQ(ct.param("name"), "R\xc3\xa9sum\xc3\xa9.pdf");
    EXPECT_EQ(ct.param("title"), "a b");
}

TEST(ContentTypeParse, Garbage) {
    EXPECT_EQ(parse_content_type("").type, "");
    EXPECT_EQ(parse_content_type("text").type, "");
    EXPECT_EQ(parse_content_type("/plain").type, "");
    auto ct = parse_content_type("text/plain; ; =x; a; b=\"unterminated");
    EXPECT_EQ(ct.type, "text");
    EXPECT_EQ(ct.param("b"), "unterminated");
    std::mt19937 rng(5);
    const std::string alphabet = "a/;=\"( )\\*'%0";
    for (int i = 0; i < 5000; ++i) {
        std::string d;
        size_t n = rng() % 50;
        for (size_t k = 0; k < n; ++k) d += alphabet[rng() % alphabet.size()];
        (void)parse_content_type(d);
        (void)parse_transfer_encoding(d);
    }
}

TEST(TransferEncoding, Parse) {
    EXPECT_EQ(parse_transfer_encoding(" Quoted-Printable (x)"), "quoted-printable");
    EXPECT_EQ(parse_transfer_encoding("(c) 8BIT"), "8bit");
    EXPECT_EQ(parse_transfer_encoding(""), "");
}
