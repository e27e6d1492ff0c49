// codec.cpp - quoted-printable, base64, UTF-8 checks, MIME header values.
#include "message/codec.hpp"

#include <algorithm>
#include <map>

#include "util/strings.hpp"

namespace relay::message {

namespace {

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

void qp_line(std::string_view line, bool hard_break, std::string &out) {
    size_t col = 0;
    for (size_t i = 0; i < line.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(line[i]);
        bool last = i + 1 == line.size();
        bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
        if (i == 0 && c == 'F' && line.substr(0, 5) == "From ") literal = false;
        if (i == 0 && c == '.' && line.size() == 1) literal = false;
        size_t w = literal ? 1 : 3;
        // Room for a soft break '=' unless this is the line's last token.
        size_t limit = last ? 76 : 75;
        if (col + w > limit) {
            out += "=\n";
            col = 0;
        }
        if (literal) out += static_cast<char>(c);
        else util::append_hex(out, '=', c);
        col += w;
    }
    if (hard_break) out += '\n';
}

bool is_tspecial(char c) { return std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos; }
bool is_token_char(char c) { return c > ' ' && c < 127 && !is_tspecial(c); }

class ValueScanner {
public:
    explicit ValueScanner(std::string_view s) : s_(s) {}
    bool done() const { return i_ >= s_.size(); }
    char peek() const { return done() ? '\0' : s_[i_]; }
    void next() { ++i_; }

    void skip_cfws() {
        while (!done()) {
            char c = s_[i_];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                ++i_;
            } else if (c == '(') {
                int depth = 0;
                while (!done()) {
                    char d = s_[i_++];
                    if (d == '\\' && !done()) ++i_;
                    else if (d == '(') ++depth;
                    else if (d == ')' && --depth == 0) break;
                }
            } else {
                return;
            }
        }
    }
    std::string token() {
        std::string t;
        while (!done() && is_token_char(s_[i_])) t += s_[i_++];
        return t;
    }
    std::string quoted() {  // at '"'
        std::string t;
        ++i_;
        while (!done()) {
            char c = s_[i_++];
            if (c == '"') break;
            if (c == '\\' && !done()) c = s_[i_++];
            if (c != '\r' && c != '\n') t += c;
        }
        return t;
    }
    void skip_past(char c) {
        while (!done() && s_[i_] != c) {
            if (s_[i_] == '"') quoted();
            else ++i_;
        }
    }

private:
    std::string_view s_;
    size_t i_ = 0;
};

std::string percent_decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            int hi = util::hex_value(s[i + 1]), lo = util::hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

}  // namespace

std::string qp_encode(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 8 + 16);
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) {
            qp_line(text.substr(pos), false, out);
            break;
        }
        qp_line(text.substr(pos, nl - pos), true, out);
        pos = nl + 1;
    }
    return out;
}

std::string qp_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        char c = text[i];
        if (c == '=') {
            // soft line break: '=' then optional white space, then (CR)LF
            size_t j = i + 1;
            while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
            if (j < text.size() && text[j] == '\r' && j + 1 < text.size() && text[j + 1] == '\n') {
                i = j + 2;
                continue;
            }
            if (j < text.size() && text[j] == '\n') {
                i = j + 1;
                continue;
            }
            if (j == text.size()) {
                i = j;
                continue;
            }
            if (i + 2 < text.size()) {
                int hi = util::hex_value(text[i + 1]), lo = util::hex_value(text[i + 2]);
                if (hi >= 0 && lo >= 0) {
                    out += static_cast<char>(hi * 16 + lo);
                    i += 3;
                    continue;
                }
            }
            out += '=';
            ++i;
            continue;
        }
        if (c == ' ' || c == '\t') {
            // white space at the end of a line was added in transport
            size_t j = i;
            while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
            if (j == text.size() || text[j] == '\n' || (text[j] == '\r' && j + 1 < text.size() && text[j + 1] == '\n')) {
                i = j;
                continue;
            }
            out.append(text.substr(i, j - i));
            i = j;
            continue;
        }
        out += c;
        ++i;
    }
    return out;
}

