// rfc2047.cpp - encoded-words, both ways.
#include "message/rfc2047.hpp"

#include <algorithm>
#include <vector>

#include "message/codec.hpp"
#include "util/strings.hpp"

namespace relay::message {

namespace {

constexpr size_t kMaxWord = 75;      // RFC 2047 section 2
constexpr size_t kMaxScan = 256;     // how far a decoder looks for "?=" (bounds the work)
const char kHex[] = "0123456789ABCDEF";

bool q_literal(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' ||
           c == '*' || c == '+' || c == '-' || c == '/';
}

void q_append(unsigned char c, std::string &out) {
    if (c == ' ') {
        out += '_';
    } else if (q_literal(c)) {
        out += static_cast<char>(c);
    } else {
        out += '=';
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
}

size_t q_size(unsigned char c) { return c == ' ' || q_literal(c) ? 1 : 3; }

std::string sanitize(std::string_view s) {
    std::string out(s);
    for (auto &c : out)
        if (c == '\r' || c == '\n' || c == '\0') c = ' ';
    return out;
}

// Splits S into characters: whole UTF-8 sequences when UTF8, else bytes.
std::vector<std::string_view> characters(std::string_view s, bool utf8) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        size_t n = 1;
        if (utf8) {
            unsigned char c = static_cast<unsigned char>(s[i]);
            n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
            if (i + n > s.size()) n = s.size() - i;
        }
        out.push_back(s.substr(i, n));
        i += n;
    }
    return out;
}

bool is_atext(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

std::string latin1_to_utf8(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else {
            out += static_cast<char>(0xc0 | c >> 6);
            out += static_cast<char>(0x80 | (c & 0x3f));
        }
    }
    return out;
}

std::string q_decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '_') {
            out += ' ';
        } else if (c == '=' && i + 2 < s.size()) {
            auto hv = [](char h) {
                return h >= '0' && h <= '9' ? h - '0'
                       : h >= 'A' && h <= 'F' ? h - 'A' + 10
                       : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                              : -1;
            };
            int hi = hv(s[i + 1]), lo = hv(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
            } else {
                out += c;
            }
        } else {
            out += c;
        }
    }
    return out;
}

// Tries to read an encoded-word at S[I] ("=?cs?E?text?="). On success sets
// LEN to its length and OUT to the decoded text.
bool read_word(std::string_view whole, size_t i, size_t &len, std::string &out) {
    // Only a bounded window is searched, so that text full of "=?" costs
    // linear time.
    std::string_view s = whole.substr(i, kMaxScan);
    if (s.substr(0, 2) != "=?") return false;
    size_t q1 = s.find('?', 2);
    if (q1 == std::string_view::npos || q1 == 2) return false;
    if (q1 + 2 >= s.size() || s[q1 + 2] != '?') return false;
    char enc = s[q1 + 1];
    if (enc != 'Q' && enc != 'q' && enc != 'B' && enc != 'b') return false;
    size_t text_begin = q1 + 3;
    size_t end = s.find("?=", text_begin);
    if (end == std::string_view::npos) return false;
    std::string_view charset = s.substr(2, q1 - 2);
    std::string_view text = s.substr(text_begin, end - text_begin);
    for (char c : charset)
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return false;
    for (char c : text)
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return false;
    std::string cs = util::to_lower(charset.substr(0, charset.find('*')));  // RFC 2231 language
    std::string raw = (enc == 'Q' || enc == 'q') ? q_decode(text) : base64_decode(text);
    if (cs == "iso-8859-1" || cs == "latin1" || cs == "iso8859-1" || cs == "windows-1252" ||
        cs == "cp1252")
        out = latin1_to_utf8(raw);
    else
        out = std::move(raw);
    len = end + 2;
    return true;
}

}  // namespace

std::string encode_header_text(std::string_view text_in, size_t first_column) {
    std::string text = sanitize(text_in);
    if (is_ascii(text) && text.find("=?") == std::string::npos) return text;
    const bool utf8 = is_valid_utf8(text);
    const std::string charset = utf8 ? "UTF-8" : "unknown-8bit";
    size_t qlen = 0;
    for (unsigned char c : text) qlen += q_size(c);
    const bool use_q = qlen <= (text.size() + 2) / 3 * 4;
    const std::string prefix = "=?" + charset + (use_q ? "?Q?" : "?B?");
    const size_t overhead = prefix.size() + 2;

    std::vector<std::string> words;
    std::string payload;  // Q: encoded text; B: raw bytes of the word
    size_t limit = kMaxWord;
    if (first_column > 0 && first_column < 76) limit = std::min(kMaxWord, 76 - first_column);
    if (limit < overhead + 12) limit = std::min(kMaxWord, overhead + 12);
    auto encoded_size = [&](size_t raw) { return use_q ? raw : (raw + 2) / 3 * 4; };
    auto flush = [&]() {
        if (payload.empty()) return;
        words.push_back(prefix + (use_q ? payload : base64_encode(payload, 0)) + "?=");
        payload.clear();
        limit = kMaxWord;
    };
    for (std::string_view ch : characters(text, utf8)) {
        size_t add = 0;
        if (use_q)
            for (unsigned char c : ch) add += q_size(c);
        size_t next = use_q ? payload.size() + add : encoded_size(payload.size() + ch.size());
        if (overhead + next > limit) flush();
        if (use_q)
            for (unsigned char c : ch) q_append(c, payload);
        else
            payload.append(ch);
    }
    flush();
    std::string out;
    for (size_t k = 0; k < words.size(); ++k) {
        if (k) out += ' ';
        out += words[k];
    }
    return out;
}

std::string encode_phrase(std::string_view display_in) {
    std::string display = sanitize(display_in);
    if (display.empty()) return display;
    if (!is_ascii(display) || display.find("=?") != std::string::npos)
        return encode_header_text(display);
    bool plain = display.front() != ' ' && display.back() != ' ';
    for (char c : display) plain = plain && (c == ' ' || is_atext(c));
    if (plain && display.find("  ") == std::string::npos) return display;
    std::string out = "\"";
    for (char c : display) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
    return out;
}

std::string format_mailbox(std::string_view display, std::string_view address) {
    std::string name = encode_phrase(display);
    if (name.empty()) return std::string(address);
    return name + " <" + std::string(address) + ">";
}

std::string decode_header_text(std::string_view s) {
    std::string out;
    std::string pending_ws;
    bool last_word = false;
    size_t i = 0;
    while (i < s.size()) {
        size_t len = 0;
        std::string decoded;
        if (s[i] == '=' && read_word(s, i, len, decoded)) {
            if (!last_word) out += pending_ws;  // white space between two words is dropped
            pending_ws.clear();
            out += sanitize(decoded);  // no line breaks out of a word
            last_word = true;
            i += len;
            continue;
        }
        char c = s[i];
        if (c == '\r' || c == '\n') {
            // unfolding
        } else if (c == ' ' || c == '\t') {
            pending_ws += c;
        } else {
            out += pending_ws;
            pending_ws.clear();
            out += c;
            last_word = false;
        }
        ++i;
    }
    out += pending_ws;
    return out;
}

}  // namespace relay::message
