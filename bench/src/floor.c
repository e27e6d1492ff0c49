/*
 * floor.c - the least a durable sendmail can do: start (a C program with
 * libc only), read the message from stdin, create a file in DIR, write it,
 * fsync it, rename it to its final name and fsync DIR.  bench/run times this
 * next to relay's `sendmail -i rcpt` on the same file system: it is the
 * floor that relay's enqueue latency is compared with.
 *
 * Usage: floor DIR < message       exit 0 when the file is durable, 75 if not
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    static char msg[1 << 20];
    size_t len = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: floor DIR < message\n");
        return 64;
    }
    int dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return 75;
    for (;;) {
        ssize_t n = read(0, msg + len, sizeof msg - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return 74;
        if (n == 0 || (len += (size_t)n) == sizeof msg) break;
    }
    char tmp[64], fin[64];
    snprintf(tmp, sizeof tmp, "t.%d", (int)getpid());
    snprintf(fin, sizeof fin, "m.%d", (int)getpid());
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return 75;
    if (write(fd, msg, len) != (ssize_t)len || fsync(fd) != 0 || close(fd) != 0) return 75;
    if (renameat(dfd, tmp, dfd, fin) != 0 || fsync(dfd) != 0) return 75;
    return 0;
}
