#include <gtest/gtest.h>

#include <random>
#include <string>

#include "message/codec.hpp"
#include "message/smtp_safe.hpp"
#include "message_samples.hpp"

using namespace relay::message;

namespace {

// Every line of the output fits SMTP, and the header section parses back
// to the same number of fields.
void expect_transmittable(const Message &m) {
    std::string s = m.str();
    EXPECT_LE(longest_line(s), kSmtpLineLimit);
    EXPECT_EQ(s.find('\0'), std::string::npos);
    EXPECT_EQ(s.find('\r'), std::string::npos);
    auto again = Message::parse_entity(s);
    EXPECT_EQ(again.headers().size(), m.headers().size());
}

std::string value_of(const Message &m, const char *name) {
    auto *f = m.find(name);
    return f ? f->value() : std::string("<absent>");
}

}  // namespace

TEST(SmtpSafe, CleanMessageIsUntouched) {
    std::string in = "From: a@x\nTo: b@y\nSubject: hi\n\nbody\n";
    auto m = Message::parse(in);
    auto r = make_smtp_safe(m);
    EXPECT_EQ(m.str(), in);
    EXPECT_EQ(r.nul_removed, 0u);
    EXPECT_EQ(r.bare_cr_fixed, 0u);
    EXPECT_EQ(r.long_lines, 0u);
    EXPECT_FALSE(r.reencoded);
    EXPECT_FALSE(r.eight_bit_body);
    EXPECT_FALSE(r.eight_bit_headers);
}

TEST(SmtpSafe, NulAndBareCr) {
    std::string in("Subject: a\rb\0c\n\nline1\rline2\0\r\nend", 33);
    auto m = Message::parse(in);
    auto r = make_smtp_safe(m);
    EXPECT_EQ(r.nul_removed, 2u);
    EXPECT_EQ(r.bare_cr_fixed, 2u);
    EXPECT_EQ(m.str(), "Subject: a bc\n\nline1\nline2\nend\n");
    expect_transmittable(m);
}

TEST(SmtpSafe, EightBitFlags) {
    auto m = Message::parse("Subject: caf\xc3\xa9\n\nplain\n");
    auto r = make_smtp_safe(m);
    EXPECT_TRUE(r.eight_bit_headers);
    EXPECT_FALSE(r.eight_bit_body);
    m = Message::parse("Subject: x\n\ncaf\xe9\n");
    r = make_smtp_safe(m);
    EXPECT_FALSE(r.eight_bit_headers);
    EXPECT_TRUE(r.eight_bit_body);
}

TEST(SmtpSafe, LongHeaderFoldedAtWhiteSpace) {
    std::string words;
    for (int i = 0; i < 300; ++i) words += " w" + std::to_string(i);
    auto m = Message::parse("X-Long:" + words + "\n\nb\n");
    std::string before = m.headers()[0].value();
    auto r = make_smtp_safe(m);
    EXPECT_EQ(r.long_lines, 1u);
    expect_transmittable(m);
    EXPECT_EQ(m.headers()[0].value(), before);  // folding only: same value
}

TEST(SmtpSafe, LongHeaderWithoutWhiteSpaceHardSplit) {
    std::string word(2500, 'a');
    auto m = Message::parse("X-Long: " + word + "\n\nb\n");
    auto r = make_smtp_safe(m);
    EXPECT_EQ(r.long_lines, 1u);
    expect_transmittable(m);
    ASSERT_EQ(m.headers().size(), 1u);
    std::string v = m.headers()[0].value();
    std::string stripped;
    for (char c : v)
        if (c != ' ') stripped += c;
    EXPECT_EQ(stripped, word);  // only spaces were inserted
}

TEST(SmtpSafe, HeaderNameTooLongIsDropped) {
    auto m = Message::parse("To: a@x\n" + std::string(1200, 'N') + ": v\n\nb\n");
    ASSERT_EQ(m.headers().size(), 2u);
    auto r = make_smtp_safe(m);
    EXPECT_EQ(r.headers_dropped, 1u);
    ASSERT_EQ(m.headers().size(), 1u);
    expect_transmittable(m);
}

