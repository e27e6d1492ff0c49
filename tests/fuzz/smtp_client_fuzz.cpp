// smtp_client_fuzz - what the SMTP client builds and reads (esmtp.hpp,
// transcript.hpp), driven by one input of three sections split at "%%":
//
//   1. an envelope file (queue/<id>/envelope), as the flush reads it;
//   2. EHLO keyword lines, as a server might announce them;
//   3. server replies, as they might arrive on the wire.
//
// Guarantees checked:
//   - every MAIL FROM and RCPT TO built from any envelope the queue
//     accepts, for addresses the client sends at all (safe_address), is one
//     line, starts with its verb and holds the address between its <>;
//   - dot-stuffing in any chunking, undone as a server does, gives the
//     message back and is ended by exactly one terminating "." line;
//   - the transcript takes any reply bytes for a pipelined MAIL, RCPT,
//     RCPT, DATA group without crashing, and never matches more replies to
//     RCPT TO than there were RCPT TO commands.
#include <algorithm>

#include "fuzz_support.hpp"
#include "queue/envelope.hpp"
#include "smtp/esmtp.hpp"
#include "smtp/transcript.hpp"
#include "util/strings.hpp"

using namespace relay;
using relay::fuzz::check;

namespace {

void commands(const queue::Envelope &e, const smtp::Capabilities &caps) {
    if (!smtp::safe_address(e.sender)) return;
    smtp::TxEnvelope env{e.sender, e.size, e.body == "8BITMIME", e.smtputf8, e.ret, e.envid};
    std::string mail = smtp::mail_command(env, caps, caps.smtputf8);
    fuzz::check_one_line(mail, "MAIL FROM with a line break");
    check(mail.rfind("MAIL FROM:<" + e.sender + ">", 0) == 0, "MAIL FROM does not hold the sender");
    for (auto &r : e.rcpts) {
        if (!smtp::safe_address(r.address) || r.address.empty()) continue;
        std::string rcpt = smtp::rcpt_command(r.address, r.notify, r.orig, caps);
        fuzz::check_one_line(rcpt, "RCPT TO with a line break");
        check(rcpt.rfind("RCPT TO:<" + r.address + ">", 0) == 0, "RCPT TO does not hold the address");
    }
}

void stuffing(std::string_view raw) {
    // CRLF-only lines, as MessageReader hands them over.
    std::string text;
    for (auto &line : util::split(raw, '\n')) {
        std::string l = line;
        l.erase(std::remove(l.begin(), l.end(), '\r'), l.end());
        text += l + "\r\n";
    }
    smtp::DotStuffer s;
    std::string wire;
    size_t pos = 0, step = 1;
    while (pos < text.size()) {
        size_t n = std::min(text.size() - pos, step);
        s.put(std::string_view(text).substr(pos, n), wire);
        pos += n;
        step = step * 3 % 17 + 1;
    }
    s.finish(wire);
    std::string back;
    size_t at = 0;
    bool ended = false;
    while (at < wire.size()) {
        size_t eol = wire.find("\r\n", at);
        check(eol != std::string::npos, "DATA line without CRLF");
        std::string_view line(wire.data() + at, eol - at);
        at = eol + 2;
        if (line == ".") {
            ended = true;
            break;
        }
        if (!line.empty() && line[0] == '.') line.remove_prefix(1);
        back.append(line).append("\r\n");
    }
    check(ended && at == wire.size(), "the terminating dot is not the end of DATA");
    check(back == text, "dot-stuffing lost or changed data");
}

void replies(std::string_view bytes) {
    smtp::Transcript t;
    t.begin_message();
    t.on_out("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n");
    t.on_out("RCPT TO:<c@example.org>\r\nDATA\r\n");
    t.on_in(bytes);
    check(t.rcpt_replies().size() <= 2, "more RCPT replies than RCPT commands");
    (void)t.phase();
    (void)t.phase_reply();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    auto parts = fuzz::split_sections(fuzz::as_text(data, size));
    std::string ehlo = parts.size() > 1 ? parts[1] : "PIPELINING\nSIZE 1000\n8BITMIME\nDSN\nSMTPUTF8\n";
    std::vector<std::string> keywords;
    for (auto &l : util::split(ehlo, '\n')) keywords.push_back(l);
    smtp::Capabilities caps = smtp::Capabilities::parse(keywords);
    if (auto e = queue::parse_envelope(parts[0])) {
        commands(*e, caps);
        smtp::Capabilities all = smtp::Capabilities::parse({"SIZE", "8BITMIME", "DSN", "SMTPUTF8"});
        commands(*e, all);
    }
    stuffing(parts[0]);
    replies(parts.size() > 2 ? parts[2] : parts[0]);
    return 0;
}
