#include "smtp/flush.hpp"

#include <cerrno>
#include <unistd.h>

#include "queue/bounce.hpp"

#include <cstdio>
#include <ctime>
#include <sodium.h>

#include "log/log.hpp"
#include "smtp/client.hpp"
#include "util/strings.hpp"

namespace relay::smtp {
namespace {

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

std::vector<std::string> split_notify(const std::string &s) {
    std::vector<std::string> out;
    if (s.empty()) return out;
    for (auto &p : util::split(s, ',')) {
        auto t = util::trim(p);
        if (!t.empty()) out.emplace_back(t);
    }
    return out;
}

void log_outcome(const queue::Envelope &env, const queue::Recipient &r, const std::string &relay,
                 double delay, const char *status, const std::string &reason) {
    std::string line = env.id + ": to=<" + r.address + ">";
    if (!r.orig.empty() && r.orig != r.address) line += ", orig_to=<" + r.orig + ">";
    line += ", relay=" + relay + ", delay=" + format_delay(delay) +
            ", tries=" + std::to_string(env.tries) + ", status=" + status + " (" + reason + ")";
    log::info(line);
}

}  // namespace

int64_t backoff_seconds(const config::QueueConfig &q, uint32_t tries) {
    int64_t lo = q.minimal_backoff_time.count();
    int64_t hi = q.maximal_backoff_time.count();
    if (lo <= 0) lo = 1;
    int64_t d = lo;
    for (uint32_t i = 1; i < tries && d < hi; ++i) d *= 2;
    return d < hi ? d : hi;
}

namespace {

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

// Queues the notification for FAILURES; false when it could not be.
bool queue_bounce(const config::Config &cfg, queue::FsQueue &q, const queue::Envelope &env,
                  const std::vector<queue::Failure> &failures, int fd,
                  std::vector<std::string> &ids) {
    auto b = queue::make_bounce(cfg, env, failures, read_original(fd, env.size));
    if (auto r = q.commit(b.envelope, b.message); !r) {
        log::error(env.id + ": cannot queue the delivery status notification: " +
                   r.error().message + " (recipients stay queued)");
        return false;
    }
    log::info(env.id + ": sender non-delivery notification: " + b.envelope.id);
    ids.push_back(b.envelope.id);
    log::info(b.envelope.id + ": from=<>, size=" + std::to_string(b.envelope.size) +
              ", nrcpt=1 (queue active)");
    return true;
}

}  // namespace

FlushReport flush(const config::Config &cfg, queue::FsQueue &q, const FlushOptions &opt) {
    FlushReport rep;
    const double start = real_now();
    std::unique_ptr<Client> client;  // created on the first due entry: no libcurl otherwise

    // Notifications queued during the run are sent in the same run.
    std::vector<std::string> ids = q.list(queue::Area::Queue);
    for (size_t next = 0; next < ids.size(); ++next) {
        const std::string id = ids[next];
        auto loaded = q.load(id);
        if (!loaded) {
            log::warning(id + ": cannot read envelope: " + loaded.error().message + "; skipped");
            continue;
        }
        queue::Envelope env = std::move(*loaded);
        const int64_t now_s = opt.clock ? opt.clock : static_cast<int64_t>(real_now());
        if (!opt.now && env.next_attempt > now_s) {
            ++rep.not_due;
            if (opt.verbose)
                log::debug(id + ": not due for another " +
                           std::to_string(env.next_attempt - now_s) + "s");
            continue;
        }
        std::vector<size_t> pending;
        for (size_t i = 0; i < env.rcpts.size(); ++i)
            if (env.rcpts[i].status == queue::RcptStatus::Pending) pending.push_back(i);
        if (pending.empty()) {
            // Finished before a crash interrupted the removal.
            if (q.remove(id)) {
                ++rep.removed;
                log::info(id + ": removed");
            }
            continue;
        }
        auto fd = q.open_message(id);
        if (!fd) {
            log::warning(id + ": cannot open message: " + fd.error().message + "; skipped");
            continue;
        }
        if (!client) client = std::make_unique<Client>(cfg);

        Job job;
        job.id = id;
        job.sender = env.sender;
        job.message_fd = fd->get();
        job.size = env.size;
        job.eight_bit = env.body == "8BITMIME";
        job.ret = env.ret;
        job.envid = env.envid;
        for (size_t i : pending) {
            job.recipients.push_back(env.rcpts[i].address);
            for (auto &n : split_notify(env.rcpts[i].notify)) job.notify.push_back(n);
        }
        Delivery d = client->send(job);
        ++rep.messages;
        if (d.folded)
            log::warning(id + ": a line longer than 998 octets was broken for SMTP");
        if (d.config_failure && !rep.config_failure) {
            rep.config_failure = true;
            rep.config_reason = d.reply;
        }

        const double t = opt.clock ? static_cast<double>(opt.clock) : real_now();
        const double delay = t - static_cast<double>(env.arrival);
        env.tries += 1;
        env.last_attempt = static_cast<int64_t>(t);
        const auto lifetime = env.is_bounce() ? cfg.queue.bounce_queue_lifetime
                                              : cfg.queue.maximal_queue_lifetime;
        const bool expired = t - static_cast<double>(env.arrival) >=
                             static_cast<double>(lifetime.count());
        std::string last_deferral;
        std::vector<queue::Failure> failures;
        std::vector<size_t> failed;
        for (size_t k = 0; k < pending.size(); ++k) {
            queue::Recipient &r = env.rcpts[pending[k]];
            const RecipientOutcome &o = d.rcpts[k];
            switch (o.outcome) {
            case Outcome::Delivered:
                r.status = queue::RcptStatus::Sent;
                r.reason = o.reply;
                ++rep.sent;
                log_outcome(env, r, d.relay, delay, "sent", o.reply);
                break;
            case Outcome::Bounced:
                failures.push_back({r, o.reply, d.relay});
                failed.push_back(pending[k]);
                r.status = queue::RcptStatus::Bounced;
                r.reason = o.reply;
                ++rep.bounced;
                log_outcome(env, r, d.relay, delay, "bounced", o.reply);
                break;
            case Outcome::Deferred:
                if (expired) {
                    std::string why = "message expired after " +
                                      std::to_string(lifetime.count() / 86400) + "d; last error: " +
                                      o.reply;
                    if (lifetime.count() < 86400)
                        why = "message expired after " + std::to_string(lifetime.count()) +
                              "s; last error: " + o.reply;
                    failures.push_back({r, why, ""});
                    failed.push_back(pending[k]);
                    r.status = queue::RcptStatus::Bounced;
                    r.reason = why;
                    ++rep.bounced;
                    log_outcome(env, r, d.relay, delay, "bounced", why);
                } else {
                    r.reason = o.reply;
                    last_deferral = o.reply;
                    ++rep.deferred;
                    log_outcome(env, r, d.relay, delay, "deferred", o.reply);
                }
                break;
            }
        }
        if (!failures.empty()) {
            if (queue::want_bounce(env, failures)) {
                if (!queue_bounce(cfg, q, env, failures, fd->get(), ids)) {
                    for (size_t i : failed) env.rcpts[i].status = queue::RcptStatus::Pending;
                    rep.bounced -= static_cast<unsigned>(failed.size());
                    rep.deferred += static_cast<unsigned>(failed.size());
                }
            } else if (env.is_bounce()) {
                log::info(id + ": undeliverable bounce discarded (" + failures[0].reason + ")");
            }
        }
        fd->reset();

        if (env.pending() == 0) {
            if (auto rr = q.remove(id); !rr) {
                // Record the outcomes so nothing is sent twice, then retry removal next run.
                log::warning(id + ": cannot remove finished entry: " + rr.error().message);
                if (auto u = q.update(env); !u)
                    log::error(id + ": cannot update envelope: " + u.error().message);
            } else {
                ++rep.removed;
                log::info(id + ": removed");
            }
            continue;
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
    }
    if (client) {
        client->close();
        rep.connections = client->connections_opened();
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
