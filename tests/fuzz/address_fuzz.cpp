// address_fuzz - the address parsers of message/address.hpp.
//
// Guarantees checked: nothing returned holds CR, LF or NUL; each address's
// [begin, end) lies inside the input, in order, without overlap; rewriting
// with the identity function changes nothing; a replacement holding a line
// break is refused; split_address() is consistent with Address::str().
#include <algorithm>

#include "fuzz_support.hpp"
#include "message/address.hpp"

using namespace relay::message;
using relay::fuzz::check;
using relay::fuzz::one_line;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view in = relay::fuzz::as_text(data, size);

    auto list = parse_address_list(in);
    size_t prev_end = 0;
    for (const auto &a : list.addresses) {
        check(a.begin <= a.end && a.end <= in.size(), "address range outside the input");
        check(a.begin >= prev_end, "address ranges overlap or go backwards");
        prev_end = a.end;
        check(one_line(a.address) && one_line(a.display), "line break in an address");
    }
    for (const auto &e : list.errors) (void)e;

    // Rewriting keeps every address (an identity rewrite may normalise how
    // one is written, "a @ b" becoming "a@b", as Postfix cleanup does), and
    // a replacement holding a line break is never used.
    auto addresses_of = [](std::string_view text) {
        std::vector<std::string> out;
        for (auto &a : parse_address_list(text).addresses) out.push_back(a.address);
        return out;
    };
    std::vector<std::string> before = addresses_of(in);
    std::string same = rewrite_address_list(in, [](const std::string &a) { return a; });
    check(addresses_of(same) == before, "identity rewrite changed the addresses");
    std::string evil = rewrite_address_list(in, [](const std::string &a) { return a + "\r\nBcc: x@y"; });
    // Refused: the output has no line break the input did not have (the
    // kept addr-spec may be normalised, so compare counts, not text).
    auto count = [](std::string_view t, char c) { return std::count(t.begin(), t.end(), c); };
    check(count(evil, '\r') <= count(in, '\r') && count(evil, '\n') <= count(in, '\n'),
          "a replacement with a line break was used");
    check(addresses_of(evil) == before, "a refused replacement changed the addresses");
    size_t seen = 0;
    std::string tagged = rewrite_address_list(in, [&](const std::string &a) {
        ++seen;
        return a.empty() ? a : "x" + a;
    });
    (void)tagged;
    check(seen <= list.addresses.size(), "rewrite saw more addresses than the parser");

    auto args = parse_recipient_argument(in);
    for (const auto &a : args.addresses) {
        check(!a.address.empty(), "empty recipient returned");
        check(one_line(a.address) && one_line(a.display), "line break in a recipient");
    }
    if (!one_line(in)) check(args.addresses.empty(), "recipient from an argument with a line break");

    Address sa;
    if (split_address(in, sa)) {
        check(one_line(sa.local) && one_line(sa.domain), "line break in a split address");
        check(sa.domain.empty() || sa.has_at, "domain without '@'");
        Address back;
        check(split_address(sa.str(), back), "str() of a split address does not split");
        // Like Postfix, the split is at the last '@', so "a@@" has the local
        // part "a@" and then "a": stable only without an '@' in the local part.
        if (sa.local.find('@') == std::string::npos)
            check(back.str() == sa.str(), "split/str is not stable");
    }
    return 0;
}