TEST(SmtpSafe, CronLongLineBecomesQuotedPrintable) {
    // bob's cron job from the recordings: a 1500-character line, 8bit.
    std::string body = "bob job output\n" + std::string(1500, 'x') + "\n";
    std::string in = "From: cron-bob@example.net\nTo: ops@example.com\nMIME-Version: 1.0\n"
                     "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n" +
                     body;
    auto m = Message::parse(in);
    auto r = make_smtp_safe(m);
    EXPECT_TRUE(r.reencoded);
    EXPECT_EQ(r.long_lines, 1u);
    EXPECT_EQ(value_of(m, "Content-Transfer-Encoding"), "quoted-printable");
    EXPECT_EQ(value_of(m, "Content-Type"), "text/plain; charset=UTF-8");
    EXPECT_EQ(m.find_all("MIME-Version").size(), 1u);
    EXPECT_EQ(m.find_all("Content-Transfer-Encoding").size(), 1u);
    EXPECT_EQ(qp_decode(m.body()), body);
    expect_transmittable(m);
}

TEST(SmtpSafe, PlainMessageGetsMimeHeadersAndCharsetGuess) {
    struct Case {
        std::string body;
        const char *charset;
        bool eight_bit;
    } cases[] = {
        {std::string(1200, 'a') + "\n", "us-ascii", false},
        {"caf\xc3\xa9 " + std::string(1200, 'a') + "\n", "utf-8", false},
        {"caf\xe9 " + std::string(1200, 'a') + "\n", "unknown-8bit", false},
    };
    for (const auto &c : cases) {
        auto m = Message::parse("Subject: s\n\n" + c.body);
        auto r = make_smtp_safe(m);
        EXPECT_TRUE(r.reencoded);
        EXPECT_EQ(r.eight_bit_body, c.eight_bit);
        EXPECT_EQ(value_of(m, "MIME-Version"), "1.0");
        EXPECT_EQ(value_of(m, "Content-Type"), std::string("text/plain; charset=") + c.charset);
        EXPECT_EQ(value_of(m, "Content-Transfer-Encoding"), "quoted-printable");
        EXPECT_EQ(qp_decode(m.body()), c.body);
        expect_transmittable(m);
    }
}

TEST(SmtpSafe, LongLineInQuotedPrintableAndBase64Bodies) {
    std::string qp = std::string(500, 'a') + "=C3=A9" + std::string(1000, 'b') + "\n";
    auto m = Message::parse("Content-Transfer-Encoding: quoted-printable\n\n" + qp);
    auto r = make_smtp_safe(m);
    EXPECT_FALSE(r.reencoded);
    EXPECT_EQ(qp_decode(m.body()), qp_decode(qp));
    expect_transmittable(m);

    std::string raw(3000, '\x01');
    std::string b64 = base64_encode(raw, 0) + "\n";
    m = Message::parse("Content-Transfer-Encoding: base64\n\n" + b64);
    r = make_smtp_safe(m);
    EXPECT_FALSE(r.reencoded);
    EXPECT_EQ(base64_decode(m.body()), raw);
    expect_transmittable(m);
}

TEST(SmtpSafe, MultipartLeafPartsReencoded) {
    std::string long8 = "caf\xc3\xa9 " + std::string(2000, 'z') + "\n";
    std::string in =
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"BB\"\n\n"
        "preamble\n"
        "--BB\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n" +
        long8 +
        "--BB\n"
        "Content-Type: text/plain\n\n"
        "short part stays\n"
        "--BB\n"
        "Content-Type: multipart/alternative; boundary=BBinner\n\n"
        "--BBinner\n\n" +
        std::string(1100, 'q') + "\n" +
        "--BBinner--\n"
        "--BB\n"
        "Content-Type: message/rfc822\n\n"
        "Subject: inner\n\n" +
        std::string(1100, 'm') + "\n" +
        "--BB--\n"
        "epilogue\n";
    auto m = Message::parse(in);
    auto r = make_smtp_safe(m);
    EXPECT_TRUE(r.reencoded);
    EXPECT_EQ(r.long_lines, 3u);
    expect_transmittable(m);
    const std::string &b = m.body();
    EXPECT_NE(b.find("preamble\n--BB\n"), std::string::npos);
    EXPECT_NE(b.find("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\ncaf=C3=A9 zzz"),
              std::string::npos) << b.substr(0, 400);
    EXPECT_NE(b.find("--BB\nContent-Type: text/plain\n\nshort part stays\n--BB\n"), std::string::npos);
    // The inner part had no headers: it gets a Content-Type and an encoding.
    EXPECT_NE(b.find("--BBinner\nContent-Type: text/plain; charset=us-ascii\n"
                     "Content-Transfer-Encoding: quoted-printable\n\nqqq"),
              std::string::npos);
    EXPECT_NE(b.find("--BBinner--\n--BB\nContent-Type: message/rfc822\n\nSubject: inner\n\n"),
              std::string::npos);
    EXPECT_NE(b.find("\n m"), std::string::npos);  // hard split inside message/rfc822
    EXPECT_NE(b.find("--BB--\nepilogue\n"), std::string::npos);
    EXPECT_FALSE(r.eight_bit_body);
}

