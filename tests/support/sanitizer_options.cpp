// sanitizer_options.cpp - run-time defaults for relay in the sanitizer
// builds (-DRELAY_SANITIZE=ON, -DRELAY_FUZZ=ON); linked into nothing else.
//
// Integration tests run relay with an environment of their own, so
// ASAN_OPTIONS from ctest does not reach it, and a test that expects a
// non-zero exit would not notice a sanitizer report. With
// -DRELAY_SANITIZER_LOG_DIR=DIR every report goes to DIR/asan.PID or
// DIR/ubsan.PID instead, and .ci/test fails when DIR is not empty.
//
// Run set-gid (test_privilege.py and test_hostile_user.py install a
// set-gid copy), the process is not dumpable, so LeakSanitizer cannot stop
// its threads with ptrace() and would end every such run with a fatal
// error: leak checking is off there, and on for every other run.
// verify_asan_link_order=0: a caller's LD_PRELOAD (a test shows it is
// ignored when set-gid, and honoured otherwise) may come before the ASan
// run-time library.
#include <sys/auxv.h>

#ifdef RELAY_SANITIZER_LOG_DIR
#define RELAY_ASAN_LOG ":log_path=" RELAY_SANITIZER_LOG_DIR "/asan"
#define RELAY_UBSAN_LOG ":log_path=" RELAY_SANITIZER_LOG_DIR "/ubsan"
#else
#define RELAY_ASAN_LOG ""
#define RELAY_UBSAN_LOG ""
#endif

extern "C" const char *__asan_default_options() {
    return getauxval(AT_SECURE) ? "detect_leaks=0:verify_asan_link_order=0" RELAY_ASAN_LOG
                                : "verify_asan_link_order=0" RELAY_ASAN_LOG;
}

extern "C" const char *__ubsan_default_options() {
    return "print_stacktrace=1" RELAY_UBSAN_LOG;
}
