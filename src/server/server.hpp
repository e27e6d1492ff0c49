// server.hpp - `relay serve`: the SMTP server's event loop.
//
// Design: one thread runs a small epoll(7) loop over the listening
// sockets, every client connection (non-blocking, level-triggered), a
// signalfd (SIGTERM/SIGINT: stop; SIGHUP: reload; SIGCHLD: reap the flush)
// and the eventfd of the worker pool; two worker threads (workers.hpp) do
// what blocks (argon2id, fsync). Timers are one deadline per connection in
// a binary heap. Sessions are plain state machines (session.hpp), so the
// loop holds no coroutine frames and no per-connection stack.
//
// Why not standalone Asio with C++20 coroutines: it is not installed here
// (libasio-dev would be one more build dependency for a feature few
// builds enable), and it would buy nothing the protocol needs: SMTP is a
// strict request/reply protocol whose only concurrency is "many idle
// clients", which a readiness loop serves with one small object each.
// Measured on this machine (bench/README.md in the report of the server
// branch; tests/integration/test_server_load.py re-measures): an idle
// plain connection costs about 2 KiB of heap in this process, and one
// reused connection moves 1,000-2,000 messages/s through the full durable
// path (maildrop write + fsync of file and directory per message), which
// is the bound, not the loop.
//
// Connections: total and per-client limits (421 4.7.0 at accept); on
// SIGTERM the listeners close, idle sessions get 421 4.3.2 and sessions
// committing a message finish it first; the loop ends when nothing is
// left (or after 30 s). On SIGHUP the configuration file, its tables and
// the certificate are read again; sessions already running keep the old
// ones; listeners are not re-bound (a change of [server] listen needs a
// restart, and is logged). A reload that fails keeps the old state.
//
// After a message for the queue is committed the loop pokes the trigger
// FIFO and, with [queue] flush_after_submit, starts `relay --flush` (one
// at a time; a message that arrives meanwhile starts another after it).
#pragma once

#include <string>

namespace relay::server {

struct ServeOptions {
    std::string config_path;  // "" = compiled-in default
    bool syslog = false;      // log to syslog instead of stderr
    bool check_only = false;  // load everything, bind nothing, exit
};

// Runs until SIGTERM; returns the exit status. Fatal on a startup error.
int serve(const ServeOptions &opt);

}  // namespace relay::server
