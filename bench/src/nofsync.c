/*
 * nofsync.c - LD_PRELOAD shim for diagnosis only: fsync() and fdatasync()
 * return 0 at once.  bench/run runs relay's flush with it once, to show how
 * much of the flush time is spent waiting for the disk; nothing durable is
 * measured this way.  Build: cc -O2 -shared -fPIC -o nofsync.so nofsync.c
 */
int fsync(int fd) { (void)fd; return 0; }
int fdatasync(int fd) { (void)fd; return 0; }
