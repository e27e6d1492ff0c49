// Envelope rewriting in cleanup(8) order, with real table files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "rewrite/pipeline.hpp"
#include "util/error.hpp"

namespace fs = std::filesystem;
using relay::rewrite::Pipeline;

namespace {

class PipelineTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("relay-rw-" + std::to_string(getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
        cfg_.myhostname = "torres.example.net";
        cfg_.mydomain = "example.net";
        cfg_.myorigin = "torres.example.net";
        cfg_.rewrite.alias_maps.clear();
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string file(const std::string &name, const std::string &text) {
        auto p = (dir_ / name).string();
        std::ofstream(p) << text;
        return p;
    }
    fs::path dir_;
    relay::config::Config cfg_;
};

using V = std::vector<std::string>;

TEST_F(PipelineTest, QualifiesBareNamesAndHosts) {
    Pipeline p(cfg_);
    EXPECT_EQ(p.sender("root"), "root@torres.example.net");
    EXPECT_EQ(p.sender(""), "");
    EXPECT_EQ(p.qualify("a@host"), "a@host");
    cfg_.rewrite.append_dot_mydomain = true;
    Pipeline q(cfg_);
    EXPECT_EQ(q.qualify("a@host"), "a@host.example.net");
    EXPECT_EQ(q.qualify("a@[10.0.0.1]"), "a@[10.0.0.1]");
    cfg_.rewrite.append_at_myorigin = false;
    Pipeline r(cfg_);
    EXPECT_EQ(r.qualify("root"), "root");
}

TEST_F(PipelineTest, SeedRegexpVirtualSendsEverythingToOnePerson) {
    cfg_.rewrite.virtual_alias_maps = {"regexp:" + file("virtual_alias",
        "/.+@torres\\.example\\.net$/ torres@example.net\n")};
    Pipeline p(cfg_);
    EXPECT_EQ(p.recipient("root"), V{"torres@example.net"});
    EXPECT_EQ(p.recipient("www-data@torres.example.net"), V{"torres@example.net"});
    EXPECT_EQ(p.recipient("alice@example.org"), V{"alice@example.org"});
}

TEST_F(PipelineTest, SenderCanonicalThenCanonicalWithUserKeys) {
    cfg_.rewrite.sender_canonical_maps = {"hash:" + file("sender_canonical", "www-data webmaster@example.com\n")};
    cfg_.rewrite.canonical_maps = {"hash:" + file("canonical",
        "root hostmaster@example.com\nwebmaster@example.com web@example.com\n")};
    Pipeline p(cfg_);
    // sender_canonical first, then canonical_maps on its result
    EXPECT_EQ(p.sender("www-data"), "web@example.com");
    EXPECT_EQ(p.sender("root"), "hostmaster@example.com");
    // the "user" key applies only to $myorigin and local domains
    EXPECT_EQ(p.sender("root@elsewhere.org"), "root@elsewhere.org");
    EXPECT_EQ(p.recipient("root@localhost"), V{"hostmaster@example.com"});
    // recipient: no sender_canonical
    EXPECT_EQ(p.recipient("www-data"), V{"www-data@torres.example.net"});
}

TEST_F(PipelineTest, CanonicalClassesLimitWhereCanonicalApplies) {
    cfg_.rewrite.canonical_maps = {"hash:" + file("canonical", "root hostmaster@example.com\n")};
    cfg_.rewrite.canonical_classes = {"envelope_recipient"};
    Pipeline p(cfg_);
    EXPECT_EQ(p.sender("root"), "root@torres.example.net");
    EXPECT_EQ(p.recipient("root"), V{"hostmaster@example.com"});
}

TEST_F(PipelineTest, ExtensionsArePropagatedAndMatched) {
    cfg_.rewrite.recipient_delimiter = "+";
    cfg_.rewrite.virtual_alias_maps = {"hash:" + file("virtual",
        "joe@example.com joe.user@example.net\nann+lists@example.com lists@example.net\n"
        "ann@example.com ann@example.org\n@example.com catchall@example.net\n")};
    Pipeline p(cfg_);
    EXPECT_EQ(p.recipient("joe+foo@example.com"), V{"joe.user+foo@example.net"});
    EXPECT_EQ(p.recipient("ann+lists@example.com"), V{"lists@example.net"});
    EXPECT_EQ(p.recipient("ann+x@example.com"), V{"ann+x@example.org"});
    EXPECT_EQ(p.recipient("bob+x@example.com"), V{"catchall+x@example.net"});
    cfg_.rewrite.propagate_unmatched_extensions = {};
    Pipeline q(cfg_);
    EXPECT_EQ(q.recipient("joe+foo@example.com"), V{"joe.user@example.net"});
}

TEST_F(PipelineTest, AtDomainResultKeepsTheUser) {
    cfg_.rewrite.canonical_maps = {"texthash:" + file("canonical", "@old.example @new.example\n")};
    Pipeline p(cfg_);
    EXPECT_EQ(p.sender("kim@old.example"), "kim@new.example");
}

TEST_F(PipelineTest, RegexpTablesSeeTheWholeAddressOnly) {
    // a regexp that would match the bare user never sees it for a full address
    cfg_.rewrite.virtual_alias_maps = {"regexp:" + file("v", "/^root$/ other@example.com\n")};
    Pipeline p(cfg_);
    EXPECT_EQ(p.recipient("root@torres.example.net"), V{"root@torres.example.net"});
}

TEST_F(PipelineTest, VirtualOneToManyDuplicatesSelfAndLoops) {
    cfg_.rewrite.virtual_alias_maps = {"hash:" + file("virtual",
        "list@example.com a@example.com, b@example.com a@example.com\n"
        "a@example.com a@example.com, c@example.com\n"
        "x@example.com y@example.com\ny@example.com x@example.com\n")};
    Pipeline p(cfg_);
    EXPECT_EQ(p.recipient("list@example.com"), (V{"a@example.com", "c@example.com", "b@example.com"}));
    EXPECT_EQ(p.recipient("x@example.com"), V{"x@example.com"});
}

TEST_F(PipelineTest, VirtualNestingAndExpansionLimitsDefer) {
    std::string chain;
    for (int i = 0; i < 10; ++i)
        chain += "u" + std::to_string(i) + "@example.com u" + std::to_string(i + 1) + "@example.com\n";
    std::string wide = "big@example.com";
    for (int i = 0; i < 20; ++i) wide += (i ? ", w" : " w") + std::to_string(i) + "@example.com";
    cfg_.rewrite.virtual_alias_maps = {"hash:" + file("virtual", chain + wide + "\n")};
    cfg_.rewrite.virtual_alias_recursion_limit = 5;
    cfg_.rewrite.virtual_alias_expansion_limit = 10;
    Pipeline p(cfg_);
    EXPECT_EQ(p.recipient("u7@example.com"), V{"u10@example.com"});
    try {
        (void)p.recipient("u0@example.com");
        FAIL() << "nesting limit not enforced";
    } catch (const relay::Fatal &f) {
        EXPECT_EQ(f.code(), relay::Exit::TempFail);
        EXPECT_NE(std::string(f.what()).find("unreasonable virtual_alias_maps map nesting"), std::string::npos);
    }
    EXPECT_THROW((void)p.recipient("big@example.com"), relay::Fatal);
}

TEST_F(PipelineTest, CanonicalLoopDefers) {
    cfg_.rewrite.canonical_maps = {"inline:{a@example.com=b@example.com, b@example.com=a@example.com}"};
    Pipeline p(cfg_);
    EXPECT_THROW((void)p.sender("a@example.com"), relay::Fatal);
}

TEST_F(PipelineTest, AliasesForLocalRecipients) {
    auto inc = file("list", "# team\ninc1@example.com\ninc2@example.com, inc1@example.com\n");
    cfg_.rewrite.alias_maps = {"hash:" + file("aliases",
        "postmaster: root\nroot: hostmaster@example.com, root\n"
        "www-data: webmaster@example.com\nlog: /var/log/x, \"|/bin/cat\"\n"
        "team: :include:" + inc + "\nmixed: |/bin/true, alice@example.org\n")};
    cfg_.rewrite.local_domains = {"example.net"};
    Pipeline p(cfg_);
    EXPECT_EQ(p.recipient("postmaster"), (V{"hostmaster@example.com", "root@torres.example.net"}));
    EXPECT_EQ(p.recipient("www-data@example.net"), V{"webmaster@example.com"});
    EXPECT_EQ(p.recipient("www-data@example.org"), V{"www-data@example.org"});  // not local
    EXPECT_EQ(p.recipient("log"), V{});                                          // only refused targets
    EXPECT_EQ(p.recipient("team"), (V{"inc1@example.com", "inc2@example.com"}));
    EXPECT_EQ(p.recipient("mixed"), V{"alice@example.org"});
}

TEST_F(PipelineTest, MissingAliasFileIsNotFatalButOtherTablesAre) {
    cfg_.rewrite.alias_maps = {"hash:" + (dir_ / "nope").string()};
    Pipeline p(cfg_);
    EXPECT_EQ(p.recipient("root"), V{"root@torres.example.net"});
    ASSERT_EQ(p.warnings().size(), 1u);
    cfg_.rewrite.canonical_maps = {"hash:" + (dir_ / "nope").string()};
    try {
        Pipeline q(cfg_);
        FAIL();
    } catch (const relay::Fatal &f) {
        EXPECT_EQ(f.code(), relay::Exit::Config);
    }
}

TEST_F(PipelineTest, MasqueradeWithExceptions) {
    cfg_.rewrite.masquerade_domains = {"!foo.example.com example.com"};
    cfg_.rewrite.masquerade_exceptions = {"root"};
    Pipeline p(cfg_);
    EXPECT_EQ(p.sender("user@any.thing.else.example.com"), "user@example.com");
    EXPECT_EQ(p.sender("user@any.foo.example.com"), "user@any.foo.example.com");
    EXPECT_EQ(p.sender("user@foo.example.com"), "user@foo.example.com");
    EXPECT_EQ(p.sender("root@host.example.com"), "root@host.example.com");
    // envelope recipients are not in the default masquerade_classes
    EXPECT_EQ(p.recipient("user@host.example.com"), V{"user@host.example.com"});
}

TEST_F(PipelineTest, ForceFromSetsTheEnvelopeSender) {
    cfg_.rewrite.force_from = "torres@example.net";
    Pipeline p(cfg_);
    EXPECT_EQ(p.sender("root"), "torres@example.net");
    EXPECT_EQ(p.sender(""), "");  // bounces keep the null sender
}

TEST_F(PipelineTest, TraceNamesTableAndLine) {
    cfg_.rewrite.virtual_alias_maps = {"regexp:" + file("v", "# c\n/^nobody@/ x@example.com\n/^root@/ torres@example.net\n")};
    Pipeline p(cfg_);
    std::vector<relay::rewrite::Step> steps;
    p.set_trace([&](const relay::rewrite::Step &s) { steps.push_back(s); });
    (void)p.recipient("root");
    ASSERT_EQ(steps.size(), 2u);
    EXPECT_EQ(steps[0].what, "qualify");
    EXPECT_EQ(steps[1].what, "virtual_alias_maps");
    EXPECT_EQ(steps[1].line, 3);
    EXPECT_EQ(steps[1].to, "torres@example.net");
}

}  // namespace
