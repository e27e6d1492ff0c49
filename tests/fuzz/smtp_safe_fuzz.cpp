// smtp_safe_fuzz - make_smtp_safe() on any message (message/smtp_safe.hpp).
//
// Guarantees checked: afterwards no line is over 998 octets, there is no
// NUL and no CR; the header section parses back to the same fields; the
// body ends in a line break when it is not empty; a second pass finds
// nothing more to fix.
#include "fuzz_support.hpp"
#include "message/codec.hpp"
#include "message/header.hpp"
#include "message/smtp_safe.hpp"

using namespace relay::message;
using relay::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view in = relay::fuzz::as_text(data, size);
    Message m = Message::parse(in);
    // As in pickup, which always prepends Received: (a message with no
    // header at all whose first body line holds a NUL would read as a
    // header section once the NUL is gone).
    m.prepend("Received", "by fuzz");
    auto rep = make_smtp_safe(m);
    (void)rep;
    std::string safe = m.str();
    check(longest_line(safe) <= kSmtpLineLimit, "line over 998 octets");
    check(safe.find('\0') == std::string::npos, "NUL left");
    check(safe.find('\r') == std::string::npos, "CR left");
    check(m.body().empty() || m.body().back() == '\n', "body without a final line break");
    for (const auto &h : m.headers()) check(longest_line(h.raw) <= kSmtpLineLimit, "long header line");

    Message back = Message::parse(safe);
    check(back.headers().size() == m.headers().size(), "safe text parses to other fields");
    auto again = make_smtp_safe(back);
    check(again.nul_removed == 0 && again.bare_cr_fixed == 0 && again.long_lines == 0 &&
              again.headers_dropped == 0 && !again.reencoded,
          "second pass still found something to fix");
    check(back.str() == safe, "second pass changed the text");
    return 0;
}
