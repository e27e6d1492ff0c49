// Parses every recorded caller input and checks what pickup would see.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "message/address.hpp"
#include "message/header.hpp"
#include "message_samples.hpp"
#include "util/strings.hpp"

using namespace relay::message;

namespace {

struct Expect {
    const char *file;
    int index;
    size_t headers;
    std::vector<std::string> recipients;  // from To:, Cc:, Bcc:
    size_t errors;
};

// Read off the recordings by hand.
const Expect kExpected[] = {
    {"anacron.txt", 0, 4, {"root"}, 0},
    {"anacron.txt", 1, 4, {"ops@example.com", "dev@example.org"}, 0},
    {"apt-listchanges.txt", 0, 6, {"root"}, 0},
    {"apticron.txt", 0, 5, {"root"}, 0},
    {"at.txt", 0, 2, {"alice"}, 0},
    {"at.txt", 1, 2, {"alice"}, 0},
    {"bsd-mailx.txt", 0, 5, {"rcpt1@example.com", "rcpt2"}, 0},
    {"bsd-mailx.txt", 1, 6, {"rcpt@example.com"}, 0},
    {"bsd-mailx.txt", 2, 7, {"rcpt@example.com", "cc@example.com", "bcc@example.com"}, 0},
    {"bsd-mailx.txt", 3, 6, {"rcpt@example.com"}, 0},
    {"bsd-mailx.txt", 4, 5, {"rcpt@example.com"}, 0},
    {"debian-cron.txt", 0, 11, {"root"}, 0},
    {"debian-cron.txt", 1, 10, {"root"}, 0},
    {"debian-cron.txt", 2, 10, {"www-data"}, 0},
    {"debian-cron.txt", 3, 10, {"alice"}, 0},
    {"debian-cron.txt", 4, 13, {"ops@example.com", "dev@example.org"}, 0},
    {"fail2ban-mail-action.txt", 0, 5, {"root"}, 1},
    {"fail2ban-mail-action.txt", 1, 4, {"root"}, 0},
    {"fail2ban.txt", 0, 4, {"ops@example.com"}, 0},
    {"fail2ban.txt", 1, 4, {"ops@example.com"}, 0},
    {"fail2ban.txt", 2, 4, {"ops@example.com"}, 0},
    {"git-send-email.txt", 0, 10, {"list@example.org", "bob@example.org", "alice@example.net"}, 0},
    {"git-send-email.txt", 1, 9, {"list@example.org"}, 0},
    {"icinga2-notification.txt", 0, 6, {"ops@example.com"}, 0},
    {"icinga2-notification.txt", 1, 5, {"ops@example.com"}, 0},
    {"logcheck.txt", 0, 5, {"logcheck"}, 0},
    {"logrotate.txt", 0, 5, {"ops@example.com"}, 0},
    {"logwatch.txt", 0, 9, {"root", "ops@example.com"}, 0},
    {"mailutils.txt", 0, 4, {"rcpt1@example.com", "rcpt2@vm"}, 0},
    {"mailutils.txt", 1, 4, {"rcpt@example.com"}, 0},
    {"mailutils.txt", 2, 5, {"rcpt@example.com"}, 0},
    {"mailutils.txt", 3, 4, {"rcpt@example.com"}, 0},
    {"mutt.txt", 0, 9, {"rcpt1@example.com", "rcpt2@vm"}, 0},
    {"mutt.txt", 1, 9, {"rcpt@example.com", "cc@example.com"}, 0},
    {"mutt.txt", 2, 8, {"rcpt@example.com"}, 0},
    {"mutt.txt", 3, 8, {"rcpt@example.com"}, 0},
    {"mutt.txt", 4, 9, {"rcpt@example.com"}, 0},
    {"neomutt.txt", 0, 9, {"rcpt1@example.com", "rcpt2@vm"}, 0},
    {"neomutt.txt", 1, 9, {"rcpt@example.com", "cc@example.com"}, 0},
    {"neomutt.txt", 2, 8, {"rcpt@example.com"}, 0},
    {"neomutt.txt", 3, 8, {"rcpt@example.com"}, 0},
    {"newaliases-logcheck-postinst.txt", 0, 0, {}, 0},
    {"php-mail.txt", 0, 4, {"rcpt@example.com"}, 0},
    {"php-mail.txt", 1, 4, {"a@example.com", "b@example.org"}, 0},
    {"rkhunter.txt", 0, 2, {"root"}, 0},
    {"s-nail.txt", 0, 7, {"rcpt1@example.com", "rcpt2"}, 0},
    {"s-nail.txt", 1, 6, {"rcpt@example.com"}, 0},
    {"s-nail.txt", 2, 5, {"rcpt@example.com", "cc@example.com"}, 0},
    {"s-nail.txt", 3, 7, {"rcpt@example.com"}, 0},
    {"s-nail.txt", 4, 7, {"rcpt@example.com"}, 0},
    {"s-nail.txt", 5, 5, {"t1@example.com", "c1@example.com"}, 0},
    {"smartd.txt", 0, 5, {"root"}, 0},
    {"sudo.txt", 0, 4, {"root"}, 0},
    {"sudo.txt", 1, 4, {"root"}, 0},
    {"systemd-cron.txt", 0, 8, {"ops@example.com"}, 0},
    {"systemd-email.txt", 0, 5, {"ops@example.com"}, 0},
    {"unattended-upgrades.txt", 0, 7, {"ops@example.com"}, 0},
};

std::string crlf_to_lf(const std::string &s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i)
        if (!(s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n')) out += s[i];
    return out;
}

}  // namespace

TEST(CallerSamples, HeadersAndRecipients) {
    auto samples = relay::testing::load_caller_samples();
    ASSERT_EQ(samples.size(), std::size(kExpected));
    std::map<std::pair<std::string, int>, const Expect *> by_key;
    for (const auto &e : kExpected) by_key[{e.file, e.index}] = &e;
    for (const auto &s : samples) {
        SCOPED_TRACE(s.file + "#" + std::to_string(s.index));
        auto it = by_key.find({s.file, s.index});
        ASSERT_NE(it, by_key.end());
        const Expect &e = *it->second;
        auto m = Message::parse(s.stdin_bytes);
        EXPECT_EQ(m.headers().size(), e.headers);
        std::vector<std::string> rcpts;
        size_t errors = 0;
        for (const auto &h : m.headers()) {
            if (!relay::util::iequals(h.name, "To") && !relay::util::iequals(h.name, "Cc") &&
                !relay::util::iequals(h.name, "Bcc"))
                continue;
            auto l = parse_address_list(h.value());
            for (auto &a : l.addresses) rcpts.push_back(a.address);
            errors += l.errors.size();
        }
        EXPECT_EQ(rcpts, e.recipients);
        EXPECT_EQ(errors, e.errors);
        // Every recorded message goes out as it came in, with LF line ends.
        EXPECT_EQ(m.str(), crlf_to_lf(s.stdin_bytes));
        // Parsing the raw header section (not unfolded) gives the same list.
        for (const auto &h : m.headers()) {
            if (!relay::util::iequals(h.name, "Cc")) continue;
            auto raw = parse_address_list(h.raw.substr(h.raw.find(':') + 1));
            EXPECT_EQ(raw.addresses.size(), parse_address_list(h.value()).addresses.size());
        }
    }
}

TEST(CallerSamples, DisplayNames) {
    auto samples = relay::testing::load_caller_samples();
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto &s : samples) {
        auto m = Message::parse(s.stdin_bytes);
        if (auto *f = m.find("From")) {
            auto l = parse_address_list(f->value());
            EXPECT_EQ(l.addresses.size(), 1u) << f->raw;
            EXPECT_TRUE(l.errors.empty()) << f->raw;
            for (auto &a : l.addresses) seen.insert({a.address, a.display});
        }
    }
    using P = std::pair<std::string, std::string>;
    EXPECT_TRUE(seen.count(P{"root", "Anacron"}));
    EXPECT_TRUE(seen.count(P{"root", "Cron Daemon"}));
    EXPECT_TRUE(seen.count(P{"root", "systemd-cron"}));
    EXPECT_TRUE(seen.count(P{"root", ""}));
    EXPECT_TRUE(seen.count(P{"fail2ban@vm.example", "Fail2Ban"}));
    EXPECT_TRUE(seen.count(P{"root@", "systemd"}));
    EXPECT_TRUE(seen.count(P{"alice@example.net", "Alice Example"}));
    EXPECT_TRUE(seen.count(P{"alice@example.net", "Alice Dev"}));
}
