#include "server/workers.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include "util/error.hpp"

namespace relay::server {

WorkerPool::WorkerPool(unsigned threads) : event_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (!event_) throw Fatal(Exit::OsErr, "eventfd: " + errno_text(errno));
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { worker(); });
}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    for (auto &t : threads_) t.join();
}

void WorkerPool::submit(uint64_t owner, Job job) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        jobs_.push_back({owner, std::move(job)});
    }
    cv_.notify_one();
}

size_t WorkerPool::in_flight() const {
    std::lock_guard<std::mutex> lock(mu_);
    return jobs_.size() + running_ + done_.size();
}

void WorkerPool::worker() {
    for (;;) {
        Item item;
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stopping, and nothing left to do
            item = std::move(jobs_.front());
            jobs_.pop_front();
            ++running_;
        }
        Completion c = item.job();
        {
            std::lock_guard<std::mutex> lock(mu_);
            --running_;
            done_.push_back({item.owner, std::move(c)});
        }
        uint64_t one = 1;
        ssize_t n = ::write(event_.get(), &one, sizeof one);
        (void)n;
    }
}

void WorkerPool::run_completions(const std::function<void(uint64_t, Completion &)> &run) {
    uint64_t count;
    ssize_t n = ::read(event_.get(), &count, sizeof count);
    (void)n;
    std::deque<Done> ready;
    {
        std::lock_guard<std::mutex> lock(mu_);
        ready.swap(done_);
    }
    for (auto &d : ready)
        if (d.fn) run(d.owner, d.fn);
}

}  // namespace relay::server
