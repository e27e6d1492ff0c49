// smtp_generic_maps on the wire, sender-dependent routes and accounts.
#include <gtest/gtest.h>

#include <cstdint>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.hpp"
#include "smtp/credentials.hpp"
#include "smtp/generic.hpp"
#include "smtp/message_reader.hpp"
#include "smtp/route.hpp"
#include "util/error.hpp"

using namespace relay;
using namespace relay::smtp;

namespace {

std::string write_file(const std::string &name, const std::string &text, mode_t mode = 0600) {
    std::string path = "/tmp/relay-generic-test-" + std::to_string(getpid()) + "-" + name;
    {
        std::ofstream o(path);
        o << text;
    }
    chmod(path.c_str(), mode);
    return path;
}

config::Config make_config(const std::string &extra_top, const std::string &rewrite = "",
                           const std::string &smtp = "") {
    std::string text = "myhostname = \"host.lan\"\nmydomain = \"lan\"\nmyorigin = \"host.lan\"\n" +
                       extra_top + "[queue]\ndirectory = \"/tmp\"\n[rewrite]\n" + rewrite +
                       "[smtp]\n" + smtp;
    auto c = config::parse(text, "test.toml");
    EXPECT_TRUE(c) << (c ? "" : c.error().message);
    return c ? *c : config::Config{};
}

struct Fd {
    std::string path;
    int fd = -1;
    explicit Fd(const std::string &content) {
        path = write_file("msg" + std::to_string(reinterpret_cast<uintptr_t>(this)), content);
        fd = ::open(path.c_str(), O_RDONLY);
    }
    ~Fd() {
        ::close(fd);
        ::unlink(path.c_str());
    }
};

std::string read_all(MessageReader &r, size_t chunk = 4096) {
    std::string out, buf(chunk, '\0');
    for (;;) {
        long n = r.read(buf.data(), chunk);
        EXPECT_GE(n, 0);
        if (n <= 0) break;
        out.append(buf.data(), static_cast<size_t>(n));
    }
    return out;
}

}  // namespace

TEST(SmtpGeneric, PostfixKeyOrder) {
    auto map = write_file("generic",
                          "root@host.lan        admin@example.com\n"
                          "www-data             web@example.com\n"
                          "@host.lan            @example.com\n"
                          "joe@other.test       joe.smith@example.com\n");
    auto cfg = make_config("", "smtp_generic_maps = \"texthash:" + map +
                                   "\"\nrecipient_delimiter = \"+\"\n"
                                   "propagate_unmatched_extensions = [\"canonical\", \"generic\"]\n");
    GenericMaps g(cfg);
    EXPECT_FALSE(g.empty());
    EXPECT_EQ(g.address("root@host.lan"), "admin@example.com");      // full address
    EXPECT_EQ(g.address("www-data@host.lan"), "web@example.com");    // user, local domain
    EXPECT_EQ(g.address("www-data@other.test"), "www-data@other.test");  // user keys: local only
    EXPECT_EQ(g.address("nobody@host.lan"), "nobody@example.com");   // @domain keeps the user
    EXPECT_EQ(g.address("joe+list@other.test"), "joe.smith+list@example.com");  // extension kept
    EXPECT_EQ(g.address("alice@example.net"), "alice@example.net");  // no entry: unchanged
    EXPECT_EQ(g.address(""), "");                                    // null sender stays <>
    // Applied once: the result is not looked up again.
    EXPECT_EQ(g.address("admin@example.com"), "admin@example.com");
    unlink(map.c_str());
}

TEST(SmtpGeneric, NoMapsIsIdentity) {
    auto cfg = make_config("");
    GenericMaps g(cfg);
    EXPECT_TRUE(g.empty());
    EXPECT_EQ(g.address("root@host.lan"), "root@host.lan");
    EXPECT_EQ(g.header_section("From: root@host.lan\n\n"), "From: root@host.lan\n\n");
}

TEST(SmtpGeneric, MissingTableIsFatal) {
    auto cfg = make_config("", "smtp_generic_maps = \"texthash:/nonexistent/generic\"\n");
    EXPECT_THROW(GenericMaps g(cfg), Fatal);
}

