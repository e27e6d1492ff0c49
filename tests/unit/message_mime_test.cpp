#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <random>
#include <string>

#include "message/codec.hpp"
#include "message/header.hpp"
#include "message/mime.hpp"
#include "message/smtp_safe.hpp"
#include "message_python_peer.hpp"

using namespace relay::message;
using relay::testing::python_read;

namespace {

struct TempFile {
    std::string path;
    explicit TempFile(const std::string &content, const std::string &suffix = "") {
        char tmpl[] = "/tmp/relay-att-XXXXXX";
        int fd = mkstemp(tmpl);
        EXPECT_GE(fd, 0);
        if (fd >= 0) close(fd);
        path = std::string(tmpl) + suffix;
        if (!suffix.empty()) rename(tmpl, path.c_str());
        std::ofstream(path, std::ios::binary) << content;
    }
    ~TempFile() { unlink(path.c_str()); }
};

MailSpec basic() {
    MailSpec s;
    s.subject = "Test";
    s.from = "alice@example.net";
    s.to = {"rcpt@example.com"};
    s.date = "Sun, 22 Nov 2026 04:45:25 +0000";
    return s;
}

}  // namespace

TEST(MimeBuild, AsciiBodyIs7bit) {
    auto s = basic();
    s.body = "hello\nworld";
    auto r = build_message(s);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->text,
              "From: alice@example.net\nTo: rcpt@example.com\nSubject: Test\n"
              "Date: Sun, 22 Nov 2026 04:45:25 +0000\nMIME-Version: 1.0\n"
              "Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n"
              "hello\nworld\n");
    EXPECT_EQ(r->recipients, (std::vector<std::string>{"rcpt@example.com"}));
    auto v = python_read(r->text);
    EXPECT_EQ(v.defects, 0);
    ASSERT_EQ(v.parts.size(), 1u);
    EXPECT_EQ(v.parts[0].payload, "hello\nworld\n");
}

TEST(MimeBuild, Utf8BodyIs8bitAndCrlfBecomesLf) {
    auto s = basic();
    s.body = "caf\xc3\xa9\r\nline\r\n";
    auto r = build_message(s);
    ASSERT_TRUE(r.ok());
    auto m = Message::parse(r->text);
    EXPECT_EQ(m.find("Content-Type")->value(), "text/plain; charset=utf-8");
    EXPECT_EQ(m.find("Content-Transfer-Encoding")->value(), "8bit");
    EXPECT_EQ(m.body(), "caf\xc3\xa9\nline\n");
    auto v = python_read(r->text);
    EXPECT_EQ(v.defects, 0);
    ASSERT_EQ(v.parts.size(), 1u);
    EXPECT_EQ(v.parts[0].payload, "caf\xc3\xa9\nline\n");
}

TEST(MimeBuild, QuotedPrintableWhenNeeded) {
    struct Case {
        std::string body;
        bool allow_8bit;
        std::string charset_in;
        const char *charset;
    } cases[] = {
        {std::string(1500, 'x') + "\n", true, "", "us-ascii"},
        {"caf\xe9\n", true, "", "unknown-8bit"},
        {"caf\xc3\xa9\n", false, "", "utf-8"},
        {"a\rb\n", true, "", "us-ascii"},
    };
    for (const auto &c : cases) {
        auto s = basic();
        s.body = c.body;
        s.allow_8bit = c.allow_8bit;
        auto r = build_message(s);
        ASSERT_TRUE(r.ok());
        auto m = Message::parse(r->text);
        EXPECT_EQ(m.find("Content-Transfer-Encoding")->value(), "quoted-printable") << c.body.substr(0, 20);
        EXPECT_EQ(m.find("Content-Type")->value(), std::string("text/plain; charset=") + c.charset);
        EXPECT_LE(longest_line(r->text), 76u);
        EXPECT_TRUE(is_ascii(r->text));
        auto v = python_read(r->text);
        ASSERT_EQ(v.parts.size(), 1u);
        EXPECT_EQ(v.parts[0].payload, c.body);
    }
}

