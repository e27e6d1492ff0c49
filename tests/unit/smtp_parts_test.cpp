// relayhost parsing, the debug-stream transcript, the CRLF message reader,
// credentials and the libcurl loader.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "smtp/credentials.hpp"
#include "smtp/curl_api.hpp"
#include "smtp/message_reader.hpp"
#include "smtp/relayhost.hpp"
#include "smtp/transcript.hpp"

using namespace relay;
using namespace relay::smtp;
using config::TlsMode;

// ---- relayhost ----

TEST(SmtpRelayhost, PostfixForms) {
    auto a = parse_relayhost("[mail.example.net]:587", TlsMode::StartTls);
    ASSERT_TRUE(a) << a.error().message;
    EXPECT_EQ(a->host, "mail.example.net");
    EXPECT_EQ(a->port, 587u);
    EXPECT_TRUE(a->bracketed);
    EXPECT_EQ(a->url(TlsMode::StartTls, "client.example.org"),
              "smtp://mail.example.net:587/client.example.org");

    auto b = parse_relayhost("Mail.Example.NET", TlsMode::StartTls);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->host, "mail.example.net");
    EXPECT_EQ(b->port, 25u);
    EXPECT_EQ(b->spec, "Mail.Example.NET");

    auto c = parse_relayhost("mail.example.net", TlsMode::Smtps);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->port, 465u);
    EXPECT_EQ(c->url(TlsMode::Smtps, "h"), "smtps://mail.example.net:465/h");

    auto d = parse_relayhost("mail.example.net:2525", TlsMode::StartTls);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->port, 2525u);
    EXPECT_FALSE(d->bracketed);

    auto e = parse_relayhost("[mail.example.net]:submission", TlsMode::StartTls);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->port, 587u);
    EXPECT_EQ(parse_relayhost("[m.example]:smtps", TlsMode::Smtps)->port, 465u);
}

TEST(SmtpRelayhost, Ipv6NeedsBrackets) {
    auto a = parse_relayhost("[::1]:2525", TlsMode::StartTls);
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->ipv6);
    EXPECT_EQ(a->host, "::1");
    EXPECT_EQ(a->url(TlsMode::StartTls, "h"), "smtp://[::1]:2525/h");
    EXPECT_EQ(a->label(), "[::1]:2525");
    auto b = parse_relayhost("[ipv6:2001:db8::1]", TlsMode::StartTls);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->host, "2001:db8::1");
    EXPECT_EQ(b->port, 25u);
    EXPECT_FALSE(parse_relayhost("::1", TlsMode::StartTls));
    EXPECT_FALSE(parse_relayhost("[::zz]:25", TlsMode::StartTls));
}

TEST(SmtpRelayhost, Rejects) {
    for (const char *bad : {"", "[mail.example.net", "[mail]x", "mail:", "mail:99999",
                            "mail:abc", "[]:25", "-mail", "ma il", "mail/x:25", "[a]:"}) {
        auto r = parse_relayhost(bad, TlsMode::StartTls);
        EXPECT_FALSE(r) << bad;
        if (!r) {
            EXPECT_NE(r.error().message.find("relayhost"), std::string::npos);
        }
    }
}

TEST(SmtpRelayhost, ListsAndHeloEscaping) {
    auto l = parse_relayhosts({"[a.example]:587, b.example", "c.example:26"}, TlsMode::StartTls);
    ASSERT_TRUE(l) << l.error().message;
    ASSERT_EQ(l->size(), 3u);
    EXPECT_EQ((*l)[1].host, "b.example");
    EXPECT_EQ((*l)[2].port, 26u);
    EXPECT_FALSE(parse_relayhosts({}, TlsMode::StartTls));
    auto r = parse_relayhost("a.example", TlsMode::StartTls);
    EXPECT_EQ(r->url(TlsMode::StartTls, "we ird/name"), "smtp://a.example:25/we%20ird%2Fname");
}

// ---- transcript ----

namespace {
void conv(Transcript &t, std::initializer_list<const char *> lines) {
    for (const char *l : lines) {
        std::string s = std::string(l + 2) + "\r\n";
        if (l[0] == '>') t.on_out(s);
        else t.on_in(s);
    }
}
}  // namespace

