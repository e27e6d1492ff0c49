#include "cli/commands.hpp"

#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/mailq.hpp"
#include "cli/queue_admin.hpp"
#include "cli/smtp_stdio.hpp"
#include "log/log.hpp"
#include "rewrite/pipeline.hpp"
#include "rewrite/table.hpp"
#include "rewrite/tools.hpp"
#include "cli/explain.hpp"
#include <unistd.h>
#include "util/error.hpp"
#include "util/strings.hpp"

namespace relay::cli {
namespace {

const std::vector<std::string> &command_words() {
    static const std::vector<std::string> words{"mailq", "queue", "check", "postmap",
                                                "postalias", "address-test", "explain"};
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

    auto *postmap = app.add_subcommand("postmap", "query a lookup table as postmap -q does");
    auto *postalias = app.add_subcommand("postalias", "query an aliases file as postalias -q does");
    std::string query;
    std::vector<std::string> table_args;
    for (auto *sub : {postmap, postalias}) {
        sub->add_option("-q", query, "KEY to look up, or - to read keys from standard input")
            ->required();
        sub->add_option("table", table_args, "TYPE:NAME")->required()->expected(1);
    }

    auto *atest = app.add_subcommand("address-test", "show each rewriting step for an address");
    bool as_sender = false, as_recipient = false;
    std::string address;
    atest->add_flag("--sender", as_sender, "rewrite as an envelope sender");
    atest->add_flag("--recipient", as_recipient, "rewrite as an envelope recipient (default)");
    atest->add_option("address", address, "the address")->required();

    auto *explain = app.add_subcommand("explain",
                                       "show what pickup makes of a message, without queueing it");
    std::vector<std::string> explain_args;
    explain->add_option("args", explain_args, "sendmail flags and recipients");
    explain->allow_extras();
    explain->prefix_command();

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
    if (*postmap || *postalias) {
        std::vector<std::string> keys{query};
        return (*postmap ? rewrite::postmap_query : rewrite::postalias_query)(
            keys, table_args.at(0), std::cin, std::cout, std::cerr);
    }
    Context ctx = load_context(config_path);
    if (*atest) {
        return rewrite::address_test(ctx.cfg, address,
                                     as_sender ? rewrite::AddressRole::Sender
                                               : rewrite::AddressRole::Recipient,
                                     std::cout, std::cerr);
    }
    if (*explain) {
        auto extras = explain->remaining();
        explain_args.insert(explain_args.end(), extras.begin(), extras.end());
        return run_explain(ctx, explain_args);
    }
    if (*mailq) {
        list_queue(ctx.cfg, std::cout, json);
        return 0;
    }
    if (*queue) return queue_admin(ctx.cfg, action, ids, std::cout);
    if (*check) {
        std::cout << "configuration " << (ctx.cfg.source.empty() ? "(defaults)" : ctx.cfg.source)
                  << ": ok\n";
        if (ctx.cfg.smtp.relayhost.empty() && ctx.cfg.smtp.direct_delivery)
            std::cout << "no relayhost: mail goes to the recipient domains' MX hosts "
                         "(direct_delivery)\n";
        else if (ctx.cfg.smtp.relayhost.empty())
            std::cout << "warning: no relayhost: mail will stay in the queue\n";
        int tables = rewrite::check_tables(ctx.cfg, std::cout);
        std::cout << "tables: " << (tables == 0 ? "ok" : tables == 1 ? "warnings" : "errors") << "\n";
        int q = 0;
        if (::access(ctx.cfg.queue.directory.c_str(), F_OK) == 0)
            q = queue_admin(ctx.cfg, "check", {}, std::cout);
        else
            std::cout << "spool " << ctx.cfg.queue.directory << ": missing (relay --init-spool)\n";
        return tables == 2 ? to_sysexit(Exit::Config) : q;
    }
    return to_sysexit(Exit::Usage);
}

int run_newaliases(const Context &ctx) {
    // Aliases are read from their source file at pickup: there is no
    // database to build. newaliases checks each file and reports problems.
    int status = 0;
    for (auto &spec : ctx.cfg.rewrite.alias_maps) {
        auto table = rewrite::open_table(spec, rewrite::TableFormat::Aliases);
        if (!table) {
            // A missing /etc/aliases is normal on a null client.
            log::warning(spec + ": " + table.error().message);
            continue;
        }
        for (auto &w : (*table)->warnings()) log::warning(w);
        if (!(*table)->warnings().empty()) status = to_sysexit(Exit::DataErr);

    }
    return status;
}

int run_verify(const Context &ctx, const Options &opt) {
    if (opt.recipients.empty()) throw Fatal(Exit::Usage, "-bv: no addresses given");
    int status = 0;
    for (auto &r : opt.recipients) {
        std::cout << r << ":\n";
        int s = rewrite::address_test(ctx.cfg, r, rewrite::AddressRole::Recipient, std::cout,
                                      std::cerr);
        if (s) status = to_sysexit(Exit::Config);
    }
    std::string relay = ctx.cfg.smtp.relayhost.empty() ? "(no relayhost: mail stays queued)"
                                                       : ctx.cfg.smtp.relayhost[0];
    std::cout << "relayhost: " << relay << "\n";
    return status;
}

int run_smtp_stdio(const Context &ctx, const Options &) {
    return smtp_stdio_session(ctx.cfg, ctx.config_path, 0, 1);
}

}  // namespace relay::cli
