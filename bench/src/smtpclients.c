/*
 * smtpclients.c - many SMTP client connections from one process, for the
 * server section of bench/run: idle connections (memory per connection),
 * a connection flood, and slow clients ("slowloris").
 * Written for this project (no upstream code).  Build: cc -O2 -o smtpclients smtpclients.c
 *
 *   smtpclients -p PORT -n N [-a ADDR] [-b SRCADDR] [-e] [-s MS] [-P INFLIGHT]
 *               [-c SETUP_S] [-t HOLD_S] [-r READYFILE]
 *
 * Opens N TCP connections to ADDR:PORT (default 127.0.0.1; the source
 * address is SRCADDR when given, e.g. 127.0.0.2, so that a server can tell
 * the flood from a normal client on 127.0.0.1), at most INFLIGHT (200)
 * TCP connects pending at a time (connections waiting for their greeting
 * do not count: a server that does not greet does not slow the flood).  Each connection reads the
 * greeting; a 220 counts as "greeted", a 421 as "refused421" (anything else
 * as "other").  With -e it then sends "EHLO flood.example" and waits for the
 * final line of the reply.  Then the connection is held:
 *   idle (default)  nothing more is sent;
 *   -s MS           slow: one byte of a command line that never ends
 *                   ("MAIL FROM:<xxxx...") every MS milliseconds, the clients'
 *                   first bytes spread over one interval.
 * Setup ends when every connection is greeted/held or refused or failed, or
 * after SETUP_S seconds (default 30).  What is left then is "connecting"
 * (the TCP handshake has not completed: the server's listen queue is full
 * and drops SYNs), "waiting" (connected, no greeting or EHLO reply yet, as
 * behind a server's process limit) or "unopened" (never started: too many
 * connects were pending).  One line of counters is then printed and written
 * to READYFILE:
 *   setup_ms=.. opened=.. greeted=.. held=.. refused421=.. other=.. failed=..
 *   connecting=.. waiting=.. unopened=..
 * Then connections are held for HOLD_S seconds (default: until SIGTERM or
 * SIGINT), and the final line is printed:
 *   held_s=.. closed_by_server=.. timeout421=.. close_p10_s=.. close_med_s=.. close_max_s=..
 *   open_end=.. greeted_end=..
 * closed_by_server counts held connections the server closed (EOF or reset);
 * timeout421 how many of them were told 421 first; close_*_s are the times
 * from greeting to close.  Nothing but ADDR:PORT is contacted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { S_NEW, S_CONNECTING, S_GREET, S_EHLO, S_HELD, S_DONE };

struct conn {
    int fd;
    enum state st;
    int got421;        /* a 421 line arrived while held */
    int bytes_sent;    /* slow mode: bytes of the endless line so far */
    double t_greet;    /* when the greeting (or the EHLO reply) was complete */
    double next_send;  /* slow mode */
    size_t len;
    char buf[1024];
};

static volatile sig_atomic_t stop_flag;
static void on_stop(int sig) { (void)sig; stop_flag = 1; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, int n, double p) {
    if (n <= 0) return 0;
    double idx = p * (n - 1);
    int lo = (int)idx, hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] * (1 - (idx - lo)) + v[hi] * (idx - lo);
}

static int epfd;
static struct conn *conns;
static int n_total, inflight, ehlo, slow_ms;
static long c_opened, c_greeted, c_held, c_refused, c_other, c_failed, c_closed, c_timeout421;
static double *close_times;
static int n_close_times;
static struct sockaddr_in dst, src;
static int have_src;

static void watch(struct conn *c, int idx, uint32_t ev, int op) {
    struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)idx};
    epoll_ctl(epfd, op, c->fd, &e);
}

static void finish(struct conn *c) {
    if (c->fd >= 0) close(c->fd);
    if (c->st == S_CONNECTING) inflight--;
    c->fd = -1;
    c->st = S_DONE;
}

static void start_one(int idx) {
    struct conn *c = &conns[idx];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) { c_failed++; c->st = S_DONE; return; }
    if (have_src) {
        int one = 1;
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(c->fd, (struct sockaddr *)&src, sizeof src) != 0) {
            c_failed++; close(c->fd); c->fd = -1; c->st = S_DONE; return;
        }
    }
    c_opened++;
    int r = connect(c->fd, (struct sockaddr *)&dst, sizeof dst);
    if (r != 0 && errno != EINPROGRESS) { c_failed++; finish(c); return; }
    c->st = r == 0 ? S_GREET : S_CONNECTING;
    if (r != 0) inflight++;
    watch(c, idx, r == 0 ? EPOLLIN : EPOLLOUT, EPOLL_CTL_ADD);
}

