// address.cpp - RFC 5322 address lists, tokenized once, parsed leniently.
//
// The work is done in two linear passes: a tokenizer that knows about
// quoted strings, comments, domain literals and folding white space, and
// a parser over the tokens that splits the list into elements (mailboxes
// and groups) and each element into phrase, angle address and addr-spec.
// Every token remembers where it stands in the input, so that an
// addr-spec's byte range can be reported and replaced exactly.
//
// Neither pass backtracks: each token is looked at a bounded number of
// times, so any input, however hostile, costs time linear in its size.
#include "message/address.hpp"

#include <cstddef>
#include <cstdint>

namespace relay::message {

namespace {

enum class Tok : std::uint8_t { Atom, Quoted, Literal, Comment, Special, Bad };

struct Token {
    Tok kind = Tok::Bad;
    char ch = 0;             // Special: the character
    bool ws_before = false;  // white space or a comment precedes this token
    bool unterminated = false;
    size_t begin = 0, end = 0;
    std::string text;   // Atom/Quoted/Literal: as written, line breaks removed
    std::string value;  // Quoted: unquoted content; Comment: the comment text
};

bool is_wsp(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Control characters other than white space are never part of a token.
bool is_bad_ctl(unsigned char c) { return (c < 0x20 && !is_wsp(c)) || c == 0x7f; }

bool is_special(unsigned char c) {
    switch (c) {
    case '(': case ')': case '<': case '>': case '[': case ']': case ':': case ';':
    case '@': case ',': case '.': case '"':
        return true;
    default:
        return false;
    }
}

// Bytes with the high bit set count as atom text: 8-bit display names and
// SMTPUTF8 local parts are written that way by real callers.
bool is_atext(unsigned char c) { return !is_wsp(c) && !is_bad_ctl(c) && !is_special(c); }

// Collapses runs of white space to one space and trims both ends.
std::string collapse_ws(std::string_view s) {
    std::string out;
    bool pending = false;
    for (unsigned char c : s) {
        if (is_wsp(c)) {
            pending = !out.empty();
            continue;
        }
        if (pending) out += ' ';
        pending = false;
        out += static_cast<char>(c);
    }
    return out;
}

// Reads a quoted string, domain literal or comment starting at s[i].
// Returns the index just past it. Line breaks inside are folding: they are
// dropped from TEXT and VALUE. A backslash before a line break or a control
// character, or a control character anywhere, makes the token Bad.
size_t read_delimited(std::string_view s, size_t i, Token &t) {
    const char open = s[i];
    const char close = open == '"' ? '"' : open == '[' ? ']' : ')';
    int depth = 1;
    t.text += open;
    ++i;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == '\r' || c == '\n') {
            ++i;
            continue;
        }
        if (is_bad_ctl(c)) {
            t.kind = Tok::Bad;
            ++i;
            continue;
        }
        if (c == '\\') {
            if (i + 1 >= s.size()) {
                ++i;
                break;
            }
            unsigned char n = static_cast<unsigned char>(s[i + 1]);
            if (n == '\r' || n == '\n' || is_bad_ctl(n)) t.kind = Tok::Bad;
            t.text += '\\';
            t.text += static_cast<char>(n);
            t.value += static_cast<char>(n);
            i += 2;
            continue;
        }
        if (open == '(' && c == '(') {
            ++depth;
        } else if (c == static_cast<unsigned char>(close) && --depth == 0) {
            t.text += close;
            return i + 1;
        }
        t.text += static_cast<char>(c);
        t.value += static_cast<char>(c);
        ++i;
    }
    t.unterminated = true;
    return i;
}

std::vector<Token> tokenize(std::string_view s) {
    std::vector<Token> toks;
    bool ws = false;
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (is_wsp(c)) {
            ws = true;
            ++i;
            continue;
        }
        Token t;
        t.begin = i;
        t.ws_before = ws;
        ws = false;
        if (c == '"' || c == '[' || c == '(') {
            t.kind = c == '"' ? Tok::Quoted : c == '[' ? Tok::Literal : Tok::Comment;
            i = read_delimited(s, i, t);
            if (t.kind == Tok::Comment) ws = true;
        } else if (c == ')' || c == ']' || is_bad_ctl(c)) {
            t.kind = Tok::Bad;
            t.text = static_cast<char>(c);
            ++i;
        } else if (is_special(c)) {
            t.kind = Tok::Special;
            t.ch = static_cast<char>(c);
            t.text = static_cast<char>(c);
            ++i;
        } else {
            // An atom. Outside quotes a backslash quotes the next byte
            // (sendmail's "\root"), unless that byte is a line break.
            t.kind = Tok::Atom;
            while (i < s.size()) {
                unsigned char a = static_cast<unsigned char>(s[i]);
                if (a == '\\') {
                    if (i + 1 >= s.size() || is_wsp(static_cast<unsigned char>(s[i + 1])) ||
                        is_bad_ctl(static_cast<unsigned char>(s[i + 1]))) {
                        t.kind = Tok::Bad;
                        ++i;
                        break;
                    }
                    t.text += s.substr(i, 2);
                    i += 2;
                    continue;
                }
                if (!is_atext(a)) break;
                t.text += static_cast<char>(a);
                ++i;
            }
        }
        t.end = i;
        toks.push_back(std::move(t));
    }
    return toks;
}

