// mime.cpp - the mail front end's message builder.
#include "message/mime.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "message/address.hpp"
#include "message/codec.hpp"
#include "message/header.hpp"
#include "message/rfc2047.hpp"
#include "util/fd.hpp"
#include "util/strings.hpp"

namespace relay::message {

namespace {

constexpr size_t kMaxFilename = 255;

struct TextPart {
    std::string content_type;
    std::string cte;
    std::string encoded;
};

std::string to_lf(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 1);
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
        out += s[i];
    }
    return out;
}

std::string utf8_or(std::string_view s, std::string_view fallback) {
    if (is_ascii(s)) return "us-ascii";
    if (is_valid_utf8(s)) return "utf-8";
    return std::string(fallback);
}

TextPart encode_text(std::string_view raw, std::string_view charset, bool allow_8bit) {
    std::string body = to_lf(raw);
    if (!body.empty() && body.back() != '\n') body += '\n';
    TextPart p;
    bool clean = longest_line(body) <= 998 && body.find('\0') == std::string::npos &&
                 body.find('\r') == std::string::npos;
    if (is_ascii(body) && clean) {
        p.content_type = "text/plain; charset=us-ascii";
        p.cte = "7bit";
        p.encoded = std::move(body);
        return p;
    }
    // A charset the caller names is trusted; otherwise UTF-8 or nothing.
    bool utf8 = is_valid_utf8(body);
    std::string cs = is_ascii(body)       ? "us-ascii"
                     : !charset.empty() ? std::string(charset)
                     : utf8             ? "utf-8"
                                        : "unknown-8bit";
    p.content_type = "text/plain; " + mime_parameter("charset", cs);
    if (clean && allow_8bit && (utf8 || !charset.empty())) {
        p.cte = "8bit";
        p.encoded = std::move(body);
    } else {
        p.cte = "quoted-printable";
        p.encoded = qp_encode(body);
    }
    return p;
}

bool is_token_char(unsigned char c) {
    return c > ' ' && c < 127 && std::string_view("()<>@,;:\\\"/[]?=").find(static_cast<char>(c)) ==
                                     std::string_view::npos;
}

std::string basename_of(std::string_view path) {
    size_t slash = path.find_last_of('/');
    return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// At most kMaxFilename bytes, cut at a character boundary, without
// control characters or path separators.
std::string clean_filename(std::string_view name) {
    std::string out;
    for (unsigned char c : name) out += (c < 0x20 || c == 0x7f || c == '/') ? '_' : static_cast<char>(c);
    if (out.size() > kMaxFilename) {
        size_t cut = kMaxFilename;
        while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0) == 0x80) --cut;
        out.resize(cut);
    }
    if (out.empty()) out = "attachment";
    return out;
}

Result<std::string> read_file(const std::string &path, size_t limit) {
    util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) return make_error(path + ": cannot open attachment: " + std::strerror(errno), errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        return make_error(path + ": cannot stat attachment: " + std::strerror(errno), errno);
    if (!S_ISREG(st.st_mode)) return make_error(path + ": attachment is not a regular file");
    if (static_cast<unsigned long long>(st.st_size) > limit)
        return make_error(path + ": attachment is larger than " + std::to_string(limit) + " bytes");
    std::string data;
    data.reserve(static_cast<size_t>(st.st_size));
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(path + ": cannot read attachment: " + std::strerror(errno), errno);
        }
        if (n == 0) break;
        data.append(buf, static_cast<size_t>(n));
        if (data.size() > limit)
            return make_error(path + ": attachment is larger than " + std::to_string(limit) + " bytes");
    }
    return data;
}

std::string random_boundary() {
    static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::random_device rd;
    std::string b = "=_relay_";
    for (int i = 0; i < 24; ++i) b += alnum[rd() % 62];
    return b;
}

// Parses each list, re-formats every mailbox (display names encoded), and
// collects the addr-specs.
Result<std::string> format_list(const std::vector<std::string> &lists, std::vector<std::string> &rcpts,
                                const char *what) {
    std::string out;
    for (const auto &l : lists) {
        auto parsed = parse_address_list(l);
        if (!parsed.errors.empty()) return make_error(std::string(what) + ": " + parsed.errors.front());
        for (const auto &a : parsed.addresses) {
            if (a.address.empty()) return make_error(std::string(what) + ": empty address \"<>\"");
            if (!out.empty()) out += ", ";
            out += format_mailbox(a.display, a.address);
            rcpts.push_back(a.address);
        }
    }
    return out;
}