std::string base64_encode(std::string_view data, size_t line_len) {
    line_len -= line_len % 4;
    std::string out;
    out.reserve(data.size() * 4 / 3 + data.size() / 50 + 8);
    size_t col = 0;
    auto put = [&](char c) {
        out += c;
        if (line_len && ++col == line_len) {
            out += '\n';
            col = 0;
        }
    };
    size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        unsigned v = static_cast<unsigned char>(data[i]) << 16 |
                     static_cast<unsigned char>(data[i + 1]) << 8 | static_cast<unsigned char>(data[i + 2]);
        put(kB64[v >> 18 & 63]);
        put(kB64[v >> 12 & 63]);
        put(kB64[v >> 6 & 63]);
        put(kB64[v & 63]);
    }
    if (i < data.size()) {
        unsigned v = static_cast<unsigned char>(data[i]) << 16;
        if (i + 1 < data.size()) v |= static_cast<unsigned char>(data[i + 1]) << 8;
        put(kB64[v >> 18 & 63]);
        put(kB64[v >> 12 & 63]);
        put(i + 1 < data.size() ? kB64[v >> 6 & 63] : '=');
        put('=');
    }
    if (line_len && col != 0) out += '\n';
    return out;
}

std::string base64_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size() * 3 / 4);
    unsigned acc = 0;
    int bits = 0;
    for (unsigned char c : text) {
        if (c == '=') break;
        int v = b64_value(c);
        if (v < 0) continue;
        acc = (acc << 6 | static_cast<unsigned>(v)) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>(acc >> bits & 0xff);
        }
    }
    return out;
}

bool is_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool is_valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef) n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) n = 3, cp = c & 0x07;
        else return false;
        if (i + n >= s.size()) return false;
        for (size_t k = 1; k <= n; ++k) {
            unsigned char d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xc0) != 0x80) return false;
            cp = cp << 6 | (d & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

size_t longest_line(std::string_view s) {
    size_t best = 0, start = 0;
    while (start <= s.size()) {
        size_t nl = s.find('\n', start);
        size_t end = nl == std::string_view::npos ? s.size() : nl;
        best = std::max(best, end - start);
        if (nl == std::string_view::npos) break;
        start = nl + 1;
    }
    return best;
}

std::string ContentType::param(std::string_view name) const {
    for (const auto &p : params)
        if (p.first == name) return p.second;
    return {};
}

ContentType parse_content_type(std::string_view value) {
    ContentType ct;
    ValueScanner sc(value);
    sc.skip_cfws();
    std::string type = util::to_lower(sc.token());
    sc.skip_cfws();
    if (sc.peek() != '/') return ct;
    sc.next();
    sc.skip_cfws();
    std::string sub = util::to_lower(sc.token());
    if (type.empty() || sub.empty()) return ct;
    ct.type = std::move(type);
    ct.subtype = std::move(sub);

    // RFC 2231 pieces: base name -> (section, extended, value)
    struct Piece {
        int section;
        bool extended;
        std::string value;
    };
    std::map<std::string, std::vector<Piece>> split;
    std::vector<std::string> order;
    while (!sc.done()) {
        sc.skip_cfws();
        if (sc.peek() != ';') {
            sc.skip_past(';');
            continue;
        }
        sc.next();
        sc.skip_cfws();
        std::string name = util::to_lower(sc.token());
        sc.skip_cfws();
        if (name.empty() || sc.peek() != '=') continue;
        sc.next();
        sc.skip_cfws();
        std::string v = sc.peek() == '"' ? sc.quoted() : sc.token();
        bool extended = !name.empty() && name.back() == '*';
        if (extended) name.pop_back();
        int section = -1;
        size_t star = name.find('*');
        if (star != std::string::npos) {
            std::string num = name.substr(star + 1);
            name.resize(star);
            if (num.empty() || num.size() > 3 || !std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
            section = std::stoi(num);
        }
        if (name.empty()) continue;
        if (!split.count(name)) order.push_back(name);
        split[name].push_back({section, extended, std::move(v)});
    }
    for (const auto &name : order) {
        auto pieces = split[name];
        std::stable_sort(pieces.begin(), pieces.end(),
                         [](const Piece &a, const Piece &b) { return a.section < b.section; });
        std::string joined;
        for (size_t k = 0; k < pieces.size(); ++k) {
            const Piece &p = pieces[k];
            if (k > 0 && p.section == pieces[k - 1].section) continue;  // duplicate: first wins
            std::string v = p.value;
            if (p.extended) {
                if (p.section <= 0) {
                    // charset'language'value: the charset is not kept
                    size_t q1 = v.find('\'');
                    size_t q2 = q1 == std::string::npos ? q1 : v.find('\'', q1 + 1);
                    if (q2 != std::string::npos) v = v.substr(q2 + 1);
                }
                v = percent_decode(v);
            }
            joined += v;
        }
        ct.params.emplace_back(name, std::move(joined));
    }
    return ct;
}

std::string parse_transfer_encoding(std::string_view value) {
    ValueScanner sc(value);
    sc.skip_cfws();
    return util::to_lower(sc.token());
}

}  // namespace relay::message