bool is_sp(const Token &t, char c) { return t.kind == Tok::Special && t.ch == c; }
bool is_word(const Token &t) { return t.kind == Tok::Atom || t.kind == Tok::Quoted; }

// Text of an element for an error message: one line, bounded length.
std::string excerpt(std::string_view text, const std::vector<Token> &toks, size_t a, size_t b) {
    if (a >= b) return {};
    std::string s = collapse_ws(text.substr(toks[a].begin, toks[b - 1].end - toks[a].begin));
    for (auto &c : s)
        if (is_bad_ctl(static_cast<unsigned char>(c))) c = '?';
    if (s.size() > 100) s = s.substr(0, 100) + "...";
    return s;
}

class ListParser {
public:
    ListParser(std::string_view text) : text_(text), toks_(tokenize(text)) {}

    ParsedList run();

private:
    size_t element_end(size_t i, bool in_group, size_t &colon) const;
    void mailbox(size_t a, size_t b);
    // Parses the addr-spec made of the non-comment tokens IDX into REF;
    // returns false and sets WHY on failure.
    bool addr_spec(const std::vector<size_t> &idx, AddressRef &ref, std::string &why) const;
    std::string phrase(size_t a, size_t b) const;
    void fail(size_t a, size_t b, const std::string &why) {
        out_.errors.push_back("malformed address \"" + excerpt(text_, toks_, a, b) + "\": " + why);
    }

    std::string_view text_;
    std::vector<Token> toks_;
    ParsedList out_;
};

// Finds where the element starting at I ends: the index of the ',' or ';'
// that terminates it, or the end. A ':' seen before any '<' or '@' outside
// angle brackets starts a group; its index is stored in COLON.
size_t ListParser::element_end(size_t i, bool in_group, size_t &colon) const {
    colon = SIZE_MAX;
    int depth = 0;
    bool seen_addr = false;
    for (size_t j = i; j < toks_.size(); ++j) {
        const Token &t = toks_[j];
        if (t.kind != Tok::Special) continue;
        switch (t.ch) {
        case '<':
            ++depth;
            seen_addr = true;
            break;
        case '>':
            if (depth > 0) --depth;
            break;
        case '@':
            seen_addr = true;
            break;
        case ',':
            // Inside angle brackets a comma separates obs-route domains
            // ("<@a,@b:u@c>"); anything else means the '>' is missing.
            if (depth == 0 || j + 1 >= toks_.size() || !is_sp(toks_[j + 1], '@')) return j;
            break;
        case ';':
            if (depth == 0) return j;
            break;
        case ':':
            if (depth == 0 && !in_group && !seen_addr) {
                colon = j;
                return j;
            }
            break;
        default:
            break;
        }
    }
    return toks_.size();
}