struct Part {
    std::vector<std::pair<std::string, std::string>> headers;
    std::string content;
};

Part attachment_part(const Attachment &a, std::string data) {
    std::string name = clean_filename(a.filename.empty() ? basename_of(a.path) : a.filename);
    std::string type = a.content_type.empty() ? guess_content_type(name) : util::to_lower(a.content_type);
    if (type.find('/') == std::string::npos) type = "application/octet-stream";
    Part p;
    if (util::istarts_with(type, "text/")) {
        std::string cs = utf8_or(data, "unknown-8bit");
        p.headers.emplace_back("Content-Type", type + "; " + mime_parameter("charset", cs) + "; " +
                                                   mime_parameter("name", name));
        p.headers.emplace_back("Content-Disposition", "attachment; " + mime_parameter("filename", name));
        p.headers.emplace_back("Content-Transfer-Encoding", "quoted-printable");
        p.content = qp_encode(data);
        if (!p.content.empty() && p.content.back() != '\n') p.content += "=\n";  // soft break: exact bytes
    } else {
        p.headers.emplace_back("Content-Type", type + "; " + mime_parameter("name", name));
        p.headers.emplace_back("Content-Disposition", "attachment; " + mime_parameter("filename", name));
        p.headers.emplace_back("Content-Transfer-Encoding", "base64");
        p.content = base64_encode(data);
    }
    return p;
}

}  // namespace

