#include "log/log.hpp"

#include <cstdio>
#include <mutex>
#include <string>
#include <syslog.h>
#include <unistd.h>

namespace relay::log {
namespace {
std::string g_name = "relay";
std::string g_ident = "relay";
Sink g_sink = Sink::Stderr;
bool g_verbose = false;
bool g_syslog_open = false;
bool g_stderr_info = true;
std::string g_status;        // the status line on stderr, "" = none
std::mutex g_stderr_lock;
std::mutex g_syslog_lock;    // delivery threads log concurrently    // keeps the status line below whole log lines

void write_all(const std::string &s) {
    ssize_t n = ::write(2, s.data(), s.size());
    (void)n;
}

void emit(int prio, std::string_view prefix, std::string_view text) {
    if (static_cast<int>(g_sink) & static_cast<int>(Sink::Syslog)) {
        {
            std::lock_guard<std::mutex> hold(g_syslog_lock);
            if (!g_syslog_open) {
                openlog(g_ident.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
                g_syslog_open = true;
            }
        }
        syslog(prio, "%.*s%.*s", static_cast<int>(prefix.size()), prefix.data(),
               static_cast<int>(text.size()), text.data());
    }
    if ((static_cast<int>(g_sink) & static_cast<int>(Sink::Stderr)) &&
        (g_stderr_info || prio <= LOG_WARNING)) {
        std::string line;
        line.reserve(g_name.size() + prefix.size() + text.size() + 3);
        std::lock_guard<std::mutex> hold(g_stderr_lock);
        if (!g_status.empty()) line.append("\r\033[K");
        line.append(g_name).append(": ").append(prefix).append(text).append("\n");
        line.append(g_status);
        // One write(2) per line keeps concurrent writers' lines whole.
        write_all(line);
    }
}
}  // namespace

void init(std::string_view name, std::string_view component, Sink sink) {
    g_name = std::string(name);
    g_sink = sink;
    set_component(component);
}

void set_component(std::string_view component) {
    std::string ident = "relay/" + std::string(component);
    if (ident == g_ident) return;
    g_ident = std::move(ident);
    if (g_syslog_open) {
        closelog();
        g_syslog_open = false;
    }
}

void set_status(std::string_view text) {
    std::lock_guard<std::mutex> hold(g_stderr_lock);
    if (text.empty()) {
        if (!g_status.empty()) write_all("\r\033[K");
        g_status.clear();
        return;
    }
    g_status = "\r" + std::string(text) + "\033[K";
    write_all(g_status);
}

void set_stderr_info(bool on) { g_stderr_info = on; }

void set_verbose(bool on) { g_verbose = on; }
bool verbose() { return g_verbose; }
void set_sink(Sink sink) { g_sink = sink; }
const std::string &program_name() { return g_name; }

void info(std::string_view text) { emit(LOG_INFO, "", text); }
void warning(std::string_view text) { emit(LOG_WARNING, "warning: ", text); }
void error(std::string_view text) { emit(LOG_ERR, "error: ", text); }
void fatal(std::string_view text) { emit(LOG_CRIT, "fatal: ", text); }
void debug(std::string_view text) {
    if (g_verbose) emit(LOG_DEBUG, "", text);
}

}  // namespace relay::log
