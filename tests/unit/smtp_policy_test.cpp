// The delivery policy table, exhaustively: every phase against every class
// of reply and every class of libcurl failure.
#include <gtest/gtest.h>

#include "smtp/policy.hpp"

using namespace relay::smtp;

namespace {

const Phase all_phases[] = {Phase::Connect, Phase::Greeting, Phase::Tls, Phase::Helo, Phase::Auth,
                            Phase::Mail,    Phase::Rcpt,     Phase::Data, Phase::Dot, Phase::Local};
const Phase connection_phases[] = {Phase::Connect, Phase::Greeting, Phase::Tls, Phase::Helo,
                                   Phase::Auth};
const Phase message_phases[] = {Phase::Mail, Phase::Data, Phase::Dot};

Decision reply(Phase p, int code, const char *enh = "") {
    return decide(Observation{p, CURLE_OK, code, enh});
}
Decision curl(Phase p, CURLcode c, int code = 0) { return decide(Observation{p, c, code, ""}); }

}  // namespace

TEST(SmtpPolicy, RcptRepliesDecideThatRecipientOnly) {
    for (int code : {250, 251, 252}) {
        auto d = reply(Phase::Rcpt, code);
        EXPECT_EQ(d.outcome, Outcome::Delivered) << code;
        EXPECT_EQ(d.scope, Scope::Recipient);
    }
    for (int code : {450, 451, 452, 454, 499}) {
        auto d = reply(Phase::Rcpt, code);
        EXPECT_EQ(d.outcome, Outcome::Deferred) << code;
        EXPECT_EQ(d.scope, Scope::Recipient);
        EXPECT_FALSE(d.config_failure);
    }
    for (int code : {550, 551, 553, 554, 501, 503}) {
        auto d = reply(Phase::Rcpt, code, "5.1.1");
        EXPECT_EQ(d.outcome, Outcome::Bounced) << code;
        EXPECT_EQ(d.scope, Scope::Recipient);
        EXPECT_FALSE(d.config_failure);
    }
}

TEST(SmtpPolicy, Rcpt552IsTooManyRecipientsAndDefers) {
    auto d = reply(Phase::Rcpt, 552, "5.5.3");
    EXPECT_EQ(d.outcome, Outcome::Deferred);
    EXPECT_EQ(d.scope, Scope::Recipient);
}

TEST(SmtpPolicy, MessagePhases5xxBounceAll4xxDefer) {
    for (Phase p : message_phases) {
        for (int code : {550, 552, 554, 501}) {
            auto d = reply(p, code, "5.6.0");
            EXPECT_EQ(d.outcome, Outcome::Bounced) << to_string(p) << " " << code;
            EXPECT_EQ(d.scope, Scope::Message);
            EXPECT_FALSE(d.config_failure);
        }
        for (int code : {450, 451, 452}) {
            auto d = reply(p, code, "4.3.0");
            EXPECT_EQ(d.outcome, Outcome::Deferred) << to_string(p) << " " << code;
            EXPECT_EQ(d.scope, Scope::Message);
        }
        auto ok = reply(p, p == Phase::Data ? 354 : 250);
        EXPECT_EQ(ok.outcome, Outcome::Delivered);
    }
}

TEST(SmtpPolicy, AuthenticationRequiredAtMailIsConfigNotBounce) {
    auto d = reply(Phase::Mail, 530, "5.7.0");
    EXPECT_EQ(d.outcome, Outcome::Deferred);
    EXPECT_EQ(d.scope, Scope::Connection);
    EXPECT_TRUE(d.config_failure);
    auto e = reply(Phase::Mail, 550, "5.7.0");
    EXPECT_EQ(e.outcome, Outcome::Deferred);
    EXPECT_TRUE(e.config_failure);
    // Other 5.7.x at MAIL (e.g. a policy rejection of the sender) bounce.
    EXPECT_EQ(reply(Phase::Mail, 553, "5.7.1").outcome, Outcome::Bounced);
}

TEST(SmtpPolicy, ConnectionPhaseRepliesAlwaysDefer) {
    for (Phase p : connection_phases) {
        for (int code : {421, 450, 454, 500, 502, 550, 554}) {
            auto d = reply(p, code);
            EXPECT_EQ(d.outcome, Outcome::Deferred) << to_string(p) << " " << code;
            EXPECT_EQ(d.scope, Scope::Connection);
        }
    }
}