ParsedList ListParser::run() {
    bool in_group = false;
    size_t i = 0;
    while (i < toks_.size()) {
        const Token &t = toks_[i];
        if (is_sp(t, ',')) {
            ++i;
            continue;
        }
        if (is_sp(t, ';')) {
            // Ends a group; outside a group some mailers use ';' as a list
            // separator, which is accepted the same way.
            in_group = false;
            ++i;
            continue;
        }
        size_t colon = SIZE_MAX;
        size_t j = element_end(i, in_group, colon);
        if (colon != SIZE_MAX) {
            // "name:" opens a group. The name itself is not an address.
            for (size_t k = i; k < colon; ++k) {
                if (toks_[k].kind == Tok::Bad || toks_[k].unterminated) {
                    fail(i, colon + 1, "bad characters in group name");
                    break;
                }
            }
            in_group = true;
            i = colon + 1;
            continue;
        }
        mailbox(i, j);
        i = j;
    }
    return std::move(out_);
}

std::string ListParser::phrase(size_t a, size_t b) const {
    std::string out;
    for (size_t k = a; k < b; ++k) {
        const Token &t = toks_[k];
        if (t.kind == Tok::Comment) continue;
        if (!out.empty() && t.ws_before) out += ' ';
        out += t.kind == Tok::Quoted ? t.value : t.text;
    }
    return collapse_ws(out);
}

bool ListParser::addr_spec(const std::vector<size_t> &idx, AddressRef &ref,
                           std::string &why) const {
    if (idx.empty()) {
        why = "empty address";
        return false;
    }
    size_t k = 0;
    std::string addr;
    bool prev_word = false;
    // local-part: words and dots (obs-local-part, and the "a..b" that real
    // mailers accept)
    for (; k < idx.size(); ++k) {
        const Token &t = toks_[idx[k]];
        if (is_sp(t, '@')) break;
        if (is_word(t)) {
            if (prev_word) {
                why = "words without '@' or '<...>'";
                return false;
            }
            prev_word = true;
        } else if (is_sp(t, '.')) {
            prev_word = false;
        } else {
            why = "unexpected '" + t.text + "' in local part";
            return false;
        }
        addr += t.text;
    }
    if (addr.empty()) {
        why = "empty local part";
        return false;
    }
    if (k < idx.size()) {
        addr += '@';
        ++k;
        prev_word = false;
        bool literal = false;
        for (; k < idx.size(); ++k) {
            const Token &t = toks_[idx[k]];
            if (t.kind == Tok::Literal) {
                if (k + 1 != idx.size() || prev_word) {
                    why = "junk around domain literal";
                    return false;
                }
                literal = true;
            } else if (t.kind == Tok::Atom) {
                if (prev_word || literal) {
                    why = "white space in domain";
                    return false;
                }
                prev_word = true;
            } else if (is_sp(t, '.')) {
                prev_word = false;
            } else if (is_sp(t, '@')) {
                why = "more than one '@'";
                return false;
            } else {
                why = "unexpected '" + t.text + "' in domain";
                return false;
            }
            addr += t.text;
        }
    }
    ref.address = std::move(addr);
    ref.begin = toks_[idx.front()].begin;
    ref.end = toks_[idx.back()].end;
    return true;
}

