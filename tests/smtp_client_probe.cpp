// smtp_client_probe - drives relay::smtp::Client for the integration tests.
//
//   smtp_client_probe -c relay.toml -f SENDER -t RCPT [-t RCPT...] -m FILE
//                     [-n COUNT] [-w SECONDS] [-v]
//
// Sends FILE COUNT times (default 1) through one Client, so consecutive
// messages share a connection (waiting SECONDS, default 0, between two),
// and prints one JSON object per message:
//
//   {"n":0,"relay":"localhost[127.0.0.1]:2525","reply":"250 ...",
//    "config_failure":false,"folded":false,
//    "rcpts":[{"to":"a@b","status":"sent","reply":"250 ..."}]}
//
// and a last line {"connections":N,"messages":M}. Exit status 0, or 78
// (EX_CONFIG) when any delivery reported a configuration failure, 64 for
// usage errors. Test-only: not installed.
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "config/config.hpp"
#include "log/log.hpp"
#include "smtp/client.hpp"

namespace {

std::string json(std::string_view s) {
    std::string o = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '"': o += "\\\""; break;
        case '\\': o += "\\\\"; break;
        case '\n': o += "\\n"; break;
        case '\r': o += "\\r"; break;
        case '\t': o += "\\t"; break;
        default:
            if (c < 0x20) {
                char b[8];
                snprintf(b, sizeof b, "\\u%04x", c);
                o += b;
            } else {
                o += static_cast<char>(c);
            }
        }
    }
    return o + "\"";
}

int usage() {
    fprintf(stderr, "usage: smtp_client_probe -c CONFIG -f SENDER -t RCPT... -m FILE [-n COUNT] "
                    "[-w SECONDS] [-v]\n");
    return 64;
}

}  // namespace

int main(int argc, char **argv) {
    std::string config_path, sender, message;
    std::vector<std::string> rcpts;
    long count = 1;
    double wait_s = 0;
    bool verbose = false, have_sender = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> const char * { return i + 1 < argc ? argv[++i] : nullptr; };
        const char *v = nullptr;
        if (a == "-v") {
            verbose = true;
            continue;
        }
        if (!(v = next())) return usage();
        if (a == "-c") config_path = v;
        else if (a == "-f") {
            sender = v;
            have_sender = true;
        } else if (a == "-t") rcpts.emplace_back(v);
        else if (a == "-m") message = v;
        else if (a == "-n") count = atol(v);
        else if (a == "-w") wait_s = atof(v);
        else return usage();
    }
    if (config_path.empty() || !have_sender || rcpts.empty() || message.empty() || count < 1)
        return usage();

    relay::log::init("smtp_client_probe", "smtp", relay::log::Sink::Stderr);
    relay::log::set_verbose(verbose);
    auto cfg = relay::config::load(config_path, true);
    if (!cfg) {
        fprintf(stderr, "smtp_client_probe: %s\n", cfg.error().message.c_str());
        return 78;
    }
    int fd = ::open(message.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(message.c_str());
        return 66;
    }
    struct stat st;
    fstat(fd, &st);

    relay::smtp::Client client(*cfg);
    bool config_failure = false;
    for (long n = 0; n < count; ++n) {
        if (n > 0 && wait_s > 0) usleep(static_cast<useconds_t>(wait_s * 1e6));
        relay::smtp::Job job;
        job.id = "PROBE" + std::to_string(n);
        job.sender = sender;
        job.recipients = rcpts;
        job.message_fd = fd;
        job.size = static_cast<uint64_t>(st.st_size);
        auto d = client.send(job);
        config_failure = config_failure || d.config_failure;
        std::string line = "{\"n\":" + std::to_string(n) + ",\"relay\":" + json(d.relay) +
                           ",\"reply\":" + json(d.reply) + ",\"config_failure\":" +
                           (d.config_failure ? "true" : "false") +
                           ",\"folded\":" + (d.folded ? "true" : "false") + ",\"rcpts\":[";
        for (size_t i = 0; i < d.rcpts.size(); ++i) {
            if (i) line += ",";
            line += "{\"to\":" + json(rcpts[i]) + ",\"status\":" +
                    json(relay::smtp::to_string(d.rcpts[i].outcome)) +
                    ",\"reply\":" + json(d.rcpts[i].reply) + "}";
        }
        line += "]}\n";
        fputs(line.c_str(), stdout);
        fflush(stdout);
    }
    client.close();
    printf("{\"connections\":%u,\"messages\":%u}\n", client.connections_opened(),
           client.messages_sent());
    ::close(fd);
    return config_failure ? 78 : 0;
}
