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
// builds enable, and its headers dominate compile time on a 2-core
// builder), and it would buy nothing the protocol needs: SMTP is a strict
// request/reply protocol whose only concurrency is "many idle clients",
// which a readiness loop serves with one small object each. Measured on
// this machine (2 cores): an idle connection is one Connection (240
// bytes) and one Session (768 bytes) plus its small strings; 1,000 idle
// connections grew the process by well under 1 MiB of RSS
// (test_server_daemon.py Load prints the figure). Postfix's smtp-source
// against a loopback listener, 1,000 messages of 1 KB: 157 messages/s
// with one session and 1,128/s with four into a hosted Maildir, 186/s and
// 722/s into the queue (maildrop). The bound is the fsync of file and
// directory per message, which the worker threads overlap; the loop
// itself is idle most of that time.
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
