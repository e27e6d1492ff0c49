#include "cli/sendmail_args.hpp"

#include "util/strings.hpp"

namespace relay::cli {
namespace {

// Envelope and header values from the command line: no control characters
// at all (CR, LF and NUL would inject headers or envelope fields; ESC and
// the rest would reach an admin's terminal through mailq). TAB is allowed
// only where white space is (a full name).
bool bad_value(const std::string &v, bool allow_tab = false);

// An argument quoted in an error message, with control characters shown as
// '?' so that a usage error cannot write line breaks or escapes to stderr.
std::string shown(const std::string &v) {
    std::string out;
    for (unsigned char c : v.substr(0, 80)) out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
    return "\"" + out + "\"";
}

bool bad_value(const std::string &v, bool allow_tab) {
    for (unsigned char c : v)
        if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f) return true;
    return false;
}

// Splits a recipient argument at commas outside quotes and angle brackets.
void add_recipients(const std::string &arg, std::vector<std::string> &out) {
    std::string cur;
    bool quoted = false;
    int angle = 0;
    for (size_t i = 0; i < arg.size(); ++i) {
        char c = arg[i];
        if (c == '\\' && quoted && i + 1 < arg.size()) {
            cur += c;
            cur += arg[++i];
            continue;
        }
        if (c == '"') quoted = !quoted;
        else if (!quoted && c == '<') ++angle;
        else if (!quoted && c == '>' && angle > 0) --angle;
        if (c == ',' && !quoted && angle == 0) {
            auto t = util::trim(cur);
            if (!t.empty()) out.emplace_back(t);
            cur.clear();
        } else {
            cur += c;
        }
    }
    auto t = util::trim(cur);
    if (!t.empty()) out.emplace_back(t);
}

}  // namespace

ParseResult parse_sendmail_args(const std::vector<std::string> &args, bool relay_name) {
    ParseResult res;
    Options &o = res.options;
    auto fail = [&res](std::string msg) {
        res.error = std::move(msg);
        return res;
    };
    size_t i = 0;
    for (; i < args.size(); ++i) {
        const std::string &a = args[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a.size() < 2 || a[0] != '-') {
            add_recipients(a, o.recipients);
            continue;
        }
        if (a[1] == '-') {
            // Long options: relay's own, plus the few every MTA accepts.
            std::string name = a.substr(2), val;
            bool has_val = false;
            if (auto eq = name.find('='); eq != std::string::npos) {
                val = name.substr(eq + 1);
                name = name.substr(0, eq);
                has_val = true;
            }
            if (name == "help") o.mode = Mode::Help;
            else if (name == "version") o.mode = Mode::Version;
            else if (!relay_name) return fail("unknown option -- " + a);
            else if (name == "flush") o.mode = Mode::Flush;
            else if (name == "daemon") o.mode = Mode::Daemon;
            else if (name == "now") o.flush_now = true;
            else if (name == "json") o.json = true;
            else if (name == "quiet") o.quiet = true;
            else if (name == "verbose") o.verbose = true;
            else if (name == "init-spool") o.mode = Mode::InitSpool;
            else if (name == "config") {
                if (!has_val) {
                    if (i + 1 >= args.size()) return fail("option --config needs a file name");
                    val = args[++i];
                }
                o.config_path = val;
            } else {
                return fail("unknown option " + a);
            }
            if (has_val && name != "config") return fail("option --" + name + " takes no value");
            continue;
        }
        // Short options, possibly clustered; a value is the rest of the
        // argument or the next argument.
        for (size_t j = 1; j < a.size(); ++j) {
            char c = a[j];
            auto take_value = [&](std::string &out) -> bool {
                if (j + 1 < a.size()) {
                    out = a.substr(j + 1);
                } else if (i + 1 < args.size()) {
                    out = args[++i];
                } else {
                    return false;
                }
                j = a.size();  // consumed the rest of this argument
                return true;
            };
            std::string v;
            switch (c) {
            case 't': o.extract_recipients = true; break;
            case 'i': o.ignore_dots = true; break;
            case 'v': o.verbose = true; break;
            case 'm': o.ignored.push_back("-m"); break;
            case 'n': o.ignored.push_back("-n"); break;
            case 'G': o.ignored.push_back("-G"); break;
            case 'U': o.ignored.push_back("-U"); break;
            case 'I': o.mode = Mode::Aliases; break;
            case 'c': o.ignored.push_back("-c"); break;
            case 'f':
            case 'r':
                if (!take_value(v)) return fail(std::string("option requires an argument -- ") + c);
                if (bad_value(v)) return fail("-f: sender address contains a control character");
                {
                    auto t = std::string(util::trim(v));
                    if (t.size() >= 2 && t.front() == '<' && t.back() == '>')
                        t = t.substr(1, t.size() - 2);
                    o.sender = t;
                }
                break;
            case 'F':
                if (!take_value(v)) return fail("option requires an argument -- F");
                if (bad_value(v, true)) return fail("-F: full name contains a control character");
                o.fullname = v;
                break;
            case 'B':
                if (!take_value(v)) return fail("option requires an argument -- B");
                if (util::iequals(v, "8BITMIME")) o.body_type = "8BITMIME";
                else if (util::iequals(v, "7BIT")) o.body_type = "7BIT";
                else return fail("-B: body type must be 7BIT or 8BITMIME, not " + shown(v));
                break;
            case 'N':
                if (!take_value(v)) return fail("option requires an argument -- N");
                if (bad_value(v)) return fail("-N: contains a control character");
                {
                    std::string up;
                    for (auto &part : util::split(v, ',')) {
                        auto p = util::to_lower(util::trim(part));
                        std::string u;
                        if (p == "never") u = "NEVER";
                        else if (p == "success") u = "SUCCESS";
                        else if (p == "failure") u = "FAILURE";
                        else if (p == "delay") u = "DELAY";
                        else return fail("-N: unknown DSN notification " + shown(part));
                        up += (up.empty() ? "" : ",") + u;
                    }
                    if (up.find("NEVER") != std::string::npos && up != "NEVER")
                        return fail("-N: NEVER cannot be combined with other notifications");
                    o.dsn_notify = up;
                }
                break;
            case 'R':
                if (!take_value(v)) return fail("option requires an argument -- R");
                if (util::iequals(v, "full")) o.dsn_ret = "FULL";
                else if (util::iequals(v, "hdrs")) o.dsn_ret = "HDRS";
                else return fail("-R: must be full or hdrs, not " + shown(v));
                break;
            case 'V':
                if (!take_value(v)) return fail("option requires an argument -- V");
                if (bad_value(v) || v.size() > 100) return fail("-V: bad envelope id");
                o.envid = v;
                break;
            case 'C':
                if (!take_value(v)) return fail("option requires an argument -- C");
                o.config_path = v;
                break;
            case 'h':
            case 'L':
            case 'X':
            case 'p':
            case 'e':
            case 'O':
                if (!take_value(v)) return fail(std::string("option requires an argument -- ") + c);
                o.ignored.push_back(std::string("-") + c + " " + v);
                break;
            case 'o':
                // -oi / -oi=true / -oitrue: ignore dots; -o<anything else>: ignored.
                if (!take_value(v)) return fail("option requires an argument -- o");
                if (v == "i" || v == "i=true" || v == "itrue" || v == "i=t") o.ignore_dots = true;
                else if (v == "i=false" || v == "ifalse") o.ignore_dots = false;
                else o.ignored.push_back("-o" + v);
                break;
            case 'b':
                if (!take_value(v)) return fail("option requires an argument -- b");
                if (v == "m") o.mode = Mode::Deliver;
                else if (v == "p") o.mode = Mode::ListQueue;
                else if (v == "i") o.mode = Mode::Aliases;
                else if (v == "s") o.mode = Mode::Smtp;
                else if (v == "v") o.mode = Mode::Verify;
                else if (v == "d" || v == "D")
                    return fail("-b" + v + ": relay does not run a daemon this way"
                                " (see relay-serve(8) where built with server mode)");
                else return fail("-b" + v + ": unsupported mode");
                break;
            case 'q':
                o.mode = Mode::Flush;
                o.queue_arg = a.substr(j + 1);
                if (o.queue_arg == "f") o.flush_now = true;
                j = a.size();
                break;
            default:
                return fail(std::string("unknown option -- ") + c);
            }
        }
    }
    for (; i < args.size(); ++i) add_recipients(args[i], o.recipients);
    for (auto &r : o.recipients)
        if (bad_value(r)) return fail("recipient address contains a control character");
    return res;
}