TEST(MimeBuild, NamedCharsetIsTrusted) {
    auto s = basic();
    s.body = "caf\xe9\n";
    s.charset = "iso-8859-1";
    auto r = build_message(s);
    ASSERT_TRUE(r.ok());
    auto m = Message::parse(r->text);
    EXPECT_EQ(m.find("Content-Type")->value(), "text/plain; charset=iso-8859-1");
    EXPECT_EQ(m.find("Content-Transfer-Encoding")->value(), "8bit");
}

TEST(MimeBuild, HeadersEncodedAndRecipientsCollected) {
    auto s = basic();
    s.subject = "S\xc3\xbc" "bject \xc3\xbcmlaut";
    s.from = "J\xc3\xbcrgen M\xc3\xbcller <jm@example.de>";
    s.to = {"a@x, \"Doe, John\" <j@y>", "root"};
    s.cc = {"Cc Person <cc@example.com>"};
    s.bcc = {"hidden@example.com"};
    s.extra_headers = {{"X-Extra", "yes"}, {"Subject", "override"}};
    auto r = build_message(s);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->recipients,
              (std::vector<std::string>{"a@x", "j@y", "root", "cc@example.com", "hidden@example.com"}));
    auto m = Message::parse(r->text);
    EXPECT_FALSE(m.has("Bcc"));
    EXPECT_EQ(m.find("X-Extra")->value(), "yes");
    EXPECT_EQ(m.find_all("Subject").size(), 1u);
    EXPECT_TRUE(is_ascii(r->text));
    auto v = python_read(r->text);
    EXPECT_EQ(v.defects, 0);
    EXPECT_EQ(v.header("Subject"), "override");
    ASSERT_GE(v.addrs.size(), 5u);
    EXPECT_EQ(v.addrs[0], (std::vector<std::string>{"From", "J\xc3\xbcrgen M\xc3\xbcller", "jm@example.de"}));
    EXPECT_EQ(v.addrs[2], (std::vector<std::string>{"To", "Doe, John", "j@y"}));
    EXPECT_EQ(v.addrs[4], (std::vector<std::string>{"Cc", "Cc Person", "cc@example.com"}));

    s.extra_headers.clear();
    s.bcc_header = true;
    r = build_message(s);
    ASSERT_TRUE(r.ok());
    m = Message::parse(r->text);
    ASSERT_TRUE(m.has("Bcc"));
    v = python_read(r->text);
    EXPECT_EQ(v.header("Subject"), "S\xc3\xbc" "bject \xc3\xbcmlaut");
}

TEST(MimeBuild, BadAddressIsAnError) {
    auto s = basic();
    s.to = {"root, set escape"};
    auto r = build_message(s);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("set escape"), std::string::npos);
    s = basic();
    s.cc = {"<>"};
    EXPECT_FALSE(build_message(s).ok());
}

TEST(MimeBuild, Attachments) {
    std::string binary;
    std::mt19937 rng(1);
    for (int i = 0; i < 5000; ++i) binary += static_cast<char>(rng());
    std::string text = "log line 1\r\nlog line 2 caf\xc3\xa9\n" + std::string(1200, 'L');  // no final newline
    TempFile bin(binary, ".tar.gz");
    TempFile txt(text, ".log");
    auto s = basic();
    s.body = "see attached\n";
    s.attachments.push_back({bin.path, "", "", ""});
    s.attachments.push_back({txt.path, "", "r\xc3\xa9sum\xc3\xa9 2026.log", ""});
    s.attachments.push_back({"", "inline data", "notes", "text/plain"});
    auto r = build_message(s);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_LE(longest_line(r->text), 78u) << r->text.substr(0, 1500);
    EXPECT_TRUE(is_ascii(r->text));
    // Already SMTP-safe: pickup changes nothing.
    auto m = Message::parse(r->text);
    EXPECT_EQ(m.find("MIME-Version")->value(), "1.0");
    auto ct = parse_content_type(m.find("Content-Type")->value());
    EXPECT_EQ(ct.type, "multipart");
    EXPECT_EQ(ct.subtype, "mixed");
    EXPECT_EQ(ct.param("boundary").substr(0, 8), "=_relay_");
    std::string before = m.str();
    auto rep = make_smtp_safe(m);
    EXPECT_EQ(m.str(), before);
    EXPECT_FALSE(rep.reencoded);

    auto v = python_read(r->text);
    EXPECT_EQ(v.defects, 0);
    ASSERT_EQ(v.parts.size(), 4u);
    EXPECT_EQ(v.parts[0].type, "text/plain");
    EXPECT_EQ(v.parts[0].payload, "see attached\n");
    EXPECT_EQ(v.parts[1].type, "application/gzip");
    EXPECT_EQ(v.parts[1].cte, "base64");
    EXPECT_EQ(v.parts[1].filename, bin.path.substr(bin.path.rfind('/') + 1));
    EXPECT_EQ(v.parts[1].payload, binary);
    EXPECT_EQ(v.parts[2].type, "text/plain");
    EXPECT_EQ(v.parts[2].cte, "quoted-printable");
    EXPECT_EQ(v.parts[2].charset, "utf-8");
    EXPECT_EQ(v.parts[2].filename, "r\xc3\xa9sum\xc3\xa9 2026.log");
    EXPECT_EQ(v.parts[2].payload, text);  // byte-exact, CRLF and missing final newline included
    EXPECT_EQ(v.parts[3].filename, "notes");
    EXPECT_EQ(v.parts[3].payload, "inline data");
}

