#include <gtest/gtest.h>

#include "cli/sendmail_args.hpp"

using namespace relay::cli;

namespace {
Options parse_ok(std::vector<std::string> args, bool relay = false) {
    auto r = parse_sendmail_args(args, relay);
    EXPECT_EQ(r.error, "");
    return r.options;
}
std::string parse_err(std::vector<std::string> args, bool relay = false) {
    return parse_sendmail_args(args, relay).error;
}
}  // namespace

TEST(SendmailArgs, DebianCron) {
    auto o = parse_ok({"-FCronDaemon", "-i", "-B8BITMIME", "-oem", "ops@example.com,dev@example.org"});
    EXPECT_EQ(*o.fullname, "CronDaemon");
    EXPECT_TRUE(o.ignore_dots);
    EXPECT_EQ(o.body_type, "8BITMIME");
    EXPECT_EQ(o.recipients, (std::vector<std::string>{"ops@example.com", "dev@example.org"}));
    EXPECT_EQ(o.mode, Mode::Deliver);
}

TEST(SendmailArgs, GluedAndSeparateValues) {
    auto o = parse_ok({"-t", "-i", "-fbounce@example.net"});
    EXPECT_EQ(*o.sender, "bounce@example.net");
    EXPECT_TRUE(o.extract_recipients);
    auto o2 = parse_ok({"-f", "<bounce@example.net>", "-F", "Alice Example", "--", "-bob@x"});
    EXPECT_EQ(*o2.sender, "bounce@example.net");
    EXPECT_EQ(*o2.fullname, "Alice Example");
    EXPECT_EQ(o2.recipients, std::vector<std::string>{"-bob@x"});
    auto o3 = parse_ok({"-r", "x@y", "a"});
    EXPECT_EQ(*o3.sender, "x@y");
    auto o4 = parse_ok({"-f", "<>", "a"});
    EXPECT_EQ(*o4.sender, "");
}

TEST(SendmailArgs, ClusteredFlags) {
    auto o = parse_ok({"-ti"});
    EXPECT_TRUE(o.extract_recipients);
    EXPECT_TRUE(o.ignore_dots);
    auto o2 = parse_ok({"-itfsender@x", "r"});
    EXPECT_EQ(*o2.sender, "sender@x");
}

TEST(SendmailArgs, OiVariantsAndIgnoredO) {
    EXPECT_TRUE(parse_ok({"-oi", "a"}).ignore_dots);
    EXPECT_TRUE(parse_ok({"-oi=true", "a"}).ignore_dots);
    EXPECT_TRUE(parse_ok({"-o", "i", "a"}).ignore_dots);
    auto o = parse_ok({"-odi", "-oem", "-oQ/tmp", "-om", "a"});
    EXPECT_FALSE(o.ignore_dots);
    EXPECT_EQ(o.ignored, (std::vector<std::string>{"-odi", "-oem", "-oQ/tmp", "-om"}));
}

TEST(SendmailArgs, Modes) {
    EXPECT_EQ(parse_ok({"-bp"}).mode, Mode::ListQueue);
    EXPECT_EQ(parse_ok({"-bi"}).mode, Mode::Aliases);
    EXPECT_EQ(parse_ok({"-I"}).mode, Mode::Aliases);
    EXPECT_EQ(parse_ok({"-bs"}).mode, Mode::Smtp);
    EXPECT_EQ(parse_ok({"-bv", "root"}).mode, Mode::Verify);
    EXPECT_EQ(parse_ok({"-bm", "a"}).mode, Mode::Deliver);
    auto q = parse_ok({"-q"});
    EXPECT_EQ(q.mode, Mode::Flush);
    EXPECT_FALSE(q.flush_now);
    EXPECT_TRUE(parse_ok({"-qf"}).flush_now);
    EXPECT_EQ(parse_ok({"-qRexample.net"}).queue_arg, "Rexample.net");
    EXPECT_EQ(parse_ok({"--flush", "--now"}, true).mode, Mode::Flush);
    EXPECT_EQ(parse_ok({"--init-spool"}, true).mode, Mode::InitSpool);
}

TEST(SendmailArgs, DsnOptions) {
    auto o = parse_ok({"-N", "failure,delay", "-R", "hdrs", "-V", "abc", "a"});
    EXPECT_EQ(o.dsn_notify, "FAILURE,DELAY");
    EXPECT_EQ(o.dsn_ret, "HDRS");
    EXPECT_EQ(o.envid, "abc");
    EXPECT_NE(parse_err({"-N", "never,success", "a"}), "");
    EXPECT_NE(parse_err({"-N", "sometimes", "a"}), "");
    EXPECT_NE(parse_err({"-R", "body", "a"}), "");
}

TEST(SendmailArgs, IgnoredFlagsTakeValues) {
    auto o = parse_ok({"-h", "17", "-L", "label", "-X", "/tmp/log", "-G", "-U", "-n", "-m", "-v", "a"});
    EXPECT_EQ(o.recipients, std::vector<std::string>{"a"});
    EXPECT_TRUE(o.verbose);
}

TEST(SendmailArgs, InjectionRefused) {
    EXPECT_NE(parse_err({"-f", "a@b\nBcc: victim@x", "r"}), "");
    EXPECT_NE(parse_err({"-F", "Name\r\nBcc: v@x", "r"}), "");
    EXPECT_NE(parse_err({"r@x\nBcc: v@x"}), "");
    EXPECT_NE(parse_err({std::string("r@x\0y", 5)}), "");
    EXPECT_NE(parse_err({"-V", "a\nb", "r"}), "");
}

TEST(SendmailArgs, UsageErrors) {
    EXPECT_EQ(parse_err({"-z"}), "unknown option -- z");
    EXPECT_NE(parse_err({"-f"}), "");
    EXPECT_NE(parse_err({"-B", "9BIT", "a"}), "");
    EXPECT_NE(parse_err({"-bd"}), "");
    EXPECT_NE(parse_err({"--flush"}), "");  // sendmail name: no long options
    EXPECT_EQ(parse_err({"--help"}), "");
}

TEST(SendmailArgs, CommaListsRespectQuotesAndAngles) {
    auto o = parse_ok({"\"Doe, John\" <j@x>, b@y", "c@z,", ",d@w"});
    EXPECT_EQ(o.recipients, (std::vector<std::string>{"\"Doe, John\" <j@x>", "b@y", "c@z", "d@w"}));
}

TEST(SendmailArgs, ErrorsNeverEchoControlCharacters) {
    for (auto args : {std::vector<std::string>{"-R", "a\nBcc: x"}, {"-B", "\x1b[2J"},
                      {"-N", "never,\rdelay"}}) {
        auto e = parse_err(args);
        EXPECT_NE(e, "");
        EXPECT_EQ(e.find_first_of("\r\n\x1b"), std::string::npos) << e;
    }
}
