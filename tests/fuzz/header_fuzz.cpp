// header_fuzz - Message::parse() and str(), and the header editing calls.
//
// Guarantees checked (message/header.hpp): parsing never fails; str() uses
// LF only; str() is a fixed point (parsing what str() wrote gives the same
// text again); every field's raw text starts with its name and ends in LF;
// add()/set_value() with caller text never create a second field.
#include "fuzz_support.hpp"
#include "message/header.hpp"

using namespace relay::message;
using relay::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view in = relay::fuzz::as_text(data, size);

    for (bool entity : {false, true}) {
        Message m = entity ? Message::parse_entity(in) : Message::parse(in);
        for (const auto &h : m.headers()) {
            check(!h.name.empty(), "field with an empty name");
            check(h.raw.compare(0, h.name.size(), h.name) == 0, "raw does not start with the name");
            check(!h.raw.empty() && h.raw.back() == '\n', "raw does not end in LF");
            std::string v = h.value();
            check(v.find('\n') == std::string::npos, "value() holds a line break");
        }
        std::string once = m.str();
        check(once.find("\r\n") == std::string::npos, "CRLF in str()");
        Message again = Message::parse_entity(once);
        check(again.headers().size() == m.headers().size(), "str() changed the field count");
        check(again.str() == once, "str() is not a fixed point");
    }

    // Caller text as a header value: one field, whatever it holds.
    Message m = Message::parse("Subject: x\n\nbody\n");
    m.add("X-Fuzz", in);
    Message::set_value(m.headers()[0], in);
    m.prepend("Comments", in);
    Message re = Message::parse(m.str());
    check(re.headers().size() == 3, "a header value started a new field");
    check(re.body() == "body\n", "a header value changed the body");
    check(re.find_all("X-Fuzz").size() == 1, "X-Fuzz lost or doubled");
    return 0;
}