TEST(MimeBuild, AttachmentErrors) {
    auto s = basic();
    s.attachments.push_back({"/nonexistent/file.pdf", "", "", ""});
    auto r = build_message(s);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("/nonexistent/file.pdf: cannot open attachment"), std::string::npos);
    s.attachments = {{"/tmp", "", "", ""}};
    r = build_message(s);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("not a regular file"), std::string::npos);
    TempFile big(std::string(2000, 'b'));
    s.attachments = {{big.path, "", "", ""}};
    s.max_attachment_bytes = 1000;
    r = build_message(s);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("larger than 1000"), std::string::npos);
}

TEST(MimeBuild, BoundaryNeverInContent) {
    // An 8-bit body that happens to contain a boundary-looking line.
    auto s = basic();
    s.body = "--=_relay_AAAAAAAAAAAAAAAAAAAAAAAA\ncaf\xc3\xa9\n";
    s.attachments.push_back({"", std::string(10, 'x'), "x.bin", ""});
    for (int i = 0; i < 20; ++i) {
        auto r = build_message(s);
        ASSERT_TRUE(r.ok());
        auto m = Message::parse(r->text);
        auto b = parse_content_type(m.find("Content-Type")->value()).param("boundary");
        EXPECT_EQ(s.body.find("--" + b), std::string::npos);
    }
}

TEST(MimeTypes, Guess) {
    EXPECT_EQ(guess_content_type("report.PDF"), "application/pdf");
    EXPECT_EQ(guess_content_type("/var/log/syslog.1.gz"), "application/gzip");
    EXPECT_EQ(guess_content_type("notes.txt"), "text/plain");
    EXPECT_EQ(guess_content_type("Makefile"), "application/octet-stream");
    EXPECT_EQ(guess_content_type(".bashrc"), "application/octet-stream");
    EXPECT_EQ(guess_content_type("a.unknownext"), "application/octet-stream");
    EXPECT_EQ(guess_content_type("dir.d/file"), "application/octet-stream");
}

TEST(MimeParameter, Forms) {
    EXPECT_EQ(mime_parameter("charset", "utf-8"), "charset=utf-8");
    EXPECT_EQ(mime_parameter("filename", "my file.txt"), "filename=\"my file.txt\"");
    EXPECT_EQ(mime_parameter("filename", "a\"b\\c"), "filename=\"a\\\"b\\\\c\"");
    EXPECT_EQ(mime_parameter("filename", ""), "filename=\"\"");
    EXPECT_EQ(mime_parameter("filename", "r\xc3\xa9sum\xc3\xa9 1.pdf"), "filename*=UTF-8''r%C3%A9sum%C3%A9%201.pdf");
    auto ct = parse_content_type("application/pdf; " + mime_parameter("name", "r\xc3\xa9sum\xc3\xa9 1.pdf"));
    EXPECT_EQ(ct.param("name"), "r\xc3\xa9sum\xc3\xa9 1.pdf");
}
