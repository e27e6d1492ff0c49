// The SMTP session state machine, driven without sockets.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "server/policy.hpp"
#include "server/session.hpp"

using namespace relay;
using namespace relay::server;

namespace {

class FakeHooks : public SessionHooks {
public:
    void authenticate(const std::string &user, const std::string &password,
                      std::function<void(bool)> done) override {
        auth_done = [=] { done(user == "alice@hosted.example" && password == "secret"); };
    }
    void deliver(Transaction tx, std::function<void(std::string)> done) override {
        delivered.push_back(std::move(tx));
        deliver_done = [done] { done("250 2.0.0 Ok: queued as TEST"); };
    }
    bool auth_blocked() override { return failures >= 3; }
    void auth_failed() override { ++failures; }
    std::function<void()> auth_done, deliver_done;
    std::vector<Transaction> delivered;
    int failures = 0;
};

std::shared_ptr<Runtime> runtime(const std::string &extra = "", bool tls = true) {
    auto cfg = config::parse("myhostname = \"mx.example.net\"\n[server]\nmynetworks = [\"192.0.2.0/24\"]\n"
                             "virtual_mailbox_domains = [\"hosted.example\"]\n"
                             "virtual_mailbox_maps = [\"inline:{ alice@hosted.example=h/alice/ }\"]\n"
                             "virtual_alias_maps = [\"inline:{ info@hosted.example=alice@hosted.example }\"]\n"
                             "sender_login_maps = [\"inline:{ alice@hosted.example=alice@hosted.example }\"]\n"
                             "virtual_mailbox_base = \"/var/mail/vhosts\"\n" + extra,
                             "test.toml");
    EXPECT_TRUE(cfg.ok()) << (cfg.ok() ? "" : cfg.error().message);
    auto rt = std::make_shared<Runtime>();
    rt->cfg = *cfg;
    auto p = Policy::load(rt->cfg);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    rt->policy = std::move(*p);
    rt->tls = tls;
    return rt;
}

struct Harness {
    explicit Harness(config::ListenerKind kind = config::ListenerKind::Smtp,
                     const std::string &ip = "198.51.100.7", const std::string &extra = "")
        : rt(runtime(extra)) {
        ClientInfo info;
        info.kind = kind;
        info.address = *IpAddress::parse(ip);
        info.mynetworks = rt->policy->in_mynetworks(info.address);
        session = std::make_unique<Session>(rt, info, hooks);
        session->greet();
        session->take_output();
    }
    // Sends TEXT and returns all output.
    std::string say(const std::string &text) {
        session->feed(text);
        session->process();
        return session->take_output();
    }
    std::shared_ptr<Runtime> rt;
    FakeHooks hooks;
    std::unique_ptr<Session> session;
};

}  // namespace

