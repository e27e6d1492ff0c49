// mime_fuzz - build_message(), the mail front end's MIME builder.
//
// The input is sections split at "%%" lines (fuzz_support.hpp):
//   subject, from, to, cc, bcc, body, options, then pairs of
//   (attachment "filename\ncontent-type", attachment data).
// The options section: 'b' = write Bcc:, '7' = no 8-bit transport, and a
// line "charset=NAME".
//
// Guarantees checked: the message has LF line ends and no NUL; no body
// line is over 998 octets (no line at all once pickup made it SMTP-safe);
// the header section holds only the fields the builder writes (caller text
// cannot add one); every recipient is one line and not empty; the text
// decodes back to the body, and each attachment to its data.
#include <algorithm>
#include <set>

#include "fuzz_support.hpp"
#include "message/codec.hpp"
#include "message/header.hpp"
#include "message/mime.hpp"
#include "message/smtp_safe.hpp"
#include "util/strings.hpp"

using namespace relay::message;
using relay::fuzz::check;

namespace {

std::string first_line(const std::string &s) { return s.substr(0, s.find('\n')); }

std::string to_lf(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
        out += s[i];
    }
    return out;
}

std::string decode(const Message &part) {
    std::string cte;
    if (auto *h = part.find("Content-Transfer-Encoding")) cte = parse_transfer_encoding(h->value());
    if (cte == "quoted-printable") return qp_decode(part.body());
    if (cte == "base64") return base64_decode(part.body());
    return part.body();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    auto sec = relay::fuzz::split_sections(relay::fuzz::as_text(data, size));
    sec.resize(std::max<size_t>(sec.size(), 7));
    MailSpec spec;
    spec.subject = first_line(sec[0]);
    spec.from = first_line(sec[1]);
    if (!sec[2].empty()) spec.to.push_back(first_line(sec[2]));
    if (!sec[3].empty()) spec.cc.push_back(first_line(sec[3]));
    if (!sec[4].empty()) spec.bcc.push_back(first_line(sec[4]));
    spec.body = sec[5];
    for (auto line : relay::fuzz::lines_of(sec[6])) {
        if (line == "b") spec.bcc_header = true;
        if (line == "7") spec.allow_8bit = false;
        // A charset or type name is a short token (mailx never takes one
        // from the user); a longer one cannot be folded in a part header.
        if (line.substr(0, 8) == "charset=") spec.charset = std::string(line.substr(8, 64));
    }
    spec.date = "Mon, 01 Jan 2024 00:00:00 +0000";
    for (size_t i = 7; i + 1 < sec.size() && spec.attachments.size() < 4; i += 2) {
        Attachment a;
        auto meta = relay::fuzz::lines_of(sec[i]);
        if (meta.size() > 0) a.filename = std::string(meta[0]);
        if (meta.size() > 1) a.content_type = std::string(meta[1].substr(0, 64));
        a.data = sec[i + 1];
        spec.attachments.push_back(a);
    }

    auto built = build_message(spec);
    if (!built) return 0;
    const std::string &text = built->text;
    check(text.find('\0') == std::string::npos, "NUL in the message");
    check(text.find('\r') == std::string::npos, "CR in the message");
    // The builder encodes the body; a header word longer than a line (an
    // ASCII subject with no space to fold at) stays as written, and
    // pickup's make_smtp_safe() splits it before the message is queued.
    check(longest_line(Message::parse(text).body()) <= 998, "body line over 998 octets");
    {
        Message queued = Message::parse(text);
        make_smtp_safe(queued);
        check(longest_line(queued.str()) <= 998, "line over 998 octets after make_smtp_safe");
    }
    for (auto &r : built->recipients) check(!r.empty() && relay::fuzz::one_line(r), "bad recipient");

    static const std::set<std::string> allowed{"from", "to", "cc", "bcc", "subject", "date",
                                               "mime-version", "content-type",
                                               "content-transfer-encoding"};
    Message m = Message::parse(text);
    for (auto &h : m.headers())
        check(allowed.count(relay::util::to_lower(h.name)) == 1, "caller text added a header field");
    check(m.find_all("Content-Type").size() == 1, "Content-Type not exactly once");
    check(spec.bcc_header || !m.has("Bcc"), "Bcc: written without bcc_header");

    std::string body = to_lf(spec.body);
    if (!body.empty() && body.back() != '\n') body += '\n';
    auto ct = parse_content_type(m.find("Content-Type")->value());
    if (spec.attachments.empty()) {
        check(!ct.is_multipart(), "multipart without attachments");
        check(decode(m) == body, "the body does not decode back");
        return 0;
    }
    check(ct.is_multipart(), "attachments but not multipart");
    std::string delim = "\n--" + ct.param("boundary");
    check(ct.param("boundary").size() > 0, "no boundary");
    std::vector<std::string> parts;
    const std::string &b = m.body();
    size_t pos = b.find(delim);
    while (pos != std::string::npos) {
        size_t start = b.find('\n', pos + 1);
        if (b.compare(pos + delim.size(), 2, "--") == 0 || start == std::string::npos) break;
        size_t next = b.find(delim, start);
        check(next != std::string::npos, "part without a closing delimiter");
        // The content's own last LF ends just before the delimiter's LF.
        parts.push_back(b.substr(start + 1, next - (start + 1)));
        pos = next;
    }
    check(parts.size() == spec.attachments.size() + 1, "wrong number of parts");
    check(decode(Message::parse_entity(parts[0])) == body, "the text part does not decode back");
    for (size_t i = 0; i < spec.attachments.size(); ++i) {
        Message p = Message::parse_entity(parts[i + 1]);
        std::string got = decode(p);
        // A part's content ends in LF; the delimiter's line break follows it.
        check(got == spec.attachments[i].data, "an attachment does not decode back");
    }
    return 0;
}
