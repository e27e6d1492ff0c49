// libFuzzer target for the SMTP server's parsers (src/server/protocol.hpp):
// framing, commands, paths, AUTH decoding and the DATA reader must be total
// and keep their guarantees on any bytes a client can send.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/protocol.hpp"

using namespace relay::server;

namespace {
void check(bool ok) {
    if (!ok) std::abort();
}
bool no_ctl(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view in(reinterpret_cast<const char *>(data), size);
    // Split the input at an arbitrary point: framing must not depend on
    // where reads end.
    size_t cut = size ? data[0] % (size + 1) : 0;
    LineFramer framer;
    framer.feed(in.substr(0, cut));
    framer.feed(in.substr(cut));
    DataReader reader(4096);
    bool in_data = false;
    while (auto line = framer.next(512)) {
        check(line->text.size() <= 512);
        check(line->text.find('\n') == std::string::npos);
        if (line->end == LineEnd::Crlf || line->end == LineEnd::BareLf)
            check(line->bare_cr == (line->text.find('\r') != std::string::npos));
        if (in_data) {
            if (reader.add(*line) == DataStatus::End) {
                // The end of DATA is exactly CRLF "." CRLF.
                check(line->text == "." && line->end == LineEnd::Crlf);
                in_data = false;
                reader = DataReader(4096);
            }
            check(reader.too_big() || reader.message().size() <= reader.size());
            continue;
        }
        Command cmd = parse_command(line->text);
        check(cmd.name.size() <= 16);
        if (cmd.verb == Verb::Data) in_data = true;
        PathError why;
        for (auto prefix : {"FROM:", "TO:"}) {
            auto path = parse_path(cmd.arg, prefix, &why);
            if (path) {
                check(no_ctl(path->address));
                check(path->address.size() <= 254);
                for (auto &p : path->params) check(!p.key.empty() && no_ctl(p.value));
            }
        }
        if (auto decoded = base64_decode(cmd.arg)) {
            if (auto creds = parse_plain(*decoded)) check(!creds->user.empty());
            check(base64_decode(base64_encode(*decoded)) == decoded);
        }
        (void)is_fqdn_address(cmd.arg);
        (void)valid_xtext(cmd.arg);
    }
    return 0;
}
