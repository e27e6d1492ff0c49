// config_fuzz - config::parse(), the TOML configuration loader.
//
// Guarantees checked: parse() never throws and never crashes: the text is
// either a Config or an Error whose message names the file and is one
// line; a Config that parsed keeps its invariants (backoff order, a spool
// directory, relayhost entries without line breaks). The text given to
// toml++ is ASCII whatever the input (config/toml_text.hpp says why).
#include "config/config.hpp"
#include "config/toml_text.hpp"
#include "fuzz_support.hpp"

using relay::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view in = relay::fuzz::as_text(data, size);
    if (auto g = relay::config::guard_toml_text(in, "fuzz.toml")) {
        for (unsigned char c : *g) check(c < 0x80, "non-ASCII text reaches toml++");
    }
    auto r = relay::config::parse(in, "fuzz.toml");
    if (!r) {
        const std::string &msg = r.error().message;
        check(msg.rfind("fuzz.toml", 0) == 0, "error message does not name the file");
        return 0;
    }
    const auto &c = *r;
    check(c.queue.minimal_backoff_time <= c.queue.maximal_backoff_time, "backoff order");
    check(!c.queue.directory.empty(), "no spool directory");
    for (auto &h : c.smtp.relayhost) check(relay::fuzz::one_line(h), "relayhost with a line break");
    check(relay::fuzz::one_line(c.myhostname) && relay::fuzz::one_line(c.myorigin),
          "host name with a line break");
    return 0;
}