TEST(SmtpPolicy, PermanentAuthAndStarttlsRefusalsAreConfigFailures) {
    EXPECT_TRUE(reply(Phase::Auth, 535, "5.7.8").config_failure);
    EXPECT_TRUE(reply(Phase::Auth, 534, "5.7.9").config_failure);
    EXPECT_FALSE(reply(Phase::Auth, 454, "4.7.0").config_failure);
    EXPECT_TRUE(reply(Phase::Tls, 554).config_failure);
    EXPECT_FALSE(reply(Phase::Tls, 454).config_failure);
    // A refused greeting or EHLO is the server's problem, not our setup.
    EXPECT_FALSE(reply(Phase::Greeting, 554).config_failure);
    EXPECT_FALSE(reply(Phase::Helo, 550).config_failure);
}

TEST(SmtpPolicy, Reply421EndsTheConnectionInEveryPhase) {
    for (Phase p : all_phases) {
        if (p == Phase::Local) continue;
        auto d = reply(p, 421, "4.4.2");
        EXPECT_EQ(d.outcome, Outcome::Deferred) << to_string(p);
        EXPECT_EQ(d.scope, Scope::Connection) << to_string(p);
    }
}

TEST(SmtpPolicy, UnexpectedReplyClassesDefer) {
    for (Phase p : message_phases) {
        EXPECT_EQ(reply(p, 100).outcome, Outcome::Deferred);
        EXPECT_EQ(reply(p, 600).outcome, Outcome::Deferred);
    }
    EXPECT_EQ(reply(Phase::Rcpt, 199).outcome, Outcome::Deferred);
}

TEST(SmtpPolicy, NetworkFailuresDeferTheConnectionInEveryPhase) {
    const CURLcode network[] = {CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT,
                                CURLE_OPERATION_TIMEDOUT,   CURLE_GOT_NOTHING,
                                CURLE_SEND_ERROR,           CURLE_RECV_ERROR,
                                CURLE_WEIRD_SERVER_REPLY,   CURLE_FTP_ACCEPT_TIMEOUT};
    for (Phase p : all_phases) {
        if (p == Phase::Local) continue;
        for (CURLcode c : network) {
            auto d = curl(p, c);
            EXPECT_EQ(d.outcome, Outcome::Deferred) << to_string(p) << " " << c;
            EXPECT_EQ(d.scope, Scope::Connection) << to_string(p) << " " << c;
            EXPECT_FALSE(d.config_failure) << to_string(p) << " " << c;
        }
    }
}

TEST(SmtpPolicy, TlsAndAuthFailuresAreConfigFailures) {
    const CURLcode tls[] = {CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR,
                            CURLE_SSL_CERTPROBLEM,          CURLE_SSL_CIPHER,
                            CURLE_SSL_CACERT_BADFILE,       CURLE_SSL_PINNEDPUBKEYNOTMATCH,
                            CURLE_SSL_ISSUER_ERROR,         CURLE_USE_SSL_FAILED,
                            CURLE_LOGIN_DENIED};
    for (Phase p : connection_phases) {
        for (CURLcode c : tls) {
            auto d = curl(p, c);
            EXPECT_EQ(d.outcome, Outcome::Deferred) << c;
            EXPECT_EQ(d.scope, Scope::Connection) << c;
            EXPECT_TRUE(d.config_failure) << c;
        }
    }
}

TEST(SmtpPolicy, LocalSetupErrorsAreConfigFailures) {
    for (CURLcode c : {CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_NOT_BUILT_IN,
                       CURLE_UNKNOWN_OPTION, CURLE_BAD_FUNCTION_ARGUMENT}) {
        auto d = curl(Phase::Connect, c);
        EXPECT_EQ(d.outcome, Outcome::Deferred);
        EXPECT_TRUE(d.config_failure);
    }
}