std::string sendmail_usage(const std::string &name) {
    return "usage: " + name + " [options] [--] [recipient ...] < message\n"
R"(
Queues the message on standard input for delivery to the smarthost, as
sendmail(8) does. relay is a null client: it delivers nothing locally.

Message and envelope:
  -t            take recipients from To:, Cc:, Bcc: (and Resent-*) headers;
                Bcc: is removed; command-line recipients are added
  -i, -oi       a line with a single "." does not end the message
  -f ADDR, -r ADDR  envelope sender ("<>" for the null sender)
  -F NAME       full name for a From: header that relay adds
  -B 7BIT|8BITMIME  body type
  -N NOTIFY     DSN notification: never, or success,failure,delay
  -R full|hdrs  DSN: return the full message or only headers in a bounce
  -V ENVID      DSN envelope id

Modes:
  -bm           read a message from standard input and queue it (default)
  -bp           list the queue (same as mailq)
  -bs           speak SMTP on standard input and output; accepted mail is queued
  -bi, -I       check the aliases file (same as newaliases)
  -bv           show what rewriting does with each recipient; queue nothing
  -q, -qf       flush the queue now (-qf: deferred mail too)
  -odq          queue only: do not start a flush now (the timer, the path
                unit or relay --daemon sends it)

Accepted and ignored (as Postfix does):
  -oX..., -om, -oem, -odb, -odi, -m, -n, -G, -U, -c, -h N, -L LABEL, -X FILE,
  -p PROTO, -e X, -O OPT; -v prints what relay does

  -C FILE       configuration file (ignored when run set-gid)
  --            end of options; everything after it is a recipient

Recipients may be comma-separated lists ("a@example.net,b@example.net").
)"
           + std::string(name == "relay" ?
R"(
relay's own options and commands:
  --flush [--now]   pick up new mail and send every message that is due
  --daemon          stay in the foreground; flush whenever mail is submitted
                    (SPOOL/trigger) or a deferred message is due
  --init-spool      create the spool directories with their owners and modes
  --config FILE     same as -C
  --version, --help
  relay mailq [--json]            list the queue
  relay queue show|delete|hold|release|requeue ID...
  relay check                     check the configuration, tables and queue
  relay postmap -q KEY|- TYPE:NAME  query a lookup table as postmap(1) does
  relay postalias -q KEY|- TYPE:NAME  the same for an aliases(5) file
  relay address-test [--sender|--recipient] ADDR
  relay explain [sendmail flags] < message
  relay mail ...                  send mail as mailx(1) does (see relay mail --help)
)" : "") +
R"(
Exit status: 0 once the message is safely queued; 64 usage error; 65 bad
input (no recipients); 73/74 cannot write; 75 temporary failure (spool
full or missing: try again); 77 permission denied; 78 configuration error.
See relay(8).
)";
}

}  // namespace relay::cli
