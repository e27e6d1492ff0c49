// envelope_fuzz - queue::parse_envelope(), the reader of queue/<id>/envelope.
//
// Guarantees checked (queue/envelope.hpp): no crash on any file; a parsed
// envelope has addresses without CR, LF or NUL and at least one recipient;
// serialize() of it parses again, and serializing that gives the same text.
#include "fuzz_support.hpp"
#include "queue/envelope.hpp"

using relay::fuzz::check;
using relay::fuzz::one_line;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view in = relay::fuzz::as_text(data, size);
    auto e = relay::queue::parse_envelope(in);
    if (!e) return 0;
    check(!e->rcpts.empty(), "envelope without recipients");
    check(one_line(e->sender), "sender with a line break");
    for (auto &r : e->rcpts) check(!r.address.empty() && one_line(r.address) && one_line(r.orig),
                                   "recipient with a line break");
    std::string text = relay::queue::serialize(*e);
    auto e2 = relay::queue::parse_envelope(text);
    check(e2.ok(), "a serialized envelope does not parse");
    check(relay::queue::serialize(*e2) == text, "serialize/parse is not stable");
    check(e2->pending() == e->pending(), "pending count changed");
    return 0;
}
