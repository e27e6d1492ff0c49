// main.cpp - argv[0] dispatch and the one top-level catch.
//
// Everything real lives in relay_core (src/cli/dispatch.cpp); this file only
// turns an escaped relay::Fatal or any other exception into a message on
// stderr and a sysexits(3) status, so no failure leaves without one.
#include <cstdio>
#include <exception>

#include "cli/dispatch.hpp"
#include "log/log.hpp"
#include "util/error.hpp"

int main(int argc, char **argv) {
    try {
        return relay::cli::dispatch(argc, argv);
    } catch (const relay::Fatal &e) {
        relay::log::fatal(e.what());
        return relay::to_sysexit(e.code());
    } catch (const std::bad_alloc &) {
        relay::log::fatal("out of memory");
        return relay::to_sysexit(relay::Exit::TempFail);
    } catch (const std::exception &e) {
        relay::log::fatal(std::string("internal error: ") + e.what());
        return relay::to_sysexit(relay::Exit::Software);
    }
}