std::string guess_content_type(std::string_view filename) {
    static const std::pair<const char *, const char *> table[] = {
        {"txt", "text/plain"},          {"log", "text/plain"},        {"text", "text/plain"},
        {"conf", "text/plain"},         {"cfg", "text/plain"},        {"ini", "text/plain"},
        {"csv", "text/csv"},            {"tsv", "text/tab-separated-values"},
        {"html", "text/html"},          {"htm", "text/html"},         {"css", "text/css"},
        {"md", "text/markdown"},        {"ics", "text/calendar"},     {"vcf", "text/vcard"},
        {"diff", "text/x-diff"},        {"patch", "text/x-diff"},     {"sh", "text/x-shellscript"},
        {"py", "text/x-python"},        {"c", "text/x-c"},            {"h", "text/x-c"},
        {"xml", "application/xml"},     {"json", "application/json"}, {"yaml", "application/yaml"},
        {"yml", "application/yaml"},    {"pdf", "application/pdf"},   {"ps", "application/postscript"},
        {"zip", "application/zip"},     {"gz", "application/gzip"},   {"tgz", "application/gzip"},
        {"bz2", "application/x-bzip2"}, {"xz", "application/x-xz"},   {"zst", "application/zstd"},
        {"tar", "application/x-tar"},   {"7z", "application/x-7z-compressed"},
        {"deb", "application/vnd.debian.binary-package"},
        {"doc", "application/msword"},
        {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        {"xls", "application/vnd.ms-excel"},
        {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        {"odt", "application/vnd.oasis.opendocument.text"},
        {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
        {"png", "image/png"},           {"jpg", "image/jpeg"},        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},           {"webp", "image/webp"},       {"svg", "image/svg+xml"},
        {"bmp", "image/bmp"},           {"tif", "image/tiff"},        {"tiff", "image/tiff"},
        {"mp3", "audio/mpeg"},          {"ogg", "audio/ogg"},         {"wav", "audio/wav"},
        {"mp4", "video/mp4"},           {"webm", "video/webm"},
    };
    size_t slash = filename.find_last_of('/');
    if (slash != std::string_view::npos) filename.remove_prefix(slash + 1);
    size_t dot = filename.find_last_of('.');
    if (dot == std::string_view::npos || dot == 0) return "application/octet-stream";
    std::string ext = util::to_lower(filename.substr(dot + 1));
    for (const auto &[e, t] : table)
        if (ext == e) return t;
    return "application/octet-stream";
}

std::string mime_parameter(std::string_view name, std::string_view value) {
    std::string n(name);
    if (!is_ascii(value)) {
        std::string out = n + "*=UTF-8''";
        for (unsigned char c : value) {
            bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        std::string_view("!#$&+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
            if (keep) out += static_cast<char>(c);
            else util::append_hex(out, '%', c);
        }
        return out;
    }
    bool token = !value.empty();
    for (unsigned char c : value) token = token && is_token_char(c);
    if (token) return n + "=" + std::string(value);
    std::string out = n + "=\"";
    for (char c : value) {
        if (c == '\r' || c == '\n' || c == '\0') continue;
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
    return out;
}

Result<BuiltMessage> build_message(const MailSpec &spec) {
    BuiltMessage built;
    Message m;

    std::vector<std::string> ignored;
    auto from = format_list(spec.from.empty() ? std::vector<std::string>{}
                                              : std::vector<std::string>{spec.from},
                            ignored, "From");
    if (!from) return from.error();
    auto to = format_list(spec.to, built.recipients, "To");
    if (!to) return to.error();
    auto cc = format_list(spec.cc, built.recipients, "Cc");
    if (!cc) return cc.error();
    auto bcc = format_list(spec.bcc, built.recipients, "Bcc");
    if (!bcc) return bcc.error();

    if (!from->empty()) m.add("From", *from);
    if (!to->empty()) m.add("To", *to);
    if (!cc->empty()) m.add("Cc", *cc);
    if (spec.bcc_header && !bcc->empty()) m.add("Bcc", *bcc);
    if (!spec.subject.empty()) m.add("Subject", encode_header_text(spec.subject, 9));
    m.add("Date", spec.date.empty() ? rfc5322_date() : spec.date);
    if (!spec.message_id.empty()) m.add("Message-ID", spec.message_id);
    for (const auto &[name, value] : spec.extra_headers) {
        m.remove(name);
        m.add(name, value);
    }
    m.remove("MIME-Version");
    m.remove("Content-Type");
    m.remove("Content-Transfer-Encoding");
    m.add("MIME-Version", "1.0");

    TextPart text = encode_text(spec.body, spec.charset, spec.allow_8bit);
    if (spec.attachments.empty()) {
        m.add("Content-Type", text.content_type);
        m.add("Content-Transfer-Encoding", text.cte);
        m.body() = std::move(text.encoded);
        built.text = m.str();
        return built;
    }

    std::vector<Part> parts;
    Part first;
    first.headers = {{"Content-Type", text.content_type}, {"Content-Transfer-Encoding", text.cte}};
    first.content = std::move(text.encoded);
    parts.push_back(std::move(first));
    for (const auto &a : spec.attachments) {
        std::string data;
        if (!a.path.empty()) {
            auto r = read_file(a.path, spec.max_attachment_bytes);
            if (!r) return r.error();
            data = std::move(*r);
        } else {
            if (a.data.size() > spec.max_attachment_bytes)
                return make_error((a.filename.empty() ? std::string("attachment") : a.filename) +
                                  ": attachment is larger than " +
                                  std::to_string(spec.max_attachment_bytes) + " bytes");
            data = a.data;
        }
        parts.push_back(attachment_part(a, std::move(data)));
    }

    std::string boundary;
    for (int attempt = 0; attempt < 16 && boundary.empty(); ++attempt) {
        boundary = random_boundary();
        for (const auto &p : parts)
            if (p.content.find("--" + boundary) != std::string::npos) boundary.clear();
    }
    if (boundary.empty()) return make_error("cannot choose a MIME boundary");

    m.add("Content-Type", "multipart/mixed; " + mime_parameter("boundary", boundary));
    std::string body = "This is a multi-part message in MIME format.\n";
    for (const auto &p : parts) {
        body += "\n--" + boundary + "\n";
        Message ph;
        for (const auto &[n, v] : p.headers) ph.add(n, v);
        ph.body() = p.content;
        // The content ends in LF; the delimiter's own line break follows,
        // so the content's last line break is kept (RFC 2046 5.1.1).
        body += ph.str();
    }
    body += "\n--" + boundary + "--\n";
    m.body() = std::move(body);
    built.text = m.str();
    return built;
}

}  // namespace relay::message