void ListParser::mailbox(size_t a, size_t b) {
    std::vector<size_t> plain;  // non-comment tokens
    std::string comment;
    size_t lt = SIZE_MAX;
    for (size_t k = a; k < b; ++k) {
        const Token &t = toks_[k];
        if (t.kind == Tok::Bad) {
            fail(a, b, "control character or stray bracket");
            return;
        }
        if (t.unterminated) {
            fail(a, b, t.kind == Tok::Comment ? "unterminated comment"
                       : t.kind == Tok::Quoted ? "unterminated quoted string"
                                               : "unterminated domain literal");
            return;
        }
        if (t.kind == Tok::Comment) {
            if (comment.empty()) comment = collapse_ws(t.value);
            continue;
        }
        if (lt == SIZE_MAX && is_sp(t, '<')) lt = k;
        plain.push_back(k);
    }
    if (plain.empty()) return;  // empty element or only a comment: obs-mbox-list allows it

    AddressRef ref;
    std::string why;
    if (lt == SIZE_MAX) {
        for (size_t k : plain)
            if (is_sp(toks_[k], '>')) {
                fail(a, b, "'>' without '<'");
                return;
            }
        if (!addr_spec(plain, ref, why)) {
            fail(a, b, why);
            return;
        }
        ref.display = comment;
        out_.addresses.push_back(std::move(ref));
        return;
    }

    // phrase <[route:]addr-spec> [comments]
    size_t gt = SIZE_MAX;
    std::vector<size_t> inner;
    for (size_t k : plain) {
        if (k <= lt) continue;
        if (gt != SIZE_MAX) {
            fail(a, b, "text after '>'");
            return;
        }
        if (is_sp(toks_[k], '>')) {
            gt = k;
            continue;
        }
        if (is_sp(toks_[k], '<')) {
            fail(a, b, "nested '<'");
            return;
        }
        inner.push_back(k);
    }
    // A missing '>' at the end of the element is forgiven, as Postfix does.
    // obs-route: "@a,@b:" before the addr-spec is dropped.
    if (!inner.empty() && is_sp(toks_[inner.front()], '@')) {
        size_t c = 0;
        while (c < inner.size() && !is_sp(toks_[inner[c]], ':')) ++c;
        if (c == inner.size()) {
            fail(a, b, "source route without ':'");
            return;
        }
        inner.erase(inner.begin(), inner.begin() + static_cast<std::ptrdiff_t>(c) + 1);
    }
    for (size_t k : inner)
        if (is_sp(toks_[k], ':') || is_sp(toks_[k], ',') || is_sp(toks_[k], ';')) {
            fail(a, b, "unexpected '" + toks_[k].text + "' in angle address");
            return;
        }
    if (inner.empty()) {
        // "<>": the null address. Its range is the empty span inside.
        ref.address.clear();
        ref.begin = ref.end = toks_[lt].end;
    } else if (!addr_spec(inner, ref, why)) {
        fail(a, b, why);
        return;
    }
    ref.display = phrase(a, lt);
    if (ref.display.empty()) ref.display = comment;
    out_.addresses.push_back(std::move(ref));
}

}  // namespace

std::string Address::str() const {
    if (domain.empty()) return local;
    return local + "@" + domain;
}

bool split_address(std::string_view text, Address &out) {
    out = Address{};
    bool in_quote = false;
    size_t at = std::string_view::npos;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\r' || c == '\n' || c == '\0' || c == '<' || c == '>') return false;
        if (c == '\\') {
            if (i + 1 >= text.size()) return false;
            char n = text[i + 1];
            if (n == '\r' || n == '\n' || n == '\0') return false;
            ++i;
            continue;
        }
        if (c == '"') in_quote = !in_quote;
        else if (c == '@' && !in_quote) at = i;
    }
    if (in_quote) return false;
    if (at == std::string_view::npos) {
        out.local = std::string(text);
        return true;
    }
    out.local = std::string(text.substr(0, at));
    out.domain = std::string(text.substr(at + 1));
    out.has_at = true;
    return true;
}

ParsedList parse_address_list(std::string_view text) {
    ListParser p(text);
    return p.run();
}

std::string rewrite_address_list(std::string_view text,
                                 const std::function<std::string(const std::string &)> &fn) {
    ParsedList list = parse_address_list(text);
    std::string out;
    out.reserve(text.size() + 16 * list.addresses.size());
    size_t pos = 0;
    for (const auto &ref : list.addresses) {
        if (ref.begin < pos || ref.end > text.size()) continue;  // cannot happen; stay safe
        std::string repl = fn(ref.address);
        // A replacement must never smuggle a line break into the header.
        for (char c : repl)
            if (c == '\r' || c == '\n' || c == '\0') {
                repl = ref.address;
                break;
            }
        out.append(text.substr(pos, ref.begin - pos));
        out += repl;
        pos = ref.end;
    }
    out.append(text.substr(pos));
    return out;
}

ParsedList parse_recipient_argument(std::string_view arg) {
    ParsedList out;
    for (char c : arg)
        if (c == '\r' || c == '\n' || c == '\0') {
            out.errors.push_back("recipient argument contains a line break or NUL: ignored");
            return out;
        }
    ParsedList list = parse_address_list(arg);
    out.errors = std::move(list.errors);
    for (auto &ref : list.addresses) {
        if (ref.address.empty()) {
            out.errors.push_back("empty recipient address \"<>\": ignored");
            continue;
        }
        out.addresses.push_back(std::move(ref));
    }
    return out;
}

}  // namespace relay::message
