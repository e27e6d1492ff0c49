// header.cpp - header sections split, kept byte-exact, and built safely.
#include "message/header.hpp"

#include <cstdio>
#include <ctime>

#include "util/strings.hpp"

namespace relay::message {

namespace {

constexpr size_t kFoldColumn = 78;

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// A field name is one or more printable US-ASCII characters except ':'
// (RFC 5322 ftext). Like Postfix, white space between name and colon is
// tolerated: "Subject : x" is a header. Returns the name length, or 0.
size_t header_name_length(std::string_view line) {
    size_t n = 0;
    while (n < line.size() && line[n] >= '!' && line[n] <= '~' && line[n] != ':') ++n;
    if (n == 0) return 0;
    size_t i = n;
    while (i < line.size() && is_wsp(line[i])) ++i;
    return i < line.size() && line[i] == ':' ? n : 0;
}

// CRLF (and CR CR LF, as some Windows tools write) becomes LF; every other
// byte, a bare CR included, stays as it is. The result never holds CRLF.
std::string normalize_crlf(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == '\n')
            while (!out.empty() && out.back() == '\r') out.pop_back();
        out += c;
    }
    return out;
}

// Makes caller text fit in a header value: NUL goes, CRLF becomes LF, a
// line break is kept only where it is a fold (followed by white space and
// then text), any other CR or LF becomes a space.
std::string sanitize_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        char c = v[i];
        if (c == '\0') continue;
        if (c == '\r' && i + 1 < v.size() && v[i + 1] == '\n') continue;
        if (c == '\n') {
            size_t j = i + 1;
            while (j < v.size() && is_wsp(v[j])) ++j;
            bool fold = j > i + 1 && j < v.size() && v[j] != '\r' && v[j] != '\n' && v[j] != '\0';
            out += fold ? '\n' : ' ';
            continue;
        }
        out += c == '\r' ? ' ' : c;
    }
    return out;
}

// "NAME: VALUE\n", folded before white space so that lines stay within 78
// columns where the text allows it. Existing folds are kept. A word longer
// than a line is never split (smtp_safe deals with 998-octet lines).
std::string fold_field(std::string_view name, std::string_view value) {
    std::string v = sanitize_value(value);
    size_t b = 0;
    while (b < v.size() && (is_wsp(v[b]) || v[b] == '\n')) ++b;
    std::string out(name);
    out += ':';
    if (b == v.size()) {
        out += '\n';
        return out;
    }
    out += ' ';
    size_t col = out.size();
    bool line_has_text = true;  // "Name: " already counts
    size_t i = b;
    bool first = true;
    while (i < v.size()) {
        bool hard_break = false;
        if (v[i] == '\n') {
            hard_break = true;
            ++i;
        }
        size_t ws = i;
        while (i < v.size() && is_wsp(v[i])) ++i;
        size_t word = i;
        while (i < v.size() && !is_wsp(v[i]) && v[i] != '\n') ++i;
        std::string_view sp(v.data() + ws, word - ws), w(v.data() + word, i - word);
        if (hard_break) {
            out += '\n';
            col = 0;
            line_has_text = false;
        } else if (!first && !sp.empty() && line_has_text &&
                   col + sp.size() + w.size() > kFoldColumn) {
            out += '\n';
            col = 0;
        }
        out += sp;
        out += w;
        col += sp.size() + w.size();
        if (!w.empty()) line_has_text = true;
        first = false;
    }
    out += '\n';
    return out;
}