TEST(SmtpPolicy, LocalReadFailuresDeferOnlyTheMessage) {
    for (CURLcode c : {CURLE_READ_ERROR, CURLE_ABORTED_BY_CALLBACK, CURLE_OUT_OF_MEMORY}) {
        for (Phase p : {Phase::Dot, Phase::Data, Phase::Local}) {
            auto d = curl(p, c);
            EXPECT_EQ(d.outcome, Outcome::Deferred);
            EXPECT_EQ(d.scope, Scope::Message);
            EXPECT_FALSE(d.config_failure);
        }
    }
    auto d = decide(Observation{Phase::Local, CURLE_OK, 0, ""});
    EXPECT_EQ(d.outcome, Outcome::Deferred);
}

TEST(SmtpPolicy, AFailureReplyBeatsTheCurlCode) {
    // curl says SEND_ERROR for "MAIL failed: 550"; the reply decides.
    auto d = curl(Phase::Mail, CURLE_SEND_ERROR, 550);
    EXPECT_EQ(d.outcome, Outcome::Bounced);
    auto e = curl(Phase::Dot, CURLE_RECV_ERROR, 451);
    EXPECT_EQ(e.outcome, Outcome::Deferred);
    EXPECT_EQ(e.scope, Scope::Message);
    // A 2xx reply followed by a network error: the network error decides.
    auto f = curl(Phase::Tls, CURLE_PEER_FAILED_VERIFICATION, 220);
    EXPECT_TRUE(f.config_failure);
    EXPECT_EQ(f.outcome, Outcome::Deferred);
}

TEST(SmtpPolicy, NoFailureIsDelivered) {
    EXPECT_EQ(decide(Observation{Phase::Dot, CURLE_OK, 0, ""}).outcome, Outcome::Delivered);
    EXPECT_EQ(decide(Observation{Phase::Dot, CURLE_OK, 250, "2.0.0"}).outcome, Outcome::Delivered);
}

TEST(SmtpPolicy, NeverBouncesOutsideRcptMailDataDot) {
    // Exhaustive sweep: no reply code and no curl code bounces in a
    // connection phase or locally.
    for (Phase p : {Phase::Connect, Phase::Greeting, Phase::Tls, Phase::Helo, Phase::Auth,
                    Phase::Local}) {
        for (int code = 0; code < 700; code += 1) {
            for (CURLcode c : {CURLE_OK, CURLE_SEND_ERROR, CURLE_LOGIN_DENIED}) {
                auto d = decide(Observation{p, c, code, ""});
                EXPECT_NE(d.outcome, Outcome::Bounced) << to_string(p) << " " << code << " " << c;
            }
        }
    }
}

TEST(SmtpPolicy, Names) {
    EXPECT_STREQ(to_string(Outcome::Delivered), "sent");
    EXPECT_STREQ(to_string(Outcome::Deferred), "deferred");
    EXPECT_STREQ(to_string(Outcome::Bounced), "bounced");
    EXPECT_STREQ(in_reply_to(Phase::Rcpt), "in reply to RCPT TO command");
    EXPECT_STREQ(in_reply_to(Phase::Dot), "in reply to end of DATA command");
}

TEST(SmtpPolicy, ParseReplyCode) {
    int code = 0;
    std::string_view enh;
    ASSERT_TRUE(parse_reply_code("550 5.1.1 <x@y>: unknown", code, enh));
    EXPECT_EQ(code, 550);
    EXPECT_EQ(enh, "5.1.1");
    ASSERT_TRUE(parse_reply_code("250-SIZE 1000", code, enh));
    EXPECT_EQ(code, 250);
    EXPECT_EQ(enh, "");
    ASSERT_TRUE(parse_reply_code("451 4.7.650 greylisted", code, enh));
    EXPECT_EQ(enh, "4.7.650");
    ASSERT_TRUE(parse_reply_code("220", code, enh));
    EXPECT_EQ(code, 220);
    ASSERT_TRUE(parse_reply_code("250 2.0.0", code, enh));
    EXPECT_EQ(enh, "2.0.0");
    ASSERT_TRUE(parse_reply_code("250 1.2.3 not enhanced", code, enh));
    EXPECT_EQ(enh, "");
    ASSERT_TRUE(parse_reply_code("250 2.0 short", code, enh));
    EXPECT_EQ(enh, "");
    EXPECT_FALSE(parse_reply_code("25", code, enh));
    EXPECT_FALSE(parse_reply_code("abc def", code, enh));
    EXPECT_FALSE(parse_reply_code("2500 x", code, enh));
}