TEST(ServerSession, HeloRequiredAndEhloAdvertises) {
    Harness h;
    EXPECT_EQ(h.say("MAIL FROM:<a@b.example>\r\n"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
    std::string ehlo = h.say("EHLO client.example\r\n");
    for (const char *kw : {"PIPELINING", "SIZE ", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
                           "STARTTLS", "DSN"})
        EXPECT_NE(ehlo.find(kw), std::string::npos) << kw;
    EXPECT_EQ(ehlo.find("AUTH"), std::string::npos);  // never on port 25, never without TLS
}

TEST(ServerSession, OpenRelayRefused) {
    Harness h;
    h.say("EHLO c.example\r\n");
    EXPECT_EQ(h.say("MAIL FROM:<x@outside.example>\r\n"), "250 2.1.0 Ok\r\n");
    EXPECT_EQ(h.say("RCPT TO:<victim@elsewhere.example>\r\n"),
              "554 5.7.1 <victim@elsewhere.example>: Relay access denied\r\n");
    EXPECT_EQ(h.say("RCPT TO:<victim%elsewhere.example@hosted.example>\r\n").substr(0, 9), "550 5.1.1");
    EXPECT_EQ(h.say("RCPT TO:<alice@hosted.example>\r\n"), "250 2.1.5 Ok\r\n");
    EXPECT_EQ(h.say("RCPT TO:<info@hosted.example>\r\n"), "250 2.1.5 Ok\r\n");
    EXPECT_EQ(h.say("RCPT TO:<nobody@hosted.example>\r\n").substr(0, 9), "550 5.1.1");
}

TEST(ServerSession, MynetworksMayRelay) {
    Harness h(config::ListenerKind::Smtp, "192.0.2.9");
    h.say("HELO c.example\r\n");
    h.say("MAIL FROM:<x@outside.example>\r\n");
    EXPECT_EQ(h.say("RCPT TO:<someone@elsewhere.example>\r\n"), "250 2.1.5 Ok\r\n");
}

TEST(ServerSession, NonFqdnRefused) {
    Harness h;
    h.say("EHLO c.example\r\n");
    EXPECT_EQ(h.say("MAIL FROM:<x@localhost>\r\n").substr(0, 9), "504 5.5.2");
    h.say("MAIL FROM:<>\r\n");
    EXPECT_EQ(h.say("RCPT TO:<alice@hosted>\r\n").substr(0, 9), "504 5.5.2");
}

TEST(ServerSession, DataCommitsBeforeReplying) {
    Harness h;
    h.say("EHLO c.example\r\nMAIL FROM:<x@outside.example> BODY=8BITMIME RET=HDRS ENVID=abc+2B\r\n");
    h.say("RCPT TO:<alice@hosted.example> NOTIFY=SUCCESS,FAILURE\r\n");
    EXPECT_EQ(h.say("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    // The reply does not come before the hook has finished; a pipelined
    // command waits behind it.
    EXPECT_EQ(h.say("Subject: t\r\n\r\n..dot\r\n.\r\nNOOP\r\n"), "");
    EXPECT_TRUE(h.session->busy());
    ASSERT_EQ(h.hooks.delivered.size(), 1u);
    const Transaction &tx = h.hooks.delivered[0];
    EXPECT_EQ(tx.body_type, "8BITMIME");
    EXPECT_EQ(tx.ret, "HDRS");
    EXPECT_EQ(tx.envid, "abc+");
    ASSERT_EQ(tx.local.size(), 1u);
    EXPECT_EQ(tx.local[0].maildir, "/var/mail/vhosts/h/alice/");
    EXPECT_EQ(tx.message.rfind("Received: from c.example (unknown [198.51.100.7])", 0), 0u);
    EXPECT_NE(tx.message.find("\n.dot\n"), std::string::npos);
    h.hooks.deliver_done();
    h.session->process();
    EXPECT_EQ(h.session->take_output(), "250 2.0.0 Ok: queued as TEST\r\n250 2.0.0 Ok\r\n");
}

TEST(ServerSession, TooManyHops) {
    Harness h;
    h.say("EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<alice@hosted.example>\r\nDATA\r\n");
    std::string msg;
    for (int i = 0; i < 50; ++i) msg += "Received: from x by y; date\r\n";
    EXPECT_EQ(h.say(msg + "\r\nbody\r\n.\r\n"), "554 5.4.6 Too many hops\r\n");
    EXPECT_TRUE(h.hooks.delivered.empty());
}

TEST(ServerSession, BareCrInDataRefused) {
    Harness h;
    h.say("EHLO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<alice@hosted.example>\r\nDATA\r\n");
    EXPECT_EQ(h.say("a\rb\r\n.\r\n"), "550 5.5.2 Error: bare <CR> received\r\n");
    EXPECT_TRUE(h.hooks.delivered.empty());
}

TEST(ServerSession, BareLfRejectMode) {
    Harness h(config::ListenerKind::Smtp, "198.51.100.7", "forbid_bare_newline = \"reject\"\n");
    EXPECT_EQ(h.say("EHLO c.example\n"), "521 5.5.2 mx.example.net Error: bare <LF> received\r\n");
    EXPECT_EQ(h.session->action(), SessionAction::Close);
}

TEST(ServerSession, StartTlsDiscardsPipelinedCommands) {
    Harness h;
    h.say("EHLO c.example\r\n");
    EXPECT_EQ(h.say("STARTTLS\r\nMAIL FROM:<evil@outside.example>\r\n"), "220 2.0.0 Ready to start TLS\r\n");
    EXPECT_EQ(h.session->action(), SessionAction::StartTls);
    h.session->tls_started("TLSv1.3");
    // The injected MAIL is gone and the session starts over: no HELO yet.
    EXPECT_EQ(h.say("RCPT TO:<alice@hosted.example>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
    EXPECT_EQ(h.say("MAIL FROM:<a@outside.example>\r\n"), "503 5.5.1 Error: send HELO/EHLO first\r\n");
}

TEST(ServerSession, SubmissionNeedsTlsThenAuth) {
    Harness h(config::ListenerKind::Submission);
    std::string ehlo = h.say("EHLO c.example\r\n");
    EXPECT_EQ(ehlo.find("AUTH"), std::string::npos);
    EXPECT_EQ(h.say("AUTH PLAIN AGFsaWNlQGhvc3RlZC5leGFtcGxlAHNlY3JldA==\r\n"),
              "530 5.7.0 Must issue a STARTTLS command first\r\n");
    EXPECT_EQ(h.say("MAIL FROM:<alice@hosted.example>\r\n"),
              "530 5.7.0 Must issue a STARTTLS command first\r\n");
    h.say("STARTTLS\r\n");
    h.session->tls_started("TLSv1.3");
    EXPECT_NE(h.say("EHLO c.example\r\n").find("250-AUTH PLAIN LOGIN"), std::string::npos);
    EXPECT_EQ(h.say("MAIL FROM:<alice@hosted.example>\r\n"), "530 5.7.0 Authentication required\r\n");
    EXPECT_EQ(h.say("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    EXPECT_EQ(h.say("YWxpY2VAaG9zdGVkLmV4YW1wbGU=\r\n"), "334 UGFzc3dvcmQ6\r\n");
    EXPECT_EQ(h.say("c2VjcmV0\r\n"), "");
    h.hooks.auth_done();
    h.session->process();
    EXPECT_EQ(h.session->take_output(), "235 2.7.0 Authentication successful\r\n");
    // Authenticated: may relay, but only as an address the user owns.
    EXPECT_EQ(h.say("MAIL FROM:<bob@hosted.example>\r\n").substr(0, 9), "553 5.7.1");
    EXPECT_EQ(h.say("MAIL FROM:<alice@hosted.example>\r\n"), "250 2.1.0 Ok\r\n");
    EXPECT_EQ(h.say("RCPT TO:<friend@elsewhere.example>\r\n"), "250 2.1.5 Ok\r\n");
}

TEST(ServerSession, AuthFailuresAreLimited) {
    Harness h(config::ListenerKind::Submission);
    h.session->tls_started("TLSv1.3");
    h.say("EHLO c.example\r\n");
    for (int i = 0; i < 3; ++i) {
        h.say("AUTH PLAIN AGFsaWNlQGhvc3RlZC5leGFtcGxlAHdyb25n\r\n");
        h.hooks.auth_done();
        h.session->process();
        EXPECT_EQ(h.session->take_output().substr(0, 9), "535 5.7.8");
    }
    EXPECT_EQ(h.say("AUTH PLAIN AGFsaWNlQGhvc3RlZC5leGFtcGxlAHNlY3JldA==\r\n").substr(0, 9), "421 4.7.0");
    EXPECT_EQ(h.session->action(), SessionAction::Close);
}

TEST(ServerSession, UnauthenticatedUseOfOwnedSenderRefused) {
    Harness h;
    h.say("EHLO c.example\r\n");
    EXPECT_EQ(h.say("MAIL FROM:<alice@hosted.example>\r\n").substr(0, 9), "553 5.7.1");
}

TEST(ServerSession, HardErrorLimitEndsSession) {
    Harness h(config::ListenerKind::Smtp, "198.51.100.7", "soft_error_limit = 2\nhard_error_limit = 4\n");
    std::string out;
    for (int i = 0; i < 3; ++i) out += h.say("BOGUS\r\n");
    EXPECT_GT(h.session->take_delay().count(), 0);  // tarpit after the soft limit
    out += h.say("BOGUS\r\n");
    EXPECT_NE(out.find("421 4.7.0 mx.example.net Error: too many errors"), std::string::npos);
    EXPECT_EQ(h.session->action(), SessionAction::Close);
}

TEST(ServerSession, RecipientLimit) {
    Harness h(config::ListenerKind::Smtp, "192.0.2.1", "recipient_limit = 2\n");
    h.say("EHLO c.example\r\nMAIL FROM:<>\r\n");
    h.say("RCPT TO:<a@x.example>\r\nRCPT TO:<b@x.example>\r\n");
    EXPECT_EQ(h.say("RCPT TO:<c@x.example>\r\n"), "452 4.5.3 Error: too many recipients\r\n");
}

TEST(ServerSession, VrfyHelpQuitAndHttp) {
    Harness h;
    EXPECT_EQ(h.say("VRFY root\r\n").substr(0, 3), "252");
    EXPECT_EQ(h.say("HELP\r\n").substr(0, 3), "214");
    EXPECT_EQ(h.say("NOOP\r\n"), "250 2.0.0 Ok\r\n");
    EXPECT_EQ(h.say("QUIT\r\n"), "221 2.0.0 Bye\r\n");
    Harness web;
    EXPECT_EQ(web.say("GET / HTTP/1.1\r\n").substr(0, 3), "221");
    EXPECT_EQ(web.session->action(), SessionAction::Close);
}
