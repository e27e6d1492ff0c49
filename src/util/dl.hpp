// dl.hpp - resolving a library's functions after dlopen().
//
// relay loads libcurl, libidn2 and (relay serve) OpenSSL at run time, so
// that the sendmail path maps none of them. Each loader keeps one table of
// function pointers and fills it with resolve(), which turns a missing
// symbol into the error text the loader reports.
#pragma once

#include <dlfcn.h>
#include <string>

namespace relay::util {

// Sets SLOT to LIB's NAME; false (ERR = "cannot use LIBNAME: missing
// symbol NAME") when there is none.
template <typename Fn>
bool resolve(void *lib, const char *libname, const char *name, Fn &slot, std::string &err) {
    void *sym = ::dlsym(lib, name);
    if (!sym) {
        err = std::string("cannot use ") + libname + ": missing symbol " + name;
        return false;
    }
    slot = reinterpret_cast<Fn>(sym);
    return true;
}

}  // namespace relay::util
