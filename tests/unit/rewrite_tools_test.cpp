// postmap_query, address_test, check_tables, and table basics.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "rewrite/table.hpp"
#include "rewrite/tools.hpp"

namespace fs = std::filesystem;
using namespace relay::rewrite;

namespace {

std::string write_tmp(const std::string &name, const std::string &text) {
    auto p = fs::temp_directory_path() / ("relay-tools-" + std::to_string(getpid()) + "-" + name);
    std::ofstream(p) << text;
    return p.string();
}

TEST(RewriteTable, MatchesReportTheirLine) {
    auto re = write_tmp("re", "# comment\n\n/^a/ A\n/^b/ B\n  continued\n");
    auto t = open_table("regexp:" + re);
    ASSERT_TRUE(t);
    EXPECT_TRUE((*t)->pattern_matching());
    auto m = (*t)->find("bee");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->line, 4);
    EXPECT_EQ(m->value, "B  continued");
    EXPECT_FALSE((*t)->find("c"));
    auto h = write_tmp("h", "x 1\nY 2\n");
    auto th = open_table("hash:" + h);
    ASSERT_TRUE(th);
    EXPECT_FALSE((*th)->pattern_matching());
    EXPECT_EQ((*th)->find("y")->line, 2);
    EXPECT_EQ(*(*th)->lookup("Y"), "2");
    fs::remove(re);
    fs::remove(h);
}

TEST(RewriteTable, OpenErrorsAreWordedLikePostfix) {
    auto a = open_table("nosuchtype:/x");
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().message, "unsupported dictionary type: nosuchtype");
    auto b = open_table("/etc/aliases");
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message.find("expecting \"type:name\" form"), std::string::npos);
    auto c = open_table("regexp:/nonexistent/x");
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().sys_errno, ENOENT);
    auto d = open_table("inline:{a=b");
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().message, "bad syntax: \"inline:{a=b\"; need \"inline:{name=value...}\"");
}

TEST(RewriteTools, PostmapQueryOneKeyPrintsTheValueOnly) {
    std::istringstream in;
    std::ostringstream out, err;
    EXPECT_EQ(postmap_query({"Root"}, "inline:{root=hostmaster@example.com}", in, out, err), 0);
    EXPECT_EQ(out.str(), "hostmaster@example.com\n");
    std::ostringstream out2;
    EXPECT_EQ(postmap_query({"nobody"}, "inline:{root=x}", in, out2, err), 1);
    EXPECT_EQ(out2.str(), "");
    std::ostringstream out3, err3;
    EXPECT_EQ(postmap_query({"x"}, "regexp:/nonexistent/x", in, out3, err3), 1);
    EXPECT_NE(err3.str().find("fatal: open /nonexistent/x"), std::string::npos);
}

TEST(RewriteTools, AddressTestShowsEachStep) {
    auto v = write_tmp("virtual", "# all local mail to one person\n/@torres\\.example\\.net$/ torres@example.net\n");
    relay::config::Config cfg;
    cfg.myhostname = cfg.myorigin = "torres.example.net";
    cfg.mydomain = "example.net";
    cfg.rewrite.alias_maps.clear();
    cfg.rewrite.virtual_alias_maps = {"regexp:" + v};
    std::ostringstream out, err;
    EXPECT_EQ(address_test(cfg, "root", AddressRole::Recipient, out, err), 0);
    EXPECT_EQ(out.str(),
              "qualify: root -> root@torres.example.net\n"
              "virtual_alias_maps regexp:" + v + ":2: root@torres.example.net -> torres@example.net\n"
              "result: <torres@example.net>\n");
    fs::remove(v);
}

TEST(RewriteTools, CheckTablesReportsWarningsAndErrors) {
    auto good = write_tmp("good", "a b\n");
    auto bad = write_tmp("bad", "/(/ x\n");
    relay::config::Config cfg;
    cfg.rewrite.alias_maps.clear();
    cfg.rewrite.canonical_maps = {"hash:" + good};
    std::ostringstream e0;
    EXPECT_EQ(check_tables(cfg, e0), 0);
    EXPECT_EQ(e0.str(), "");
    cfg.rewrite.virtual_alias_maps = {"regexp:" + bad};
    std::ostringstream e1;
    EXPECT_EQ(check_tables(cfg, e1), 1);
    EXPECT_NE(e1.str().find("virtual_alias_maps: regexp map " + bad + ", line 1: Unmatched ( or \\("),
              std::string::npos);
    cfg.rewrite.sender_canonical_maps = {"hash:/nonexistent/sc"};
    std::ostringstream e2;
    EXPECT_EQ(check_tables(cfg, e2), 2);
    EXPECT_NE(e2.str().find("error: [rewrite] sender_canonical_maps: hash:/nonexistent/sc"), std::string::npos);
    fs::remove(good);
    fs::remove(bad);
}

}  // namespace
