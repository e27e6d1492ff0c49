#include "server/commands.hpp"

#include <cerrno>
#include <iostream>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <sodium.h>

#include "cli/context.hpp"
#include "log/log.hpp"
#include "server/server.hpp"
#include "server/users.hpp"
#include "util/error.hpp"

namespace relay::server {
namespace {

std::string read_line(int fd) {
    std::string line;
    char c;
    for (;;) {
        ssize_t n = ::read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Fatal(Exit::IoErr, "reading the password: " + errno_text(errno));
        if (n == 0 || c == '\n') break;
        line.push_back(c);
        if (line.size() > 4096) throw Fatal(Exit::DataErr, "password too long");
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

std::string prompt_noecho(int fd, const char *prompt) {
    struct termios old, quiet;
    if (tcgetattr(fd, &old) != 0) throw Fatal(Exit::IoErr, "tcgetattr: " + errno_text(errno));
    quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    std::cerr << prompt << std::flush;
    tcsetattr(fd, TCSAFLUSH, &quiet);
    std::string line;
    try {
        line = read_line(fd);
    } catch (...) {
        tcsetattr(fd, TCSAFLUSH, &old);
        throw;
    }
    tcsetattr(fd, TCSAFLUSH, &old);
    return line;
}

}  // namespace

std::string read_password(int fd) {
    std::string pw;
    if (isatty(fd)) {
        pw = prompt_noecho(fd, "New password: ");
        std::string again = prompt_noecho(fd, "Retype new password: ");
        if (pw != again) throw Fatal(Exit::DataErr, "passwords do not match");
        sodium_memzero(again.data(), again.size());
    } else {
        pw = read_line(fd);
    }
    if (pw.empty()) throw Fatal(Exit::DataErr, "empty password refused");
    return pw;
}

bool is_server_command(const std::string &word) { return word == "serve" || word == "passwd"; }

int run_server_command(const std::vector<std::string> &args) {
    CLI::App app{"relay: SMTP server commands", "relay"};
    app.require_subcommand(1);
    std::string config_path;
    app.add_option("-C,--config", config_path, "configuration file");
    ServeOptions sopt;
    auto *serve_cmd = app.add_subcommand("serve", "run the SMTP server in the foreground");
    serve_cmd->add_flag("--syslog", sopt.syslog, "log to syslog instead of standard error");
    serve_cmd->add_flag("--check", sopt.check_only,
                        "load the configuration, tables and certificate, then exit");
    auto *passwd = app.add_subcommand("passwd", "set a user's SMTP AUTH password");
    std::string user;
    bool remove = false;
    passwd->add_flag("-d,--delete", remove, "delete the user instead");
    passwd->add_option("user", user, "user name (often the mail address)")->required();
    std::vector<std::string> rev(args.rbegin(), args.rend());
    try {
        app.parse(rev);
    } catch (const CLI::CallForHelp &) {
        std::cout << app.help();
        return 0;
    } catch (const CLI::ParseError &e) {
        throw Fatal(Exit::Usage, std::string(e.what()) + " (see relay serve --help)");
    }
    if (*serve_cmd) {
        // The configuration is loaded (and reloaded) by the server itself.
        // The path is made absolute here: the flush it starts runs in "/".
        sopt.config_path = cli::load_context(config_path).config_path;
        return serve(sopt);
    }
    cli::Context ctx = cli::load_context(config_path);
    const std::string &file = ctx.cfg.server.users_file;
    if (!valid_user_name(user)) throw Fatal(Exit::Usage, "bad user name \"" + user + "\"");
    std::string hash;
    if (!remove) {
        std::string pw = read_password(0);
        auto h = hash_password(pw);
        sodium_memzero(pw.data(), pw.size());
        if (!h) throw Fatal(Exit::Software, h.error().message);
        hash = *h;
    }
    auto r = write_user(file, user, hash);
    if (!r) throw Fatal(r.error().sys_errno == EACCES ? Exit::NoPerm : Exit::CantCreat, r.error().message);
    log::info(std::string(remove ? "deleted user " : "password set for ") + user + " in " + file);
    return 0;
}

}  // namespace relay::server