TEST(SmtpTranscript, MatchesRepliesToCommands) {
    Transcript t;
    t.begin_message();
    conv(t, {"< 220 mx ESMTP", "> EHLO me", "< 250-mx", "< 250-8BITMIME", "< 250-STARTTLS",
             "< 250 SMTPUTF8", "> STARTTLS", "< 220 go ahead", "> EHLO me", "< 250-mx",
             "< 250-AUTH PLAIN LOGIN", "< 250 8BITMIME", "> AUTH PLAIN AGFAAGI=", "< 235 2.7.0 ok",
             "> MAIL FROM:<a@b>", "< 250 2.1.0 ok", "> RCPT TO:<x@y>", "< 250 2.1.5 ok",
             "> RCPT TO:<z@y>", "< 550 5.1.1 <z@y>: unknown", "> DATA", "< 354 go"});
    EXPECT_TRUE(t.greeted());
    EXPECT_TRUE(t.auth_sent());
    EXPECT_EQ(t.phase(), Phase::Dot);
    ASSERT_EQ(t.rcpt_replies().size(), 2u);
    EXPECT_EQ(t.rcpt_replies()[0].code, 250);
    EXPECT_EQ(t.rcpt_replies()[1].code, 550);
    EXPECT_EQ(t.rcpt_replies()[1].enhanced, "5.1.1");
    EXPECT_EQ(t.rcpt_replies()[1].text, "550 5.1.1 <z@y>: unknown");
    EXPECT_TRUE(t.has_capability("AUTH"));
    EXPECT_TRUE(t.has_capability("8BITMIME"));
    EXPECT_FALSE(t.has_capability("STARTTLS"));  // capabilities after TLS replace the old ones
    conv(t, {"< 250 2.0.0 Ok: queued as X1"});
    EXPECT_EQ(t.dot_reply().text, "250 2.0.0 Ok: queued as X1");
    for (auto &l : t.redacted()) EXPECT_EQ(l.find("AGFAAGI="), std::string::npos) << l;
}

TEST(SmtpTranscript, AuthLoginContinuationsAreRedacted) {
    Transcript t;
    t.begin_message();
    conv(t, {"< 220 mx", "> EHLO me", "< 250 AUTH LOGIN", "> AUTH LOGIN", "< 334 VXNlcm5hbWU6",
             "> dXNlcg==", "< 334 UGFzc3dvcmQ6", "> c2VjcmV0", "< 535 5.7.8 bad credentials"});
    EXPECT_EQ(t.phase(), Phase::Auth);
    EXPECT_EQ(t.phase_reply().code, 535);
    for (auto &l : t.redacted()) {
        EXPECT_EQ(l.find("dXNlcg=="), std::string::npos);
        EXPECT_EQ(l.find("c2VjcmV0"), std::string::npos);
    }
}

TEST(SmtpTranscript, PhasesWhileWaiting) {
    Transcript t;
    t.begin_message();
    EXPECT_EQ(t.phase(), Phase::Connect);
    conv(t, {"< 220 mx", "> EHLO me"});
    EXPECT_EQ(t.phase(), Phase::Helo);
    EXPECT_TRUE(t.phase_reply().empty());
    conv(t, {"< 250 STARTTLS", "> STARTTLS", "< 220 ready"});
    EXPECT_EQ(t.phase(), Phase::Tls);  // handshake in progress
    // A reused connection: no greeting, MAIL first.
    t.begin_message();
    conv(t, {"> MAIL FROM:<a@b>"});
    EXPECT_FALSE(t.greeted());
    EXPECT_EQ(t.phase(), Phase::Mail);
    conv(t, {"< 451 4.3.0 later"});
    EXPECT_EQ(t.phase(), Phase::Mail);
    EXPECT_EQ(t.phase_reply().code, 451);
    EXPECT_EQ(t.mail_reply().enhanced, "4.3.0");
}

TEST(SmtpTranscript, SplitChunksAndMultilineJoin) {
    Transcript t;
    t.begin_message();
    t.on_in("22");
    t.on_in("0 mx\r\n");
    t.on_out("MAIL FROM:<a@b>\r\n");
    t.on_in("550-5.7.1 first line\r\n550 5.7.1 second");
    EXPECT_TRUE(t.mail_reply().empty());
    t.on_in(" line\r\n");
    EXPECT_EQ(t.mail_reply().text, "550 5.7.1 first line second line");
    t.on_text("  Trying 192.0.2.7:587...\n");
    EXPECT_EQ(t.tried_ip(), "192.0.2.7");
    t.on_text("  Trying [2001:db8::5]:587...\n");
    EXPECT_EQ(t.tried_ip(), "2001:db8::5");
}

// ---- message reader ----