/* A complete reply line in c->buf: returns its code, sets *final. 0 if none. */
static int take_line(struct conn *c, int *final) {
    char *nl = memchr(c->buf, '\n', c->len);
    if (!nl) return 0;
    size_t ll = (size_t)(nl - c->buf) + 1;
    int code = (ll >= 4 && c->buf[0] >= '0' && c->buf[0] <= '9') ? atoi(c->buf) : -1;
    *final = !(ll >= 5 && c->buf[3] == '-');
    memmove(c->buf, c->buf + ll, c->len - ll);
    c->len -= ll;
    return code;
}

static void become_held(struct conn *c, int idx, double t) {
    c->st = S_HELD;
    c->t_greet = t;
    c_held++;
    if (slow_ms > 0) c->next_send = t + (double)(rand() % (slow_ms + 1)) / 1e3;
    watch(c, idx, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
}

static void server_closed(struct conn *c) {
    c_closed++;
    if (c->got421) c_timeout421++;
    close_times[n_close_times++] = now_s() - c->t_greet;
    finish(c);
}

static void on_event(int idx, uint32_t ev) {
    struct conn *c = &conns[idx];
    if (c->st == S_DONE) return;
    if (c->st == S_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) { c_failed++; finish(c); return; }
        c->st = S_GREET;
        inflight--;
        watch(c, idx, EPOLLIN, EPOLL_CTL_MOD);
        return;
    }
    (void)ev;
    for (;;) {
        if (c->len >= sizeof c->buf - 1) c->len = 0; /* overlong line: drop */
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (n <= 0) {
            if (c->st == S_HELD) server_closed(c);
            else { c_failed++; finish(c); }
            return;
        }
        c->len += (size_t)n;
        int final, code;
        while ((code = take_line(c, &final)) != 0) {
            if (!final) continue;
            if (c->st == S_GREET) {
                if (code == 220) {
                    c_greeted++;
                    if (ehlo) {
                        static const char cmd[] = "EHLO flood.example\r\n";
                        if (send(c->fd, cmd, sizeof cmd - 1, MSG_NOSIGNAL) != (ssize_t)sizeof cmd - 1) {
                            c_failed++; finish(c); return;
                        }
                        c->st = S_EHLO;
                    } else {
                        become_held(c, idx, now_s());
                    }
                } else {
                    if (code == 421) c_refused++;
                    else c_other++;
                    finish(c);
                    return;
                }
            } else if (c->st == S_EHLO) {
                if (code != 250) { c_other++; finish(c); return; }
                become_held(c, idx, now_s());
            } else if (c->st == S_HELD) {
                if (code == 421) c->got421 = 1;
            }
        }
    }
}

static int all_settled(void) {
    for (int i = 0; i < n_total; i++)
        if (conns[i].st != S_HELD && conns[i].st != S_DONE) return 0;
    return 1;
}