TEST(SmtpSafe, MultipartWithoutBoundaryOrDeepNesting) {
    auto m = Message::parse("Content-Type: multipart/mixed\n\n" + std::string(1500, 'x') + "\n");
    auto r = make_smtp_safe(m);
    EXPECT_FALSE(r.reencoded);
    expect_transmittable(m);

    std::string in = "Content-Type: multipart/mixed; boundary=b0\n\n";
    std::string tail;
    for (int d = 0; d < 20; ++d) {
        in += "--b" + std::to_string(d) + "\nContent-Type: multipart/mixed; boundary=b" +
              std::to_string(d + 1) + "\n\n";
    }
    in += "--b20\n\n" + std::string(1500, 'y') + "\n";
    m = Message::parse(in);
    r = make_smtp_safe(m);
    expect_transmittable(m);
}

TEST(SmtpSafe, FinalNewlineAdded) {
    auto m = Message::parse("Subject: x\n\nno newline");
    make_smtp_safe(m);
    EXPECT_EQ(m.body(), "no newline\n");
}

TEST(SmtpSafe, CallerSamplesBecomeTransmittable) {
    for (const auto &s : relay::testing::load_caller_samples()) {
        SCOPED_TRACE(s.file + "#" + std::to_string(s.index));
        auto m = Message::parse(s.stdin_bytes);
        std::string before = m.str();
        auto r = make_smtp_safe(m);
        expect_transmittable(m);
        if (longest_line(before) <= kSmtpLineLimit && before.find('\0') == std::string::npos &&
            before.find('\r') == std::string::npos && (before.empty() || before.back() == '\n')) {
            EXPECT_EQ(m.str(), before);
        }
        if (s.file == "debian-cron.txt" && s.index == 4) {
            EXPECT_TRUE(r.reencoded);
        }
    }
}

TEST(SmtpSafe, RandomMessagesStayTotal) {
    std::mt19937 rng(11);
    const std::string pieces[] = {"Content-Type: multipart/mixed; boundary=b\n",
                                  "Content-Transfer-Encoding: base64\n",
                                  "Content-Transfer-Encoding: quoted-printable\n",
                                  "Content-Type: message/rfc822\n",
                                  "--b\n", "--b--\n", "\n", "X: y\n", std::string(1000, 'L'),
                                  std::string(600, ' '), "=", "\r", std::string(1, '\0'), "\xff",
                                  std::string(1000, 'N') + ":"};
    for (int i = 0; i < 400; ++i) {
        std::string in;
        size_t n = rng() % 12;
        for (size_t k = 0; k < n; ++k) in += pieces[rng() % std::size(pieces)];
        auto m = Message::parse(in);
        make_smtp_safe(m);
        std::string s = m.str();
        ASSERT_LE(longest_line(s), kSmtpLineLimit) << i;
        ASSERT_EQ(s.find('\0'), std::string::npos);
        ASSERT_EQ(s.find('\r'), std::string::npos);
    }
}

// Hostile shapes that would take quadratic time in a naive implementation
// finish quickly (ctest's timeout catches a regression).
TEST(SmtpSafe, HostileInputsStayLinear) {
    std::string crs(2000000, '\r');
    auto m = Message::parse("X: a" + crs + "b\n\nx" + crs + "y\n");
    auto r = make_smtp_safe(m);
    EXPECT_EQ(r.bare_cr_fixed, 4000000u);
    expect_transmittable(m);

    std::string word(3000000, 'w');
    m = Message::parse("X-Long: " + word + "\n\n");
    make_smtp_safe(m);
    expect_transmittable(m);
    std::string spaced;
    for (int i = 0; i < 300000; ++i) spaced += "ab ";
    m = Message::parse("X-Spaced: " + spaced + "\n\n" + std::string(2000000, ' ') + "\n");
    make_smtp_safe(m);
    expect_transmittable(m);
    std::string ws(2000000, ' ');
    m = Message::parse("X-Ws: a" + ws + "b\n\n");
    make_smtp_safe(m);
    expect_transmittable(m);
}
