// workers.hpp - a few threads for the work the event loop must not wait for.
//
// Password hashing (argon2id, ~0.1 s and 64 MiB each) and the durable
// commit of a message (several fsyncs) run here. A job is a function run
// on a worker; it returns a completion, which the event loop runs on its
// own thread once the eventfd (fd()) is readable and it calls
// run_completions(). Completions carry the connection id they belong to;
// the loop drops those whose connection has gone.
//
// The pool never drops a job: the destructor lets queued jobs finish
// (a message being committed is committed) and then joins the threads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "util/fd.hpp"

namespace relay::server {

class WorkerPool {
public:
    using Completion = std::function<void()>;
    using Job = std::function<Completion()>;

    explicit WorkerPool(unsigned threads);
    ~WorkerPool();
    WorkerPool(const WorkerPool &) = delete;
    WorkerPool &operator=(const WorkerPool &) = delete;

    void submit(uint64_t owner, Job job);
    int fd() const { return event_.get(); }
    // Hands each finished completion to RUN with its owner; RUN decides
    // whether the owner still exists and calls it.
    void run_completions(const std::function<void(uint64_t, Completion &)> &run);
    size_t in_flight() const;

private:
    void worker();
    struct Item {
        uint64_t owner;
        Job job;
    };
    struct Done {
        uint64_t owner;
        Completion fn;
    };
    util::UniqueFd event_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Item> jobs_;
    std::deque<Done> done_;
    size_t running_ = 0;
    bool stop_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace relay::server
