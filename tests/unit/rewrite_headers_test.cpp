// Header rewriting and force_from, through the real message parser.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "message/header.hpp"
#include "rewrite/pipeline.hpp"

namespace fs = std::filesystem;
using relay::message::Message;
using relay::rewrite::Pipeline;

namespace {

class HeaderRewrite : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("relay-hdr-" + std::to_string(getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
        cfg_.myhostname = "torres.example.net";
        cfg_.mydomain = "example.net";
        cfg_.myorigin = "example.net";
        cfg_.rewrite.alias_maps.clear();
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string file(const std::string &name, const std::string &text) {
        auto p = (dir_ / name).string();
        std::ofstream(p) << text;
        return p;
    }
    std::string header(const Message &m, const char *name) {
        auto *h = m.find(name);
        return h ? h->value() : "(none)";
    }
    fs::path dir_;
    relay::config::Config cfg_;
};

}  // namespace

TEST_F(HeaderRewrite, KeepsDisplayNamesCommentsAndGroups) {
    cfg_.rewrite.sender_canonical_maps = {"texthash:" + file("sc", "www-data@example.net webmaster@example.net\n")};
    Pipeline p(cfg_);
    auto m = Message::parse(
        "From: \"Web Server\" <www-data>\n"
        "Sender: www-data (the web server)\n"
        "To: root, Team: alice, \"Bob B.\" <bob@elsewhere.org>;\n"
        "Cc: undisclosed-recipients:;\n"
        "Subject: www-data is not rewritten here\n\nbody www-data\n");
    p.headers(m);
    EXPECT_EQ(header(m, "From"), "\"Web Server\" <webmaster@example.net>");
    EXPECT_EQ(header(m, "Sender"), "webmaster@example.net (the web server)");
    EXPECT_EQ(header(m, "To"), "root@example.net, Team: alice@example.net, \"Bob B.\" <bob@elsewhere.org>;");
    EXPECT_EQ(header(m, "Cc"), "undisclosed-recipients:;");
    EXPECT_EQ(header(m, "Subject"), "www-data is not rewritten here");
    EXPECT_EQ(m.body(), "body www-data\n");
}

TEST_F(HeaderRewrite, VirtualAliasesNeverTouchHeaders) {
    cfg_.rewrite.virtual_alias_maps = {"regexp:" + file("va", "/.+/ sysadmin@example.org\n")};
    Pipeline p(cfg_);
    auto m = Message::parse("To: root\nFrom: root (Cron Daemon)\n\nx\n");
    p.headers(m);
    EXPECT_EQ(header(m, "To"), "root@example.net");
    EXPECT_EQ(header(m, "From"), "root@example.net (Cron Daemon)");
    EXPECT_EQ(p.recipient("root"), std::vector<std::string>{"sysadmin@example.org"});
}

TEST_F(HeaderRewrite, CanonicalClassesExcludeHeaders) {
    cfg_.rewrite.canonical_maps = {"texthash:" + file("c", "root@example.net admin@example.org\n")};
    cfg_.rewrite.canonical_classes = {"envelope_sender", "envelope_recipient"};
    Pipeline p(cfg_);
    auto m = Message::parse("From: root\nTo: root\n\nx\n");
    p.headers(m);
    EXPECT_EQ(header(m, "From"), "root@example.net");
    EXPECT_EQ(p.sender("root"), "admin@example.org");
}

TEST_F(HeaderRewrite, ForceFromKeepsTheAuthorAsDisplayName) {
    cfg_.rewrite.force_from = "torres@example.net";
    Pipeline p(cfg_);
    auto m = Message::parse("From: root (Cron Daemon)\nTo: root\n\nx\n");
    p.headers(m, "root@example.net");
    EXPECT_EQ(header(m, "From"), "\"root (Cron Daemon) via torres\" <torres@example.net>");
    // root is a local account: nobody to reply to.
    EXPECT_EQ(header(m, "Reply-To"), "(none)");
    EXPECT_EQ(p.sender("root"), "torres@example.net");
    EXPECT_EQ(p.sender(""), "");  // a bounce stays a bounce
}

TEST_F(HeaderRewrite, ForceFromAddsReplyToForARealAuthor) {
    cfg_.rewrite.force_from = "torres@example.net";
    Pipeline p(cfg_);
    auto m = Message::parse("From: Alice Example <alice@example.org>\nTo: bob@example.org\n\nx\n");
    p.headers(m, "alice@example.org");
    EXPECT_EQ(header(m, "From"), "\"Alice Example via torres\" <torres@example.net>");
    EXPECT_EQ(header(m, "Reply-To"), "alice@example.org");
    // An existing Reply-To wins.
    auto m2 = Message::parse("From: alice@example.org\nReply-To: list@example.org\n\nx\n");
    p.headers(m2, "alice@example.org");
    EXPECT_EQ(header(m2, "Reply-To"), "list@example.org");
}