TEST(SmtpGeneric, HeaderSectionRewritesOnlyAddresses) {
    auto cfg = make_config("", "smtp_generic_maps = \"inline:{ @host.lan=@example.com }\"\n");
    GenericMaps g(cfg);
    std::string in =
        "From: \"Cron Daemon\" <root@host.lan>\n"
        "To: ops@host.lan, Someone <x@elsewhere.test>\n"
        "Cc: team: a@host.lan, b@host.lan;\n"
        "Reply-To: root@host.lan (the admin)\n"
        "Resent-From: r@host.lan\n"
        "Subject: mail for root@host.lan\n"
        "Message-ID: <123@host.lan>\n"
        "X-Other: root@host.lan\n"
        "\n";
    std::string out = g.header_section(in);
    EXPECT_EQ(out,
              "From: \"Cron Daemon\" <root@example.com>\n"
              "To: ops@example.com, Someone <x@elsewhere.test>\n"
              "Cc: team: a@example.com, b@example.com;\n"
              "Reply-To: root@example.com (the admin)\n"
              "Resent-From: r@example.com\n"
              "Subject: mail for root@host.lan\n"
              "Message-ID: <123@host.lan>\n"
              "X-Other: root@host.lan\n"
              "\n");
    // Untouched sections come back byte for byte.
    std::string plain = "From: a@elsewhere.test\nSubject: x\n\n";
    EXPECT_EQ(g.header_section(plain), plain);
}

TEST(SmtpGeneric, ReaderFiltersHeadersAndStreamsBody) {
    auto cfg = make_config("", "smtp_generic_maps = \"inline:{ @host.lan=@example.com }\"\n");
    GenericMaps g(cfg);
    std::string body;
    for (int i = 0; i < 20000; ++i) body += "From root@host.lan line " + std::to_string(i) + "\n";
    Fd f("From: root@host.lan\nTo: ops@host.lan\n\n" + body);
    int calls = 0;
    MessageReader r(f.fd, [&](std::string_view h) {
        ++calls;
        EXPECT_EQ(h, "From: root@host.lan\nTo: ops@host.lan\n\n");
        return g.header_section(h);
    });
    std::string out = read_all(r, 1000);
    EXPECT_EQ(calls, 1);
    std::string want_body;
    for (int i = 0; i < 20000; ++i)
        want_body += "From root@host.lan line " + std::to_string(i) + "\r\n";
    EXPECT_EQ(out, "From: root@example.com\r\nTo: ops@example.com\r\n\r\n" + want_body);
    EXPECT_FALSE(r.header_unfiltered());
}

TEST(SmtpGeneric, ReaderFilterEdgeCases) {
    auto filter = [](std::string_view h) { return "X-Seen: " + std::to_string(h.size()) + "\n" + std::string(h); };
    {
        Fd f("\nbody only\n");  // no header section at all
        MessageReader r(f.fd, filter);
        EXPECT_EQ(read_all(r), "X-Seen: 1\r\n\r\nbody only\r\n");
    }
    {
        Fd f("A: b\nC: d");  // headers only, no final line end
        MessageReader r(f.fd, filter);
        EXPECT_EQ(read_all(r), "X-Seen: 9\r\nA: b\r\nC: d\r\n");
    }
    {
        Fd f("A: b\r\n\r\nbody\r\n");  // CRLF in the file
        MessageReader r(f.fd, filter);
        EXPECT_EQ(read_all(r, 3), "X-Seen: 8\r\nA: b\r\n\r\nbody\r\n");
    }
    {
        // A header section beyond the limit goes out unfiltered.
        std::string big;
        while (big.size() <= MessageReader::max_header_section + 70000)
            big += "X-Long: " + std::string(80, 'x') + "\n";
        Fd f(big + "\nbody\n");
        MessageReader r(f.fd, filter);
        std::string out = read_all(r, 65536);
        EXPECT_TRUE(r.header_unfiltered());
        EXPECT_EQ(out.find("X-Seen"), std::string::npos);
        EXPECT_TRUE(out.ends_with("\r\n\r\nbody\r\n"));
    }
}

