// smtp_safe.cpp - NUL, bare CR and over-long lines, fixed before queueing.
#include "message/smtp_safe.hpp"

#include <algorithm>

#include "message/codec.hpp"
#include "util/strings.hpp"

namespace relay::message {

namespace {

constexpr int kMaxDepth = 8;
constexpr size_t kLimit = kSmtpLineLimit;

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

size_t count_long_lines(std::string_view s) {
    size_t n = 0, start = 0;
    while (start < s.size()) {
        size_t nl = s.find('\n', start);
        size_t end = nl == std::string_view::npos ? s.size() : nl;
        if (end - start > kLimit) ++n;
        if (nl == std::string_view::npos) break;
        start = nl + 1;
    }
    return n;
}

bool has_long_line(std::string_view s) { return longest_line(s) > kLimit; }

// Calls FN(line, has_lf) for every line of S.
template <typename Fn>
void for_each_line(std::string_view s, Fn fn) {
    size_t start = 0;
    while (start < s.size()) {
        size_t nl = s.find('\n', start);
        if (nl == std::string_view::npos) {
            fn(s.substr(start), false);
            return;
        }
        fn(s.substr(start, nl - start), true);
        start = nl + 1;
    }
}

// Last resort, as the Postfix SMTP client does: break with LF SPACE.
std::string hard_fold(std::string_view text) {
    if (!has_long_line(text)) return std::string(text);
    std::string out;
    out.reserve(text.size() + text.size() / 900 * 2 + 2);
    for_each_line(text, [&](std::string_view line, bool lf) {
        out.append(line.substr(0, kLimit));
        for (size_t p = kLimit; p < line.size(); p += kLimit - 1) {
            out += "\n ";
            out.append(line.substr(p, kLimit - 1));
        }
        if (lf) out += '\n';
    });
    return out;
}

// Folds one physical header line longer than the limit. MIN_POS: a fold
// must come after it (the "Name:" of a first line stays whole). LEAD is
// the inserted space already written at the start of the current output
// line after a hard split; the rest of LINE is never copied or erased, so
// the work stays linear in its length.
std::string fold_header_line(std::string_view line, size_t min_pos) {
    std::string out;
    out.reserve(line.size() + line.size() / 900 * 2 + 2);
    size_t pos = 0;
    size_t lead = 0;
    auto at = [&](size_t j) { return j < lead ? ' ' : line[pos + j - lead]; };
    while (lead + (line.size() - pos) > kLimit) {
        size_t first_text = 0;
        while (first_text <= kLimit && is_wsp(at(first_text))) ++first_text;
        size_t lo = std::max(min_pos, first_text);
        size_t k = kLimit;
        while (k > lo && !is_wsp(at(k))) --k;
        if (k > lo) {
            // fold before the white space at K: the rest is a continuation
            out.append(line.substr(pos, k - lead));
            pos += k - lead;
            out += '\n';
            lead = 0;
        } else {
            out.append(line.substr(pos, kLimit - lead));
            pos += kLimit - lead;
            out += "\n ";
            lead = 1;
        }
        min_pos = 0;
    }
    out.append(line.substr(pos));
    return out;
}

// Returns false when the field has to go (its name does not fit a line).
bool fix_header_lines(HeaderField &h) {
    if (!has_long_line(h.raw)) return true;
    std::string out;
    bool first = true, keep = true;
    for_each_line(h.raw, [&](std::string_view line, bool lf) {
        if (line.size() > kLimit) {
            size_t min_pos = 0;
            if (first) {
                size_t colon = line.find(':');
                if (colon == std::string_view::npos || colon + 1 >= kLimit) keep = false;
                min_pos = colon + 1;
            }
            if (keep) out += fold_header_line(line, min_pos);
        } else {
            out.append(line);
        }
        if (lf) out += '\n';
        first = false;
    });
    h.raw = std::move(out);
    return keep;
}

// NUL out, bare CR to a space, and a raw form that always parses back as
// the same field: every inner LF is followed by white space, and the
// field ends in LF.
void clean_header(HeaderField &h, SafetyReport &r) {
    std::string out;
    out.reserve(h.raw.size() + 1);
    for (size_t i = 0; i < h.raw.size(); ++i) {
        char c = h.raw[i];
        if (c == '\0') {
            ++r.nul_removed;
            continue;
        }
        if (c == '\r') {
            size_t j = i;
            while (j < h.raw.size() && h.raw[j] == '\r') ++j;
            if (j < h.raw.size() && h.raw[j] == '\n') {
                i = j - 1;  // CR(s) before LF: a line end
                continue;
            }
            r.bare_cr_fixed += j - i;  // a whole run at once: linear work
            out.append(j - i, ' ');
            i = j - 1;
            continue;
        }
        out += c;
        if (c == '\n' && i + 1 < h.raw.size() && !is_wsp(h.raw[i + 1])) out += ' ';
    }
    if (out.empty() || out.back() != '\n') out += '\n';
    h.raw = std::move(out);
}

void clean_body(std::string &body, SafetyReport &r) {
    std::string out;
    out.reserve(body.size() + 1);
    for (size_t i = 0; i < body.size(); ++i) {
        char c = body[i];
        if (c == '\0') {
            ++r.nul_removed;
            continue;
        }
        if (c == '\r') {
            size_t j = i;
            while (j < body.size() && body[j] == '\r') ++j;
            if (j < body.size() && body[j] == '\n') {
                i = j - 1;
                continue;
            }
            r.bare_cr_fixed += j - i;
            out.append(j - i, '\n');
            i = j - 1;
            continue;
        }
        out += c;
    }
    if (!out.empty() && out.back() != '\n') out += '\n';
    body = std::move(out);
}

// Soft line breaks into over-long quoted-printable lines, never inside an
// "=XX" escape.
std::string qp_soft_wrap(std::string_view body) {
    std::string out;
    for_each_line(body, [&](std::string_view line, bool lf) {
        while (line.size() > kLimit) {
            size_t cut = 75;
            if (line[cut - 1] == '=') cut -= 1;
            else if (line[cut - 2] == '=') cut -= 2;
            out.append(line.substr(0, cut));
            out += "=\n";
            line.remove_prefix(cut);
        }
        out.append(line);
        if (lf) out += '\n';
    });
    return out;
}

// Line breaks into over-long base64 lines: decoders ignore them.
std::string base64_rewrap(std::string_view body) {
    std::string out;
    for_each_line(body, [&](std::string_view line, bool lf) {
        if (line.size() > kLimit) {
            while (line.size() > 76) {
                out.append(line.substr(0, 76));
                out += '\n';
                line.remove_prefix(76);
            }
        }
        out.append(line);
        if (lf) out += '\n';
    });
    return out;
}

const HeaderField *find_field(const std::vector<HeaderField> &hs, std::string_view name) {
    for (const auto &h : hs)
        if (util::iequals(h.name, name)) return &h;
    return nullptr;
}

std::string charset_guess(std::string_view body) {
    if (is_ascii(body)) return "us-ascii";
    if (is_valid_utf8(body)) return "utf-8";
    return "unknown-8bit";
}

void fix_entity(Message &m, int depth, bool digest_part, SafetyReport &r);

bool is_delimiter(std::string_view line, std::string_view delim, bool &close) {
    if (line.substr(0, delim.size()) != delim) return false;
    std::string_view rest = line.substr(delim.size());
    close = rest.substr(0, 2) == "--";
    if (close) return true;  // whatever follows "--boundary--" is forgiven
    for (char c : rest)
        if (!is_wsp(c)) return false;  // "--boundaryX" is another boundary
    return true;
}

std::string fix_multipart(std::string_view body, std::string_view boundary, bool digest, int depth,
                          SafetyReport &r) {
    const std::string delim = "--" + std::string(boundary);
    std::string out;
    out.reserve(body.size() + body.size() / 8);
    size_t part_start = 0;
    bool in_part = false, closed = false;
    auto flush = [&](size_t end) {
        std::string_view text = body.substr(part_start, end - part_start);
        if (!in_part || closed || !has_long_line(text)) {
            out += hard_fold(text);
            return;
        }
        Message p = Message::parse_entity(text);
        fix_entity(p, depth + 1, digest, r);
        out += p.str();
    };
    size_t pos = 0;
    while (pos < body.size() && !closed) {
        size_t nl = body.find('\n', pos);
        size_t end = nl == std::string_view::npos ? body.size() : nl;
        size_t next = nl == std::string_view::npos ? body.size() : nl + 1;
        bool close = false;
        if (is_delimiter(body.substr(pos, end - pos), delim, close)) {
            flush(pos);
            out += hard_fold(body.substr(pos, next - pos));
            in_part = !close;
            closed = close;
            part_start = next;
        }
        pos = next;
    }
    flush(body.size());  // the last part when unclosed, or the epilogue
    return out;
}

void set_transfer_encoding(Message &m, std::string_view value) {
    m.remove("Content-Transfer-Encoding");
    m.add("Content-Transfer-Encoding", value);
}

// Makes the body of entity M fit; M's own header lines are fixed here too.
void fix_entity(Message &m, int depth, bool digest_part, SafetyReport &r) {
    auto &hs = m.headers();
    for (size_t i = 0; i < hs.size();) {
        if (!fix_header_lines(hs[i])) {
            ++r.headers_dropped;
            hs.erase(hs.begin() + static_cast<std::ptrdiff_t>(i));
            continue;
        }
        ++i;
    }
    std::string &body = m.body();
    if (!has_long_line(body)) return;
    const HeaderField *ctf = find_field(hs, "Content-Type");
    ContentType ct = ctf ? parse_content_type(ctf->value()) : ContentType{};
    if (!ctf && digest_part) ct.type = "message";
    const HeaderField *ctef = find_field(hs, "Content-Transfer-Encoding");
    std::string cte = ctef ? parse_transfer_encoding(ctef->value()) : std::string();

    if (ct.is_multipart()) {
        std::string boundary = ct.param("boundary");
        if (!boundary.empty() && depth < kMaxDepth)
            body = fix_multipart(body, boundary, ct.subtype == "digest", depth, r);
        else
            body = hard_fold(body);
        return;
    }
    if (ct.type == "message") {
        body = hard_fold(body);  // RFC 2046 5.2: only 7bit, 8bit or binary
        return;
    }
    if (cte == "quoted-printable") {
        body = qp_soft_wrap(body);
        return;
    }
    if (cte == "base64") {
        body = base64_rewrap(body);
        return;
    }
    if (cte.empty() || cte == "7bit" || cte == "8bit" || cte == "binary") {
        if (!ctf) m.add("Content-Type", "text/plain; charset=" + charset_guess(body));
        set_transfer_encoding(m, "quoted-printable");
        body = qp_encode(body);
        r.reencoded = true;
        return;
    }
    body = hard_fold(body);
}

bool has_8bit(std::string_view s) { return !is_ascii(s); }

}  // namespace

SafetyReport make_smtp_safe(Message &msg) {
    SafetyReport r;
    for (auto &h : msg.headers()) {
        clean_header(h, r);
        r.long_lines += count_long_lines(h.raw);
    }
    clean_body(msg.body(), r);
    r.long_lines += count_long_lines(msg.body());
    fix_entity(msg, 0, false, r);
    if (r.reencoded && !msg.has("MIME-Version")) msg.add("MIME-Version", "1.0");
    for (const auto &h : msg.headers()) r.eight_bit_headers = r.eight_bit_headers || has_8bit(h.raw);
    r.eight_bit_body = has_8bit(msg.body());
    return r;
}

}  // namespace relay::message