static void slow_tick(double t) {
    static const char line[] = "MAIL FROM:<";
    for (int i = 0; i < n_total; i++) {
        struct conn *c = &conns[i];
        if (c->st != S_HELD || c->next_send > t) continue;
        char b = c->bytes_sent < (int)sizeof line - 1 ? line[c->bytes_sent] : 'x';
        if (send(c->fd, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) c->bytes_sent++;
        c->next_send += slow_ms / 1e3;
        if (c->next_send < t) c->next_send = t + slow_ms / 1e3;
    }
}

static void pump(double until, int setup, int par) {
    struct epoll_event evs[256];
    int next_new = 0;
    for (int i = 0; i < n_total; i++)
        if (conns[i].st == S_NEW) { next_new = i; break; }
    while (!stop_flag) {
        double t = now_s();
        if (t >= until) return;
        if (setup) {
            while (inflight < par && next_new < n_total) {
                if (conns[next_new].st == S_NEW) start_one(next_new);
                next_new++;
            }
            if (next_new >= n_total && all_settled()) return;
        }
        int ms = (int)((until - t) * 1e3) + 1;
        if (ms > 50) ms = 50;
        int n = epoll_wait(epfd, evs, 256, ms);
        for (int i = 0; i < n; i++) on_event((int)evs[i].data.u32, evs[i].events);
        if (slow_ms > 0) slow_tick(now_s());
    }
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1", *srcaddr = NULL, *ready = NULL;
    int port = 0, opt, par = 200;
    double setup_s = 30, hold_s = -1;
    while ((opt = getopt(argc, argv, "a:p:n:b:es:P:c:t:r:")) != -1) {
        switch (opt) {
        case 'a': addr = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'n': n_total = atoi(optarg); break;
        case 'b': srcaddr = optarg; break;
        case 'e': ehlo = 1; break;
        case 's': slow_ms = atoi(optarg); break;
        case 'P': par = atoi(optarg); break;
        case 'c': setup_s = atof(optarg); break;
        case 't': hold_s = atof(optarg); break;
        case 'r': ready = optarg; break;
        default: fprintf(stderr, "usage: see the header of smtpclients.c\n"); return 64;
        }
    }
    if (port <= 0 || n_total <= 0 || par <= 0) { fprintf(stderr, "smtpclients: -p PORT and -n N are required\n"); return 64; }
    memset(&dst, 0, sizeof dst);
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &dst.sin_addr) != 1) { fprintf(stderr, "smtpclients: bad address %s\n", addr); return 64; }
    if (srcaddr) {
        memset(&src, 0, sizeof src);
        src.sin_family = AF_INET;
        if (inet_pton(AF_INET, srcaddr, &src.sin_addr) != 1) { fprintf(stderr, "smtpclients: bad address %s\n", srcaddr); return 64; }
        have_src = 1;
    }
    struct rlimit rl = {.rlim_cur = (rlim_t)n_total + 64, .rlim_max = (rlim_t)n_total + 64};
    struct rlimit cur;
    getrlimit(RLIMIT_NOFILE, &cur);
    if (cur.rlim_max > rl.rlim_max) rl.rlim_max = cur.rlim_max;
    if (cur.rlim_cur < rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        fprintf(stderr, "smtpclients: cannot raise RLIMIT_NOFILE to %d: %s\n", n_total + 64, strerror(errno));
        return 71;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    srand((unsigned)getpid());
    epfd = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc((size_t)n_total, sizeof *conns);
    close_times = calloc((size_t)n_total, sizeof *close_times);
    if (epfd < 0 || !conns || !close_times) { perror("smtpclients"); return 71; }
    for (int i = 0; i < n_total; i++) conns[i].fd = -1;

    double t0 = now_s();
    pump(t0 + setup_s, 1, par);
    long connecting = 0, waiting = 0, unopened = 0;
    for (int i = 0; i < n_total; i++) {
        if (conns[i].st == S_NEW) unopened++;
        else if (conns[i].st == S_CONNECTING) connecting++;
        else if (conns[i].st == S_GREET || conns[i].st == S_EHLO) waiting++;
    }
    char line[512];
    snprintf(line, sizeof line,
             "setup_ms=%.0f opened=%ld greeted=%ld held=%ld refused421=%ld other=%ld failed=%ld "
             "connecting=%ld waiting=%ld unopened=%ld",
             (now_s() - t0) * 1e3, c_opened, c_greeted, c_held, c_refused, c_other, c_failed,
             connecting, waiting, unopened);
    printf("%s\n", line);
    fflush(stdout);
    if (ready) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", ready);
        FILE *f = fopen(tmp, "w");
        if (f) { fprintf(f, "%s\n", line); fclose(f); rename(tmp, ready); }
    }

    double h0 = now_s();
    /* Keep reading: pending connections may still be greeted (counted in
     * greeted_end); held ones may be closed by the server. */
    pump(hold_s < 0 ? 1e18 : h0 + hold_s, 0, par);
    long open_end = 0;
    for (int i = 0; i < n_total; i++)
        if (conns[i].st != S_DONE) open_end++;
    qsort(close_times, (size_t)n_close_times, sizeof *close_times, cmp_d);
    printf("held_s=%.1f closed_by_server=%ld timeout421=%ld close_p10_s=%.1f close_med_s=%.1f close_max_s=%.1f "
           "open_end=%ld greeted_end=%ld\n",
           now_s() - h0, c_closed, c_timeout421, pct(close_times, n_close_times, .1),
           pct(close_times, n_close_times, .5), n_close_times ? close_times[n_close_times - 1] : 0.0,
           open_end, c_greeted);
    fflush(stdout);
    for (int i = 0; i < n_total; i++)
        if (conns[i].fd >= 0) close(conns[i].fd);
    return 0;
}
