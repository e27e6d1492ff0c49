// libFuzzer target for the message parsers: every function that reads
// caller text must be total (no crash, no hang) and keep its guarantees.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "message/address.hpp"
#include "message/codec.hpp"
#include "message/header.hpp"
#include "message/rfc2047.hpp"
#include "message/smtp_safe.hpp"

using namespace relay::message;

namespace {
void check(bool ok) {
    if (!ok) std::abort();
}
bool clean(std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) == s.npos; }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view in(reinterpret_cast<const char *>(data), size);

    auto list = parse_address_list(in);
    for (const auto &a : list.addresses) {
        check(a.begin <= a.end && a.end <= in.size());
        check(clean(a.address) && clean(a.display));
    }
    auto rw = rewrite_address_list(in, [](const std::string &a) { return a + "@x"; });
    (void)rw;
    auto args = parse_recipient_argument(in);
    for (const auto &a : args.addresses) check(!a.address.empty() && clean(a.address));
    Address sa;
    if (split_address(in, sa)) check(clean(sa.local) && clean(sa.domain));

    Message m = Message::parse(in);
    std::string s = m.str();
    check(s.find("\r\n") == std::string::npos);
    for (const auto &h : m.headers()) (void)h.value();
    auto r = make_smtp_safe(m);
    (void)r;
    std::string safe = m.str();
    check(longest_line(safe) <= kSmtpLineLimit);
    check(safe.find('\0') == std::string::npos && safe.find('\r') == std::string::npos);

    (void)decode_header_text(in);
    std::string enc = encode_header_text(in, size % 80);
    check(is_ascii(enc));
    if (clean(in)) check(decode_header_text(enc) == in);
    (void)parse_content_type(in);
    check(qp_decode(qp_encode(in)) == in);
    check(base64_decode(base64_encode(in)) == in);
    return 0;
}