const char *const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const char *const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool is_msgid_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-/=?^_`{|}~.").find(c) != std::string_view::npos;
}

std::string msgid_part(std::string_view s) {
    std::string out;
    for (char c : s)
        if (is_msgid_char(c)) out += c;
    while (!out.empty() && out.front() == '.') out.erase(0, 1);
    while (!out.empty() && out.back() == '.') out.pop_back();
    return out;
}

}  // namespace

std::string HeaderField::value() const {
    size_t colon = raw.find(':');
    if (colon == std::string::npos) return {};
    std::string out;
    out.reserve(raw.size() - colon);
    for (size_t i = colon + 1; i < raw.size(); ++i)
        if (raw[i] != '\n') out += raw[i];
    size_t b = 0;
    while (b < out.size() && is_wsp(out[b])) ++b;
    return out.substr(b);
}

Message Message::parse(std::string_view text) {
    // An mbox "From " line at the very top is not part of the message.
    if (text.substr(0, 5) == "From ") {
        size_t nl = text.find('\n');
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    }
    return parse_entity(text);
}

Message Message::parse_entity(std::string_view text) {
    Message m;
    m.had_separator_ = false;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        size_t next = nl == std::string_view::npos ? text.size() : nl + 1;
        std::string_view line = text.substr(pos, (nl == std::string_view::npos ? text.size() : nl) - pos);
        // CRs before the line end go (a field's raw text always ends in LF).
        while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() && nl != std::string_view::npos) {
            m.had_separator_ = true;
            m.body_ = normalize_crlf(text.substr(next));
            return m;
        }
        if (!line.empty() && is_wsp(line[0]) && !m.headers_.empty()) {
            m.headers_.back().raw.append(line);
            m.headers_.back().raw += '\n';
        } else if (size_t n = header_name_length(line)) {
            HeaderField f;
            f.name = std::string(line.substr(0, n));
            f.raw = std::string(line);
            f.raw += '\n';
            m.headers_.push_back(std::move(f));
        } else {
            // Not a header and not a continuation: the body starts here.
            m.body_ = normalize_crlf(text.substr(pos));
            return m;
        }
        pos = next;
    }
    return m;
}

const HeaderField *Message::find(std::string_view name) const {
    for (const auto &h : headers_)
        if (util::iequals(h.name, name)) return &h;
    return nullptr;
}

std::vector<const HeaderField *> Message::find_all(std::string_view name) const {
    std::vector<const HeaderField *> out;
    for (const auto &h : headers_)
        if (util::iequals(h.name, name)) out.push_back(&h);
    return out;
}

size_t Message::remove(std::string_view name) {
    size_t before = headers_.size();
    std::erase_if(headers_, [&](const HeaderField &h) { return util::iequals(h.name, name); });
    return before - headers_.size();
}

namespace {
HeaderField make_field(std::string_view name, std::string_view value) {
    HeaderField f;
    // A name that is not ftext would corrupt the header section: such
    // characters are dropped (callers pass constant names).
    for (char c : name)
        if (c >= '!' && c <= '~' && c != ':') f.name += c;
    if (f.name.empty()) f.name = "X-Invalid-Header-Name";
    f.raw = fold_field(f.name, value);
    return f;
}
}  // namespace

void Message::add(std::string_view name, std::string_view value) {
    headers_.push_back(make_field(name, value));
}

void Message::prepend(std::string_view name, std::string_view value) {
    headers_.insert(headers_.begin(), make_field(name, value));
}

void Message::set_value(HeaderField &field, std::string_view value) {
    field.raw = fold_field(field.name, value);
}

std::string Message::str() const {
    std::string out;
    size_t n = body_.size() + 1;
    for (const auto &h : headers_) n += h.raw.size();
    out.reserve(n);
    for (const auto &h : headers_) out += h.raw;
    // The separator is written when the input had one, and whenever a body
    // follows headers (Postfix cleanup also ends the header section with an
    // empty line when the body started with a non-header line).
    if (had_separator_ || (!headers_.empty() && !body_.empty())) out += '\n';
    out += body_;
    return out;
}

bool is_safe_header_text(std::string_view s) { return !util::has_ctl_line_break(s); }

std::string rfc5322_date(long long t) {
    std::time_t tt = t < 0 ? std::time(nullptr) : static_cast<std::time_t>(t);
    std::tm tm{};
    if (!localtime_r(&tt, &tm)) gmtime_r(&tt, &tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0) off = -off;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld",
                  kDays[tm.tm_wday % 7], tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
    return buf;
}

std::string make_message_id(std::string_view queue_id, std::string_view host) {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char ts[32];
    std::snprintf(ts, sizeof ts, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    std::string id = msgid_part(queue_id);
    std::string h = msgid_part(host);
    if (h.empty()) h = "localhost";
    std::string out = "<";
    out += ts;
    if (!id.empty()) out += "." + id;
    out += "@" + h + ">";
    return out;
}

}  // namespace relay::message