TEST(SmtpRoute, SenderDependentRelayhost) {
    auto map = write_file("relays",
                          "alice@example.org    [smtp.alice.test]:587\n"
                          "@example.org         [smtp.org.test]:587, [backup.org.test]:25\n"
                          "@keep.test           DUNNO\n"
                          "<>                   [bounces.test]:25\n");
    auto cfg = make_config("relayhost = \"[default.test]:587\"\n", "",
                           "sender_dependent_relayhost_maps = \"hash:" + map + "\"\n");
    Router r(cfg);
    auto a = r.route("alice@example.org");
    EXPECT_EQ(a.relayhost, std::vector<std::string>{"[smtp.alice.test]:587"});
    EXPECT_TRUE(a.by_sender);
    auto b = r.route("bob@Example.ORG");
    EXPECT_EQ(b.relayhost, (std::vector<std::string>{"[smtp.org.test]:587", "[backup.org.test]:25"}));
    auto k = r.route("x@keep.test");
    EXPECT_EQ(k.relayhost, std::vector<std::string>{"[default.test]:587"});
    EXPECT_FALSE(k.by_sender);
    EXPECT_EQ(r.route("").relayhost, std::vector<std::string>{"[bounces.test]:25"});
    EXPECT_EQ(r.route("someone@else.test").relayhost, std::vector<std::string>{"[default.test]:587"});
    EXPECT_NE(a.key(), b.key());
    EXPECT_EQ(r.route("carol@example.org").key(), b.key());  // same route: may share a connection
    unlink(map.c_str());
}

TEST(SmtpRoute, SenderDependentAuthentication) {
    auto map = write_file("sasl",
                          "alice@example.org     alice:pw-a\n"
                          "@example.org          org:pw-org\n"
                          "[default.test]:587    relayuser:pw-r\n");
    std::string smtp = "sasl_password_maps = \"hash:" + map + "\"\n";
    auto off = make_config("relayhost = \"[default.test]:587\"\n", "", smtp);
    EXPECT_EQ(Router(off).route("alice@example.org").sasl_key, "");  // default: by relay only

    auto cfg = make_config("relayhost = \"[default.test]:587\"\n", "",
                           smtp + "sender_dependent_authentication = true\n");
    Router r(cfg);
    auto a = r.route("Alice@Example.org");
    EXPECT_EQ(a.sasl_key, "alice@example.org");
    auto b = r.route("bob@example.org");
    EXPECT_EQ(b.sasl_key, "@example.org");
    EXPECT_EQ(r.route("x@other.test").sasl_key, "");
    EXPECT_EQ(r.route("").sasl_key, "");  // the null sender is never looked up
    EXPECT_NE(a.key(), b.key());          // two accounts never share a connection
    EXPECT_EQ(a.relayhost, b.relayhost);

    auto relay = *parse_relayhost("[default.test]:587", config::TlsMode::StartTls);
    auto ca = load_credentials(cfg.smtp, relay, a.sasl_key);
    ASSERT_TRUE(ca) << ca.error().message;
    EXPECT_EQ(ca->username, "alice");
    EXPECT_EQ(ca->password.str(), "pw-a");
    auto cb = load_credentials(cfg.smtp, relay, b.sasl_key);
    ASSERT_TRUE(cb);
    EXPECT_EQ(cb->username, "org");
    auto cr = load_credentials(cfg.smtp, relay, "");
    ASSERT_TRUE(cr);
    EXPECT_EQ(cr->username, "relayuser");
    unlink(map.c_str());
}

TEST(SmtpRoute, UnreadablePasswordMapIsFatal) {
    auto map = write_file("sasl-open", "alice@example.org a:b\n", 0644);
    auto cfg = make_config("relayhost = \"[d.test]:25\"\n", "",
                           "sasl_password_maps = \"" + map +
                               "\"\nsender_dependent_authentication = true\n");
    EXPECT_THROW(Router r(cfg), Fatal);
    unlink(map.c_str());
}