namespace {
struct TempFile {
    std::string path;
    int fd = -1;
    explicit TempFile(const std::string &content) {
        char tmpl[] = "/tmp/relay-smtp-test-XXXXXX";
        fd = mkstemp(tmpl);
        path = tmpl;
        EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    }
    ~TempFile() {
        close(fd);
        unlink(path.c_str());
    }
};

std::string read_all(MessageReader &r, size_t chunk) {
    std::string out;
    std::string buf(chunk, '\0');
    for (;;) {
        long n = r.read(buf.data(), chunk);
        EXPECT_GE(n, 0);
        if (n <= 0) break;
        out.append(buf.data(), static_cast<size_t>(n));
    }
    return out;
}
}  // namespace

TEST(SmtpMessageReader, LineEndsBecomeCrlf) {
    TempFile f("A: b\n\nline\r\nbare\rcr\r\rx\nend");
    for (size_t chunk : {1, 2, 3, 7, 4096}) {
        MessageReader r(f.fd);
        EXPECT_EQ(read_all(r, chunk), "A: b\r\n\r\nline\r\nbare\r\ncr\r\n\r\nx\r\nend\r\n")
            << chunk;
        EXPECT_FALSE(r.folded());
    }
}

TEST(SmtpMessageReader, DotsAreLeftForCurl) {
    TempFile f(".\n..\n.x\n");
    MessageReader r(f.fd);
    EXPECT_EQ(read_all(r, 100), ".\r\n..\r\n.x\r\n");
}

TEST(SmtpMessageReader, EmptyAndTrailingCr) {
    TempFile e("");
    MessageReader r(e.fd);
    EXPECT_EQ(read_all(r, 10), "");
    TempFile c("x\r");
    MessageReader r2(c.fd);
    EXPECT_EQ(read_all(r2, 10), "x\r\n");
}

TEST(SmtpMessageReader, LongLinesAreBroken) {
    std::string hdr = "Subject: " + std::string(1500, 'h');
    std::string body(2000, 'b');
    TempFile f(hdr + "\n\n" + body + "\n");
    MessageReader r(f.fd);
    std::string out = read_all(r, 333);
    EXPECT_TRUE(r.folded());
    size_t start = 0, lines = 0;
    bool saw_blank = false;
    while (start < out.size()) {
        size_t e = out.find("\r\n", start);
        ASSERT_NE(e, std::string::npos);
        std::string line = out.substr(start, e - start);
        EXPECT_LE(line.size(), MessageReader::max_line);
        if (lines == 1) {
            EXPECT_EQ(line[0], ' ');  // header continuation
        }
        if (line.empty()) saw_blank = true;
        if (saw_blank && !line.empty()) {
            EXPECT_NE(line[0], ' ');  // body: plain break
        }
        start = e + 2;
        ++lines;
    }
    EXPECT_TRUE(saw_blank);
    // Exactly-998 is allowed unchanged.
    TempFile g(std::string(998, 'z') + "\n");
    MessageReader r3(g.fd);
    EXPECT_EQ(read_all(r3, 4096), std::string(998, 'z') + "\r\n");
    EXPECT_FALSE(r3.folded());
}

TEST(SmtpMessageReader, LargeFileStreamsInChunks) {
    std::string content;
    for (int i = 0; i < 20000; ++i) content += "line " + std::to_string(i) + "\n";
    TempFile f(content);
    MessageReader r(f.fd);
    std::string out = read_all(r, 16384);
    EXPECT_EQ(r.bytes_in(), content.size());
    EXPECT_EQ(out.size(), content.size() + 20000);
}

TEST(SmtpMessageReader, ReadErrorReported) {
    MessageReader r(-1);
    char buf[16];
    EXPECT_EQ(r.read(buf, sizeof buf), -1);
    EXPECT_EQ(r.error(), EBADF);
}

// ---- credentials ----

namespace {
std::string write_file(const std::string &name, const std::string &text, mode_t mode) {
    std::string path = std::string("/tmp/relay-smtp-cred-") + std::to_string(getpid()) + "-" + name;
    {
        std::ofstream o(path);
        o << text;
    }
    chmod(path.c_str(), mode);
    return path;
}
}  // namespace

TEST(SmtpCredentials, SecretFileModeChecked) {
    auto ok = write_file("ok", "pw line\nsecond\n", 0600);
    auto r = read_secret_file(ok, "password_file");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(first_line(r->str()), "pw line");
    auto loose = write_file("loose", "hunter2\n", 0644);
    auto e = read_secret_file(loose, "password_file");
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().message.find("mode 0644"), std::string::npos);
    EXPECT_EQ(e.error().message.find("hunter2"), std::string::npos);
    auto g = write_file("group", "pw\n", 0640);
    EXPECT_FALSE(read_secret_file(g, "password_file"));
    EXPECT_FALSE(read_secret_file("/nonexistent/pw", "password_file"));
    unlink(ok.c_str());
    unlink(loose.c_str());
    unlink(g.c_str());
}

