#include "cli/mailx.hpp"

#include <iostream>
#include <sys/stat.h>

#include "cli/context.hpp"
#include "cli/process.hpp"
#include "cli/submit.hpp"
#include "log/log.hpp"
#include "message/address.hpp"
#include "message/mime.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace relay::cli {
namespace {

bool looks_like_header(const std::string &s) {
    auto colon = s.find(':');
    if (colon == std::string::npos || colon == 0) return false;
    for (size_t i = 0; i < colon; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c <= ' ' || c >= 127) return false;
    }
    return true;
}

// Keeps the elements of LIST that parse as addresses, warning about others.
std::vector<std::string> valid_addresses(const std::string &list) {
    std::vector<std::string> out;
    auto parsed = message::parse_recipient_argument(list);
    for (auto &e : parsed.errors) log::warning("ignoring bad recipient: " + e);
    for (auto &a : parsed.addresses) {
        if (!a.address.empty()) out.push_back(a.display.empty() ? a.address
                                                                : "\"" + a.display + "\" <" + a.address + ">");
    }
    return out;
}

}  // namespace

std::string mailx_usage(const std::string &name) {
    return "usage: " + name + R"( [-s subject] [-c cc-addr] [-b bcc-addr] [-r from-addr]
            [-a file|header]... [-E] [--] to-addr... < body

Sends the text on standard input as a mail message through relay's queue.
  -s SUBJECT   subject (encoded as RFC 2047 when not ASCII)
  -c LIST      carbon copies (comma-separated)
  -b LIST      blind carbon copies (not shown in the headers)
  -r ADDR      sender: From: header and envelope sender
  -a FILE      attach FILE (type guessed from its name); "-a 'Name: value'"
               adds a header instead when no such file exists (bsd-mailx)
  -E           do not send when the body is empty
  -S from=ADDR same as -r; other -S settings are ignored
  -n -N -v -i -d   accepted and ignored
Reading mailboxes is not supported: relay only sends mail.
Exit status: 0 once queued; 64 usage; 65 bad input; 75 try again later.
)";
}

int run_mailx(const std::string &name, const std::vector<std::string> &args) {
    // Attachments (and the stat() that tells them from -a headers) are
    // opened with the caller's own group, not relaydrop's.
    CallerFileAccess caller_files;
    message::MailSpec spec;
    std::vector<std::string> recipients;
    std::string from, config_path;
    bool skip_empty = false;
    auto need = [&](size_t &i, const std::string &opt) -> const std::string & {
        if (i + 1 >= args.size()) throw Fatal(Exit::Usage, "option " + opt + " needs a value");
        return args[++i];
    };
    size_t i = 0;
    for (; i < args.size(); ++i) {
        const std::string &a = args[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a.size() < 2 || a[0] != '-') {
            recipients.push_back(a);
            continue;
        }
        if (a == "--help" || a == "-h") {
            std::cout << mailx_usage(name);
            return 0;
        }
        std::string opt = a.substr(0, 2);
        std::string glued = a.size() > 2 ? a.substr(2) : "";
        auto value = [&]() -> std::string { return glued.empty() ? need(i, opt) : glued; };
        switch (a[1]) {
        case 's': spec.subject = value(); break;
        case 'c': spec.cc.push_back(value()); break;
        case 'b': spec.bcc.push_back(value()); break;
        case 'r': from = value(); break;
        case 'C': config_path = value(); break;
        case 'a': {
            std::string v = value();
            struct stat st;
            if (looks_like_header(v) && ::stat(v.c_str(), &st) < 0) {
                auto colon = v.find(':');
                spec.extra_headers.emplace_back(std::string(util::trim(v.substr(0, colon))),
                                                std::string(util::trim(v.substr(colon + 1))));
            } else {
                message::Attachment att;
                att.path = v;
                spec.attachments.push_back(att);
            }
            break;
        }
        case 'A': {
            message::Attachment att;
            att.path = value();
            spec.attachments.push_back(att);
            break;
        }
        case 'S': {
            std::string v = value();
            if (util::istarts_with(v, "from=")) from = v.substr(5);
            break;
        }
        case 'E':
            if (!glued.empty()) throw Fatal(Exit::Usage, "unknown option " + a);
            skip_empty = true;
            break;
        case 'n': case 'N': case 'v': case 'i': case 'd': case '~': case 't':
            break;
        case 'f': case 'u': case 'H': case 'e':
            throw Fatal(Exit::Usage, name + ": reading mailboxes is not supported; relay only sends"
                                            " mail (see " + name + " --help)");
        default:
            throw Fatal(Exit::Usage, "unknown option " + a + " (see " + name + " --help)");
        }
    }
    for (; i < args.size(); ++i) recipients.push_back(args[i]);
    for (auto &v : {spec.subject, from})
        if (util::has_ctl_line_break(v)) throw Fatal(Exit::Usage, "subject and sender must be one line");

    Context ctx = load_context(config_path);
    std::string body = read_message(0, true, ctx.cfg.queue.message_size_limit);
    if (recipients.empty() && spec.cc.empty() && spec.bcc.empty())
        throw Fatal(Exit::Usage, name + ": no recipients given (reading mailboxes is not "
                                        "supported; relay only sends mail)");
    for (auto &r : recipients)
        for (auto &v : valid_addresses(r)) spec.to.push_back(v);
    std::vector<std::string> cc, bcc;
    for (auto &r : spec.cc)
        for (auto &v : valid_addresses(r)) cc.push_back(v);
    for (auto &r : spec.bcc)
        for (auto &v : valid_addresses(r)) bcc.push_back(v);
    spec.cc = cc;
    spec.bcc = bcc;
    if (spec.to.empty() && spec.cc.empty() && spec.bcc.empty())
        throw Fatal(Exit::DataErr, "no valid recipient address given");
    if (skip_empty && util::trim(body).empty()) {
        log::info("empty message body: not sent (-E)");
        return 0;
    }
    spec.body = std::move(body);
    spec.from = from;
    auto built = message::build_message(spec);
    if (!built) throw Fatal(Exit::DataErr, built.error().message);

    queue::Submission sub;
    if (!from.empty()) {
        auto list = message::parse_address_list(from);
        if (list.addresses.empty()) throw Fatal(Exit::Usage, "-r: not an address: " + from);
        sub.sender = list.addresses[0].address;
    }
    sub.recipients = built->recipients;
    sub.message = std::move(built->text);
    caller_files.restore();
    check_free_space(ctx.cfg, sub.message.size());
    std::string id = enqueue(ctx.cfg, sub);
    log::debug(id + ": queued");
    wake_flusher(ctx.cfg, ctx.config_path);
    return 0;
}

}  // namespace relay::cli
