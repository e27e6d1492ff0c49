#include "cli/explain.hpp"

#include <iostream>
#include <unistd.h>

#include "cli/sendmail_args.hpp"
#include "cli/submit.hpp"
#include "queue/id.hpp"
#include "queue/pickup.hpp"
#include "rewrite/pipeline.hpp"
#include "util/error.hpp"

namespace relay::cli {

int run_explain(const Context &ctx, const std::vector<std::string> &args) {
    auto parsed = parse_sendmail_args(args, false);
    if (!parsed.error.empty()) throw Fatal(Exit::Usage, "explain: " + parsed.error);
    const Options &opt = parsed.options;
    std::string message = read_message(0, opt.ignore_dots, ctx.cfg.queue.message_size_limit);
    auto sub = make_submission(opt, std::move(message));

    rewrite::Pipeline rw(ctx.cfg);
    std::vector<rewrite::Step> steps;
    rw.set_trace([&steps](const rewrite::Step &s) { steps.push_back(s); });
    auto prep = queue::prepare(ctx.cfg, rw, sub, queue::make_id(), getuid());
    if (!prep) throw Fatal(Exit::DataErr, prep.error().message);
    const auto &env = prep->envelope;

    std::cout << "rewriting steps:\n";
    if (steps.empty()) std::cout << "  (none changed an address)\n";
    for (auto &s : steps) {
        std::cout << "  " << s.what;
        if (!s.table.empty()) std::cout << " " << s.table << (s.line ? ":" + std::to_string(s.line) : "");
        std::cout << ": " << s.from << " -> " << (s.to.empty() ? "(dropped)" : s.to) << "\n";
    }
    for (auto &w : prep->warnings) std::cout << "warning: " << w << "\n";
    std::cout << "envelope:\n  sender: <" << env.sender << ">\n";
    for (auto &r : env.rcpts)
        std::cout << "  recipient: <" << r.address << ">"
                  << (r.orig.empty() || r.orig == r.address ? "" : " (from " + r.orig + ")") << "\n";
    if (env.rcpts.empty()) std::cout << "  no recipients: the message would be held\n";
    if (!env.body.empty()) std::cout << "  body: " << env.body << "\n";
    std::cout << "headers:\n";
    for (auto &h : prep->message.headers()) std::cout << "  " << h.raw.substr(0, h.raw.size() - 1) << "\n";
    std::cout << "delivery:\n";
    if (ctx.cfg.smtp.relayhost.empty()) {
        std::cout << "  no relayhost: the message would stay queued\n";
    } else {
        for (size_t i = 0; i < ctx.cfg.smtp.relayhost.size(); ++i)
            std::cout << "  " << (i ? "then " : "") << "relayhost " << ctx.cfg.smtp.relayhost[i]
                      << "\n";
        if (!ctx.cfg.smtp.username.empty())
            std::cout << "  account " << ctx.cfg.smtp.username << "\n";
    }
    return 0;
}

}  // namespace relay::cli