TEST(SmtpCredentials, SecretCommand) {
    auto r = run_secret_command("echo 'tok en'; echo second", "password_command");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->str(), "tok en");
    auto f = run_secret_command("exit 2", "password_command");
    ASSERT_FALSE(f);
    EXPECT_NE(f.error().message.find("status 2"), std::string::npos);
    auto empty = run_secret_command("true", "password_command");
    EXPECT_FALSE(empty);
    // stdin is /dev/null: a command that reads it does not hang.
    auto cat = run_secret_command("cat; echo x", "password_command");
    ASSERT_TRUE(cat);
    EXPECT_EQ(cat->str(), "x");
}

TEST(SmtpCredentials, PostfixPasswordMapLookupOrder) {
    std::string text =
        "# comment\n"
        "\n"
        "mail.example.net    host-user:host-pw\n"
        "[mail.example.net]:587 port-user:port:pw\n"
        "broken-line-without-value\n"
        "other.example other:x\n";
    auto r = parse_relayhost("[mail.example.net]:587", TlsMode::StartTls);
    std::string user;
    Secret pw;
    ASSERT_TRUE(lookup_sasl_password(text, "sasl_passwd", *r, user, pw));
    EXPECT_EQ(user, "port-user");
    EXPECT_EQ(pw.str(), "port:pw");  // only the first colon separates
    auto r2 = parse_relayhost("[mail.example.net]:submission", TlsMode::StartTls);
    ASSERT_TRUE(lookup_sasl_password(text, "sasl_passwd", *r2, user, pw));
    EXPECT_EQ(user, "port-user");  // [host]:587 is the same destination
    auto r3 = parse_relayhost("mail.example.net:2525", TlsMode::StartTls);
    ASSERT_TRUE(lookup_sasl_password(text, "sasl_passwd", *r3, user, pw));
    EXPECT_EQ(user, "host-user");
    auto r4 = parse_relayhost("unknown.example", TlsMode::StartTls);
    EXPECT_FALSE(lookup_sasl_password(text, "sasl_passwd", *r4, user, pw));
}

TEST(SmtpCredentials, LoadCredentialsSources) {
    config::SmtpConfig c;
    auto relay = *parse_relayhost("[mail.example.net]:587", TlsMode::StartTls);
    auto none = load_credentials(c, relay);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->wanted());
    c.username = "u";
    EXPECT_FALSE(load_credentials(c, relay));  // a user name with no password source
    c.password_command = "echo pw";
    auto cmd = load_credentials(c, relay);
    ASSERT_TRUE(cmd) << cmd.error().message;
    EXPECT_EQ(cmd->password.str(), "pw");
    c.password_command.clear();
    auto pwf = write_file("pwf", "filepw\n", 0600);
    c.password_file = pwf;
    auto file = load_credentials(c, relay);
    ASSERT_TRUE(file);
    EXPECT_EQ(file->password.str(), "filepw");
    auto maps = write_file("maps", "[mail.example.net]:587 mapuser:mappw\n", 0600);
    c.sasl_password_maps = "hash:" + maps;
    auto m = load_credentials(c, relay);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->username, "mapuser");
    EXPECT_EQ(m->password.str(), "mappw");
    unlink(pwf.c_str());
    unlink(maps.c_str());
}

TEST(SmtpCredentials, SecretIsWipedOnMove) {
    Secret a(std::string("topsecret"));
    Secret b(std::move(a));
    EXPECT_EQ(b.str(), "topsecret");
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): checking the wipe
    b.wipe();
    EXPECT_TRUE(b.empty());
}

// ---- libcurl loader ----

TEST(SmtpCurlApi, LoadsAtRunTime) {
    auto api = load_curl();
    ASSERT_TRUE(api) << api.error().message;
    EXPECT_NE((*api)->easy_init, nullptr);
    EXPECT_STRNE((*api)->version, "");
    EXPECT_TRUE((*api)->has_ssl);
}

TEST(SmtpCurlApi, MissingLibraryIsAClearError) {
    auto r = probe_curl("libcurl-does-not-exist.so.99");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("cannot load libcurl-does-not-exist.so.99"), std::string::npos);
    // A library without curl's symbols.
    auto s = probe_curl("libm.so.6");
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("missing symbol curl_global_init"), std::string::npos);
}
