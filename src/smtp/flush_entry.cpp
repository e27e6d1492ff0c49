// flush_entry.cpp - one queue entry: send it, record what happened.
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <sodium.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log/log.hpp"
#include "queue/bounce.hpp"
#include "smtp/flush_internal.hpp"
#include "util/strings.hpp"

namespace relay::smtp {

double real_now() {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string format_delay(double seconds) {
    if (seconds < 0) seconds = 0;
    char buf[32];
    if (seconds < 100) snprintf(buf, sizeof buf, "%.1f", seconds);
    else snprintf(buf, sizeof buf, "%.0f", seconds);
    return buf;
}

void merge_report(FlushReport &rep, const FlushReport &p) {
    rep.messages += p.messages;
    rep.not_due += p.not_due;
    rep.removed += p.removed;
    rep.sent += p.sent;
    rep.deferred += p.deferred;
    rep.bounced += p.bounced;
    rep.warned += p.warned;
    rep.connections += p.connections;
    if (p.next_due && (!rep.next_due || p.next_due < rep.next_due)) rep.next_due = p.next_due;
    if (p.config_failure && !rep.config_failure) {
        rep.config_failure = true;
        rep.config_reason = p.config_reason;
    }
    for (auto &r : p.config_reasons) {
        bool seen = false;
        for (auto &x : rep.config_reasons) seen = seen || x == r;
        if (!seen) rep.config_reasons.push_back(r);
    }
}

namespace {

void log_outcome(const queue::Envelope &env, const queue::Recipient &r, const std::string &relay,
                 double delay, const char *status, const std::string &reason) {
    std::string line = env.id + ": to=<" + r.address + ">";
    if (!r.orig.empty() && r.orig != r.address) line += ", orig_to=<" + r.orig + ">";
    line += ", relay=" + relay + ", delay=" + format_delay(delay) +
            ", tries=" + std::to_string(env.tries) + ", status=" + status + " (" + reason + ")";
    log::info(line);
}

// Reads what a notification quotes of the original: all of it when small,
// else enough for its headers.
std::string read_original(int fd, uint64_t size) {
    size_t want = size <= queue::bounce_size_limit ? static_cast<size_t>(size) : 256 * 1024;
    std::string out(want, '\0');
    size_t got = 0;
    while (got < want) {
        ssize_t n = ::pread(fd, out.data() + got, want - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    out.resize(got);
    return out;
}

// Commits a notification; false when it could not be queued.
bool queue_notice(RunState &run, const queue::Envelope &env, const queue::Bounce &b,
                  const char *what) {
    if (auto r = run.q.commit(b.envelope, b.message); !r) {
        log::error(env.id + ": cannot queue the " + what + ": " + r.error().message);
        return false;
    }
    {
        std::lock_guard<std::mutex> hold(run.lock);
        run.new_ids.push_back(b.envelope.id);
    }
    log::info(b.envelope.id + ": from=<>, size=" + std::to_string(b.envelope.size) +
              ", nrcpt=1 (queue active)");
    return true;
}

}  // namespace

void Retired::finish(RunState &run, FlushReport &rep) {
    if (ids.empty()) return;
    std::vector<std::string> batch;
    batch.swap(ids);
    if (auto r = run.q.decide_retired(); !r) {
        // The entries are in purge/; recover() deletes them next run, or a
        // crash before that brings them back (the duplicate window).
        log::warning("cannot complete the removal of " + std::to_string(batch.size()) +
                     " finished entr" + (batch.size() == 1 ? "y" : "ies") + ": " + r.error().message);
        return;
    }
    for (auto &id : batch) {
        ++rep.removed;
        log::info(id + ": removed");
    }
    run.purger.add(std::move(batch));
}

void Purger::purge(const std::vector<std::string> &ids) {
    if (auto r = q_.purge(ids); !r)
        log::warning("cannot delete finished entries from purge/ (the next run retries): " +
                     r.error().message);
}

void Purger::add(std::vector<std::string> ids) {
    {
        std::lock_guard<std::mutex> hold(lock_);
        if (!stop_ && ids_.size() + ids.size() <= max_backlog_) {
            for (auto &id : ids) ids_.push_back(std::move(id));
            if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
            wake_.notify_one();
            return;
        }
    }
    purge(ids);  // the thread is behind (or gone): do it here
}

void Purger::run() {
    // Below the delivery threads: deleting can wait, sending cannot.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    std::unique_lock<std::mutex> hold(lock_);
    for (;;) {
        wake_.wait(hold, [this] { return stop_ || !ids_.empty(); });
        if (ids_.empty()) return;  // stop_, and nothing left
        std::vector<std::string> batch;
        while (!ids_.empty() && batch.size() < Retired::kMaxRetired) {
            batch.push_back(std::move(ids_.front()));
            ids_.pop_front();
        }
        hold.unlock();
        purge(batch);
        hold.lock();
    }
}

void Purger::finish() {
    {
        std::lock_guard<std::mutex> hold(lock_);
        stop_ = true;
        wake_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
    std::vector<std::string> rest;
    {
        std::lock_guard<std::mutex> hold(lock_);
        rest.assign(ids_.begin(), ids_.end());
        ids_.clear();
        stop_ = false;  // a later add() may start it again
    }
    purge(rest);
}

void deliver_entry(RunState &run, Client &client, DirectClients &direct, Item &item, Retired &done,
                   FlushReport &rep) {
    const config::Config &cfg = run.cfg;
    queue::FsQueue &q = run.q;
    const FlushOptions &opt = run.opt;
    queue::Envelope &env = item.env;
    const std::string &id = item.id;

    std::vector<size_t> pending;
    for (size_t i = 0; i < env.rcpts.size(); ++i)
        if (env.rcpts[i].status == queue::RcptStatus::Pending) pending.push_back(i);
    auto fd = q.open_message(id);
    if (!fd) {
        log::warning(id + ": cannot open message: " + fd.error().message + "; skipped");
        return;
    }

    const GenericMaps &generic = run.generic;
    Job job;
    job.id = id;
    job.sender = generic.address(env.sender);
    job.message_fd = fd->get();
    job.size = env.size;
    job.eight_bit = env.body == "8BITMIME";
    job.smtputf8 = env.smtputf8;
    job.ret = env.ret;
    job.envid = env.envid;
    for (size_t i : pending) {
        job.recipients.push_back(generic.address(env.rcpts[i].address));
        job.notify.push_back(env.rcpts[i].notify);
        job.orcpt.push_back(env.rcpts[i].orig);
    }
    if (!generic.empty())
        job.header_filter = [&generic](std::string_view h) { return generic.header_section(h); };
    std::vector<std::string> relays;  // per recipient (direct delivery)
    Delivery d = item.direct ? direct.send(job, relays) : client.send(job);
    auto relay_for = [&](size_t k) -> const std::string & {
        return k < relays.size() && !relays[k].empty() ? relays[k] : d.relay;
    };
    ++rep.messages;
    if (d.folded) log::warning(id + ": a line longer than 998 octets was broken for SMTP");
    if (d.config_failure) {
        if (!rep.config_failure) {
            rep.config_failure = true;
            rep.config_reason = d.reply;
        }
        bool seen = false;
        for (auto &x : rep.config_reasons) seen = seen || x == d.reply;
        if (!seen && rep.config_reasons.size() < 10) rep.config_reasons.push_back(d.reply);
    }

    const double t = opt.clock ? static_cast<double>(opt.clock) : real_now();
    const double delay = t - static_cast<double>(env.arrival);
    env.tries += 1;
    env.last_attempt = static_cast<int64_t>(t);
    const auto lifetime = env.is_bounce() ? cfg.queue.bounce_queue_lifetime
                                          : cfg.queue.maximal_queue_lifetime;
    const bool expired = delay >= static_cast<double>(lifetime.count());
    std::string last_deferral;
    std::vector<queue::Failure> failures, delays;
    std::vector<size_t> failed;
    for (size_t k = 0; k < pending.size(); ++k) {
        queue::Recipient &r = env.rcpts[pending[k]];
        const RecipientOutcome &o = d.rcpts[k];
        switch (o.outcome) {
        case Outcome::Delivered:
            r.status = queue::RcptStatus::Sent;
            r.reason = o.reply;
            ++rep.sent;
            log_outcome(env, r, relay_for(k), delay, "sent", o.reply);
            break;
        case Outcome::Bounced:
            failures.push_back({r, o.reply, relay_for(k)});
            failed.push_back(pending[k]);
            r.status = queue::RcptStatus::Bounced;
            r.reason = o.reply;
            ++rep.bounced;
            log_outcome(env, r, relay_for(k), delay, "bounced", o.reply);
            break;
        case Outcome::Deferred:
            if (expired) {
                std::string why = lifetime.count() < 86400
                                      ? "message expired after " + std::to_string(lifetime.count()) +
                                            "s; last error: " + o.reply
                                      : "message expired after " +
                                            std::to_string(lifetime.count() / 86400) +
                                            "d; last error: " + o.reply;
                failures.push_back({r, why, ""});
                failed.push_back(pending[k]);
                r.status = queue::RcptStatus::Bounced;
                r.reason = why;
                ++rep.bounced;
                log_outcome(env, r, relay_for(k), delay, "bounced", why);
            } else {
                r.reason = o.reply;
                last_deferral = o.reply;
                ++rep.deferred;
                log_outcome(env, r, relay_for(k), delay, "deferred", o.reply);
                delays.push_back({r, o.reply, relay_for(k)});
            }
            break;
        }
    }
    if (!failures.empty()) {
        if (queue::want_bounce(env, failures)) {
            auto b = queue::make_bounce(cfg, env, failures, read_original(fd->get(), env.size));
            if (queue_notice(run, env, b, "delivery status notification (recipients stay queued)")) {
                log::info(id + ": sender non-delivery notification: " + b.envelope.id);
            } else {
                for (size_t i : failed) env.rcpts[i].status = queue::RcptStatus::Pending;
                rep.bounced -= static_cast<unsigned>(failed.size());
                rep.deferred += static_cast<unsigned>(failed.size());
            }
        } else if (env.is_bounce()) {
            log::info(id + ": undeliverable bounce discarded (" + failures[0].reason + ")");
        }
    }
    const int64_t warn_after = cfg.queue.delay_warning_time.count();
    if (warn_after > 0 && !delays.empty() && delay >= static_cast<double>(warn_after) &&
        queue::want_delay_warning(env, delays)) {
        auto w = queue::make_delay_warning(cfg, env, delays, read_original(fd->get(), env.size));
        if (queue_notice(run, env, w, "delay warning")) {
            env.warned = true;
            ++rep.warned;
            log::info(id + ": sender delay notification: " + w.envelope.id);
        }
    }
    fd->reset();

    if (env.pending() == 0) {
        if (auto rr = q.retire(id); !rr) {
            // Record the outcomes so nothing is sent twice, then retry removal next run.
            log::warning(id + ": cannot remove finished entry: " + rr.error().message);
            if (auto u = q.update(env); !u)
                log::error(id + ": cannot update envelope: " + u.error().message);
        } else {
            done.ids.push_back(id);
            if (done.ids.size() >= Retired::kMaxRetired) done.finish(run, rep);
        }
        return;
    }
    int64_t wait = backoff_seconds(cfg.queue, env.tries);
    int64_t jitter = wait >= 10 ? static_cast<int64_t>(randombytes_uniform(
                                      static_cast<uint32_t>(wait / 10 + 1)))
                                : 0;
    int64_t hi = cfg.queue.maximal_backoff_time.count();
    int64_t next_wait = wait + jitter > hi && hi > 0 ? hi : wait + jitter;
    env.next_attempt = static_cast<int64_t>(t) + next_wait;
    env.reason = last_deferral;
    if (auto u = q.update(env); !u)
        log::error(id + ": cannot update envelope: " + u.error().message +
                   " (recipients may be tried again)");
    if (!rep.next_due || env.next_attempt < rep.next_due) rep.next_due = env.next_attempt;
}

}  // namespace relay::smtp
