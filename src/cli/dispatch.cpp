#include "cli/dispatch.hpp"

#include <cstring>
#include <iostream>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "build_config.hpp"
#include "cli/commands.hpp"
#include "cli/context.hpp"
#include "cli/flush_cmd.hpp"
#include "cli/mailq.hpp"
#include "cli/mailx.hpp"
#include "cli/process.hpp"
#include "cli/sendmail_args.hpp"
#include "cli/submit.hpp"
#include "log/log.hpp"
#include "util/error.hpp"
#ifdef RELAY_WITH_SERVER
#include "server/commands.hpp"
#endif

namespace relay::cli {
namespace {

enum class Personality { Sendmail, Mailq, Newaliases, Mailx, Relay };

Personality personality_of(std::string_view name) {
    if (name == "sendmail" || name == "send-mail") return Personality::Sendmail;
    if (name == "mailq") return Personality::Mailq;
    if (name == "newaliases") return Personality::Newaliases;
    if (name == "mail" || name == "mailx" || name == "Mail") return Personality::Mailx;
    return Personality::Relay;
}

void warn_ignored(const Options &opt) {
    for (auto &f : opt.ignored) {
        // What callers pass every day is ignored silently, as Postfix does.
        bool routine = f.rfind("-oe", 0) == 0 || f.rfind("-od", 0) == 0 || f == "-om" ||
                       f == "-m" || f == "-n" || f == "-G" || f == "-U" || f == "-c" ||
                       f.rfind("-h ", 0) == 0 || f.rfind("-L ", 0) == 0 ||
                       f.rfind("-X ", 0) == 0 || f.rfind("-p ", 0) == 0 || f.rfind("-e ", 0) == 0;
        if (!routine) log::warning("option " + f + " ignored");
    }
}

int run_mode(const Options &opt, const std::string &name) {
    log::set_verbose(opt.verbose);
    warn_ignored(opt);

    // The set-gid front end only submits (design: privilege model).
    if (identity().setgid && opt.mode != Mode::Deliver && opt.mode != Mode::Help &&
        opt.mode != Mode::Version && opt.mode != Mode::Smtp)
        throw Fatal(Exit::NoPerm, "this operation needs root or the relay user; "
                                  "an unprivileged user can only submit mail");
    switch (opt.mode) {
    case Mode::Help:
        std::cout << sendmail_usage(name);
        return 0;
    case Mode::Version:
        std::cout << "relay " << build::version << "\n";
        return 0;
    default:
        break;
    }
    Context ctx = load_context(opt.config_path);
    switch (opt.mode) {
    case Mode::Deliver: return run_submit(opt, ctx.cfg, ctx.config_path);
    case Mode::ListQueue: list_queue(ctx.cfg, std::cout, opt.json); return 0;
    case Mode::Flush:
        if (!opt.verbose && !opt.quiet && isatty(2)) log::set_sink(log::Sink::Both);
        else if (opt.verbose) log::set_sink(log::Sink::Both);
        else log::set_sink(log::Sink::Syslog);
        return run_flush(ctx, opt);
    case Mode::Daemon:
        log::set_sink(opt.verbose || isatty(2) ? log::Sink::Both : log::Sink::Syslog);
        return run_daemon(ctx, opt);
    case Mode::InitSpool: return run_init_spool(ctx);
    case Mode::Aliases: return run_newaliases(ctx);
    case Mode::Verify: return run_verify(ctx, opt);
    case Mode::Smtp: return run_smtp_stdio(ctx, opt);
    default: break;
    }
    throw Fatal(Exit::Software, "unhandled mode");
}

int run_sendmail(const std::vector<std::string> &args, Personality who, const std::string &name) {
    auto parsed = parse_sendmail_args(args, who == Personality::Relay);
    Options opt = parsed.options;
    if (who == Personality::Mailq && opt.mode == Mode::Deliver) opt.mode = Mode::ListQueue;
    if (who == Personality::Newaliases && opt.mode == Mode::Deliver) opt.mode = Mode::Aliases;
    // A submission refused before its message is read (usage, configuration)
    // still reads stdin to the end, so the writer never gets SIGPIPE
    // (submit.hpp). Other modes never touch stdin.
    bool submitting = opt.mode == Mode::Deliver &&
                      (who == Personality::Sendmail || who == Personality::Relay);
    try {
        if (!parsed.error.empty())
            throw Fatal(Exit::Usage, parsed.error + " (see " + name + " --help)");
        return run_mode(opt, name);
    } catch (const Fatal &) {
        if (submitting) drain_input(0);
        throw;
    }
}

}  // namespace

int dispatch(int argc, char **argv) {
    sanitize_process();
    std::string argv0 = argc > 0 && argv[0] ? argv[0] : "relay";
    auto slash = argv0.rfind('/');
    std::string name = slash == std::string::npos ? argv0 : argv0.substr(slash + 1);
    Personality who = personality_of(name);
    if (who == Personality::Relay) name = "relay";
    log::init(name, who == Personality::Relay ? "relay" : name, log::Sink::Stderr);

    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) args.emplace_back(argv[i] ? argv[i] : "");

    if (who == Personality::Mailx) return run_mailx(name, args);
    if (who == Personality::Relay) {
        // "relay [-C FILE] COMMAND ...": the first word after a leading
        // configuration option decides.
        size_t i = 0;
        while (i < args.size()) {
            if ((args[i] == "-C" || args[i] == "--config") && i + 1 < args.size()) i += 2;
            else if (args[i].rfind("--config=", 0) == 0 || (args[i].rfind("-C", 0) == 0 && args[i].size() > 2)) ++i;
            else break;
        }
        if (i < args.size() && args[i] == "mail") {
            std::vector<std::string> rest;
            for (size_t k = 0; k < args.size(); ++k)
                if (k != i) rest.push_back(args[k]);
            return run_mailx("relay mail", rest);
        }
#ifdef RELAY_WITH_SERVER
        if (i < args.size() && server::is_server_command(args[i])) {
            if (identity().setgid)
                throw Fatal(Exit::NoPerm, "relay " + args[i] + " needs root or the relay user");
            return server::run_server_command(args);
        }
#endif
        if (i < args.size() && is_relay_command(args[i])) {
            if (identity().setgid && args[i] != "mail")
                throw Fatal(Exit::NoPerm, "relay " + args[i] +
                                              " needs root or the relay user when run set-gid");
            return run_relay_command(args);
        }
    }
    return run_sendmail(args, who, name);
}

}  // namespace relay::cli
