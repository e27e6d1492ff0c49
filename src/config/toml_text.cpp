#include "config/toml_text.hpp"

#include <cstdint>
#include <cstdio>
#include <optional>

namespace relay::config {
namespace {

bool is_high(char c) { return static_cast<unsigned char>(c) >= 0x80; }

// Decodes one well-formed UTF-8 sequence at S[I]; returns its length, or 0
// when the bytes there are not one.
size_t decode_utf8(std::string_view s, size_t i, uint32_t &cp) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    size_t len;
    uint32_t min;
    if (c >= 0xC2 && c <= 0xDF) len = 2, min = 0x80, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, min = 0x800, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, min = 0x10000, cp = c & 0x07;
    else return 0;
    if (i + len > s.size()) return 0;
    for (size_t k = 1; k < len; ++k) {
        if ((b(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b(i + k) & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

void append_escape(std::string &out, uint32_t cp) {
    char buf[16];
    if (cp <= 0xFFFF) std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(cp));
    else std::snprintf(buf, sizeof buf, "\\U%08X", static_cast<unsigned>(cp));
    out += buf;
}

size_t run_of(std::string_view s, size_t i, char c) {
    size_t k = i;
    while (k < s.size() && s[k] == c) ++k;
    return k - i;
}

class Guard {
public:
    Guard(std::string_view text, const std::string &name) : s_(text), name_(name) {
        out_.reserve(text.size());
    }

    Result<std::string> run() {
        while (i_ < s_.size()) {
            const char c = s_[i_];
            if (is_high(c)) return *refuse("non-ASCII character outside a quoted string or a comment");
            if (c == '#') {
                if (auto e = comment()) return *e;
            } else if (c == '"' || c == '\'') {
                const bool multi = run_of(s_, i_, c) >= 3;
                if (auto e = c == '"' ? basic(multi) : literal(multi)) return *e;
            } else {
                put(c);
            }
        }
        return std::move(out_);
    }

private:
    std::optional<Error> refuse(const char *what) const {
        return make_error(name_ + ":" + std::to_string(line_) + ": " + what);
    }

    void put(char c) {
        if (c == '\n') ++line_;
        out_ += c;
        ++i_;
    }

    // A non-ASCII character at i_: its code point and length, or an error.
    std::optional<Error> decode(uint32_t &cp, size_t &len) const {
        len = decode_utf8(s_, i_, cp);
        if (len == 0) return refuse("invalid UTF-8");
        return std::nullopt;
    }

    std::optional<Error> comment() {
        while (i_ < s_.size() && s_[i_] != '\n') {
            if (!is_high(s_[i_])) {
                put(s_[i_]);
                continue;
            }
            uint32_t cp;
            size_t len;
            if (auto e = decode(cp, len)) return e;
            out_ += '?';
            i_ += len;
        }
        return std::nullopt;
    }

    // Where the string at i_ ends (the index after its closing delimiter,
    // or where the line or the text ends when it is not closed), and
    // whether it is closed and holds a non-ASCII byte. Follows TOML: up to
    // two quotes just before a closing """ or ''' belong to the string.
    size_t string_end(char quote, bool multi, bool &closed, bool &high) const {
        const bool escapes = quote == '"';
        size_t k = i_ + (multi ? 3 : 1);
        closed = high = false;
        while (k < s_.size()) {
            const char c = s_[k];
            if (c == quote) {
                closed = true;
                if (!multi) return k + 1;
                size_t q = run_of(s_, k, quote);
                if (q >= 3) return k + (q > 5 ? 5 : q);
                closed = false;
                k += q;
                continue;
            }
            if (c == '\n' && !multi) return k;
            if (is_high(c)) high = true;
            k += escapes && c == '\\' && k + 1 < s_.size() && s_[k + 1] != '\n' ? 2 : 1;
        }
        return k;
    }

    // "..." or """...""": copied, with each non-ASCII character escaped.
    std::optional<Error> basic(bool multi) {
        bool closed, high;
        const size_t end = string_end('"', multi, closed, high);
        while (i_ < end) {
            const char c = s_[i_];
            if (c == '\\' && i_ + 1 < end && s_[i_ + 1] != '\n') {
                if (is_high(s_[i_ + 1])) return refuse("invalid escape sequence in a string");
                put(c);
                put(s_[i_]);
                continue;
            }
            if (!is_high(c)) {
                put(c);
                continue;
            }
            uint32_t cp;
            size_t len;
            if (auto e = decode(cp, len)) return e;
            append_escape(out_, cp);
            i_ += len;
        }
        return std::nullopt;
    }

    // '...' or '''...''': copied as it is when it is ASCII, otherwise
    // written as the basic string with the same value.
    std::optional<Error> literal(bool multi) {
        bool closed, high;
        const size_t end = string_end('\'', multi, closed, high);
        if (!high) {
            while (i_ < end) put(s_[i_]);
            return std::nullopt;
        }
        const size_t delim = multi ? 3 : 1;
        const size_t body_end = closed ? end - delim : end;
        out_.append(multi ? "\"\"\"" : "\"");
        i_ += delim;
        while (i_ < body_end) {
            const char c = s_[i_];
            if (c == '\\' || c == '"') {
                out_ += '\\';
                put(c);
            } else if (!is_high(c)) {
                put(c);
            } else {
                uint32_t cp;
                size_t len;
                if (auto e = decode(cp, len)) return e;
                append_escape(out_, cp);
                i_ += len;
            }
        }
        if (closed) {
            out_.append(multi ? "\"\"\"" : "\"");
            i_ = end;
        }
        return std::nullopt;
    }

    std::string_view s_;
    const std::string &name_;
    std::string out_;
    size_t i_ = 0;
    size_t line_ = 1;
};

}  // namespace

Result<std::string> guard_toml_text(std::string_view text, const std::string &name) {
    return Guard(text, name).run();
}

}  // namespace relay::config
