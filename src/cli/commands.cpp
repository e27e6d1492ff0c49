#include "cli/commands.hpp"

#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/mailq.hpp"
#include "cli/queue_admin.hpp"
#include "cli/smtp_stdio.hpp"
#include "log/log.hpp"
#include "rewrite/pipeline.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace relay::cli {
namespace {

const std::vector<std::string> &command_words() {
    static const std::vector<std::string> words{"mailq", "queue", "check"};
    return words;
}

}  // namespace

bool is_relay_command(const std::string &word) {
    for (auto &w : command_words())
        if (w == word) return true;
    return false;
}

int run_relay_command(const std::vector<std::string> &args) {
    CLI::App app{"relay: sendmail-compatible null-client mail relay", "relay"};
    app.require_subcommand(1);
    std::string config_path;
    app.add_option("-C,--config", config_path, "configuration file");

    auto *mailq = app.add_subcommand("mailq", "list the queue (Postfix mailq format)");
    bool json = false;
    mailq->add_flag("--json", json, "one JSON object per message, as postqueue -j");

    auto *queue = app.add_subcommand("queue", "show, delete, hold, release or requeue entries");
    std::string action;
    std::vector<std::string> ids;
    queue->add_option("action", action, "show|delete|hold|release|requeue|check")->required();
    queue->add_option("ids", ids, "queue ids (delete also takes ALL)");

    auto *check = app.add_subcommand("check", "check the configuration, tables and the queue");

    std::vector<std::string> rev(args.rbegin(), args.rend());
    try {
        app.parse(rev);
    } catch (const CLI::CallForHelp &) {
        std::cout << app.help();
        return 0;
    } catch (const CLI::CallForAllHelp &) {
        std::cout << app.help("", CLI::AppFormatMode::All);
        return 0;
    } catch (const CLI::ParseError &e) {
        // CLI11's exit codes are not sysexits(3).
        throw Fatal(Exit::Usage, std::string(e.what()) + " (see relay --help)");
    }
    Context ctx = load_context(config_path);
    if (*mailq) {
        list_queue(ctx.cfg, std::cout, json);
        return 0;
    }
    if (*queue) return queue_admin(ctx.cfg, action, ids, std::cout);
    if (*check) {
        std::cout << "configuration " << (ctx.cfg.source.empty() ? "(defaults)" : ctx.cfg.source)
                  << ": ok\n";
        if (ctx.cfg.smtp.relayhost.empty())
            std::cout << "warning: no relayhost: mail will stay in the queue\n";
        return queue_admin(ctx.cfg, "check", {}, std::cout);
    }
    return to_sysexit(Exit::Usage);
}

int run_newaliases(const Context &ctx) {
    // Aliases are read directly from their source file at pickup: there is
    // no database to build. newaliases only checks that the files are there.
    int status = 0;
    for (auto &spec : ctx.cfg.rewrite.alias_maps) {
        auto colon = spec.find(':');
        std::string path = colon == std::string::npos ? spec : spec.substr(colon + 1);
        std::ifstream in(path);
        if (!in) {
            log::warning(path + ": cannot open; no aliases");
            continue;
        }
        size_t n = 0;
        std::string line;
        while (std::getline(in, line)) {
            auto t = util::trim(line);
            if (!t.empty() && t[0] != '#' && line[0] != ' ' && line[0] != '\t') ++n;
        }
        log::info(path + ": " + std::to_string(n) + " aliases");
    }
    return status;
}

int run_verify(const Context &ctx, const Options &opt) {
    if (opt.recipients.empty()) throw Fatal(Exit::Usage, "-bv: no addresses given");
    rewrite::Pipeline rw(ctx.cfg);
    std::string relay = ctx.cfg.smtp.relayhost.empty() ? "(no relayhost)" : ctx.cfg.smtp.relayhost[0];
    for (auto &r : opt.recipients)
        for (auto &a : rw.recipient(r))
            std::cout << r << "... deliverable: relay " << relay << ", recipient <" << a << ">\n";
    return 0;
}

int run_smtp_stdio(const Context &ctx, const Options &) {
    return smtp_stdio_session(ctx.cfg, ctx.config_path, 0, 1);
}

int run_mailx(const std::string &name, const std::vector<std::string> &) {
    throw Fatal(Exit::Usage, name + ": the mail front end is not available yet");
}

}  // namespace relay::cli
