// flush.cpp - pick the due entries, group them by route, and deliver the
// groups over up to max_connections connections in parallel.
#include "smtp/flush.hpp"

#include <exception>
#include <map>
#include <memory>
#include <algorithm>
#include <thread>

#include "log/log.hpp"
#include "smtp/client.hpp"
#include "smtp/flush_internal.hpp"
#include "smtp/generic.hpp"
#include "smtp/notice.hpp"
#include "smtp/route.hpp"

namespace relay::smtp {

int64_t backoff_seconds(const config::QueueConfig &q, uint32_t tries) {
    int64_t lo = q.minimal_backoff_time.count();
    int64_t hi = q.maximal_backoff_time.count();
    if (lo <= 0) lo = 1;
    int64_t d = lo;
    for (uint32_t i = 1; i < tries && d < hi; ++i) d *= 2;
    return d < hi ? d : hi;
}

unsigned connection_lanes(size_t messages, unsigned max_connections) {
    size_t lanes = messages / kMessagesPerLane;
    if (lanes < 1) lanes = 1;
    if (lanes > max_connections) lanes = max_connections;
    return static_cast<unsigned>(lanes);
}

void RunState::tick() {
    unsigned d = ++done;
    if (!progress) return;
    std::lock_guard<std::mutex> hold(lock);
    double now = real_now();
    if (now - last_draw < 0.1 && d < total) return;
    last_draw = now;
    log::set_status(log::program_name() + ": sending " + std::to_string(d) + "/" +
                    std::to_string(total) + " ...");
}

namespace {

// The due entries of one route, handed out one at a time in arrival order
// to the lanes (threads) working on it.
struct Group {
    Route route;
    std::vector<Item> items;
    std::atomic<size_t> next{0};
    unsigned lanes = 1;
};

// Loads IDS and sorts the due ones into groups by route.
std::vector<std::unique_ptr<Group>> collect(RunState &run, const Router &router,
                                            const std::vector<std::string> &ids,
                                            FlushReport &rep) {
    std::vector<std::unique_ptr<Group>> groups;
    std::map<std::string, size_t> by_key;
    for (const std::string &id : ids) {
        auto loaded = run.q.load(id);
        if (!loaded) {
            log::warning(id + ": cannot read envelope: " + loaded.error().message + "; skipped");
            continue;
        }
        queue::Envelope env = std::move(*loaded);
        const int64_t now_s = run.opt.clock ? run.opt.clock : static_cast<int64_t>(real_now());
        if (!run.opt.now && env.next_attempt > now_s) {
            ++rep.not_due;
            if (!rep.next_due || env.next_attempt < rep.next_due) rep.next_due = env.next_attempt;
            if (run.opt.verbose)
                log::debug(id + ": not due for another " +
                           std::to_string(env.next_attempt - now_s) + "s");
            continue;
        }
        if (env.pending() == 0) {
            // Finished before a crash interrupted the removal.
            if (run.q.remove(id)) {
                ++rep.removed;
                log::info(id + ": removed");
            }
            continue;
        }
        Route route = router.route(env.sender);
        bool direct = false;
        if (route.relayhost.empty() && run.cfg.smtp.direct_delivery) {
            direct = true;  // one group: DirectClients picks the hosts per domain
        } else if (route.relayhost.empty()) {
            ++rep.unrouted;
            log::warning(id + ": no relayhost for sender <" + env.sender +
                         ">: mail stays queued (set relayhost, direct_delivery = true or a "
                         "sender_dependent_relayhost_maps entry)");
            continue;
        }
        std::string key = direct ? std::string("direct") : route.key();
        auto it = by_key.find(key);
        if (it == by_key.end()) {
            it = by_key.emplace(key, groups.size()).first;
            auto g = std::make_unique<Group>();
            g->route = std::move(route);
            groups.push_back(std::move(g));
        }
        groups[it->second]->items.push_back(Item{id, std::move(env), direct});
    }
    return groups;
}

// Delivers every group; returns when all are done (or a stop was asked for).
void deliver_groups(RunState &run, std::vector<std::unique_ptr<Group>> &groups, FlushReport &rep) {
    const unsigned max_conn = run.cfg.smtp.max_connections ? run.cfg.smtp.max_connections : 1;
    // Lane tickets, interleaved so that every route starts early: a worker
    // takes a ticket and works on that group until it is drained.
    std::vector<size_t> tickets;
    unsigned most = 0;
    for (auto &g : groups) {
        g->lanes = connection_lanes(g->items.size(), max_conn);
        if (g->lanes > most) most = g->lanes;
    }
    for (unsigned lane = 0; lane < most; ++lane)
        for (size_t i = 0; i < groups.size(); ++i)
            if (lane < groups[i]->lanes) tickets.push_back(i);
    if (tickets.empty()) return;

    std::atomic<size_t> next_ticket{0};
    std::mutex merge_lock;
    std::exception_ptr failure;
    auto worker = [&]() {
        FlushReport part;
        Retired retired;
        DirectClients direct(run.cfg);
        try {
            for (size_t t; (t = next_ticket++) < tickets.size();) {
                Group &g = *groups[tickets[t]];
                std::unique_ptr<Client> client;  // no libcurl until a message needs it
                for (size_t i; !run.stopping() && (i = g.next++) < g.items.size();) {
                    if (!client) client = std::make_unique<Client>(run.cfg, g.route);
                    deliver_entry(run, *client, direct, g.items[i], retired, part);
                    run.tick();
                }
                if (client) {
                    client->close();
                    part.connections += client->connections_opened();
                }
                direct.close_all();
                retired.finish(run, part);
            }
        } catch (...) {
            {
                std::lock_guard<std::mutex> hold(merge_lock);
                if (!failure) failure = std::current_exception();
                next_ticket = tickets.size();  // the others stop after their message
            }
            retired.finish(run, part);
        }
        part.connections += direct.connections_opened();
        std::lock_guard<std::mutex> hold(merge_lock);
        merge_report(rep, part);
    };
    size_t nthreads = std::min<size_t>(max_conn, tickets.size());
    if (nthreads <= 1) {
        worker();
    } else {
        std::vector<std::thread> threads;
        for (size_t i = 0; i < nthreads; ++i) threads.emplace_back(worker);
        for (auto &th : threads) th.join();
    }
    if (failure) std::rethrow_exception(failure);
}

}  // namespace

FlushReport flush(const config::Config &cfg, queue::FsQueue &q, const FlushOptions &opt) {
    FlushReport rep;
    const double start = real_now();
    const GenericMaps generic(cfg);
    const Router router(cfg);
    RunState run(cfg, q, opt, generic);

    // Notifications queued during a round are sent in the next one.
    auto rounds = [&](std::vector<std::string> ids) {
        while (!ids.empty() && !run.stopping()) {
            for (size_t at = 0; at < ids.size() && !run.stopping(); at += kFlushChunk) {
                const size_t end = std::min(ids.size(), at + kFlushChunk);
                const std::vector<std::string> chunk(ids.begin() + static_cast<std::ptrdiff_t>(at),
                                                     ids.begin() + static_cast<std::ptrdiff_t>(end));
                auto groups = collect(run, router, chunk, rep);
                size_t due = 0;
                for (auto &g : groups) due += g->items.size();
                run.total += static_cast<unsigned>(due);
                if (opt.progress && !run.progress && run.total > kProgressOver) {
                    run.progress = true;
                    log::set_stderr_info(false);  // one line instead of one per recipient
                }
                deliver_groups(run, groups, rep);
            }
            std::lock_guard<std::mutex> hold(run.lock);
            ids.swap(run.new_ids);
            run.new_ids.clear();
        }
    };
    try {
        rounds(q.list(queue::Area::Queue));
        if (rep.config_failure && !cfg.smtp.notify_recipient.empty() && !run.stopping()) {
            const int64_t now_s = opt.clock ? opt.clock : static_cast<int64_t>(real_now());
            if (auto id = notify_admin(cfg, q, rep.config_reasons, rep.deferred, now_s))
                rounds({*id});
        }
    } catch (...) {
        if (run.progress) {
            log::set_status("");
            log::set_stderr_info(true);
        }
        throw;
    }
    run.purger.finish();
    if (run.progress) {
        log::set_status("");
        log::set_stderr_info(true);
        log::info("sent " + std::to_string(rep.sent) + ", deferred " +
                  std::to_string(rep.deferred) + ", bounced " + std::to_string(rep.bounced) +
                  " recipient(s) of " + std::to_string(rep.messages) + " message(s) in " +
                  format_delay(real_now() - start) + "s");
    }
    if (opt.verbose || rep.messages > 0)
        log::debug("flush: " + std::to_string(rep.messages) + " message(s) attempted, " +
                   std::to_string(rep.sent) + " sent, " + std::to_string(rep.deferred) +
                   " deferred, " + std::to_string(rep.bounced) + " bounced, " +
                   std::to_string(rep.connections) + " connection(s), " +
                   format_delay(real_now() - start) + "s");
    if (rep.config_failure) log::error("delivery failed for configuration reasons: " + rep.config_reason);
    return rep;
}

}  // namespace relay::smtp
