#include "queue/id.hpp"

#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

namespace relay::queue {
namespace {
constexpr char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";  // Crockford base32

int digit_value(char c) {
    for (int i = 0; i < 32; ++i)
        if (alphabet[i] == c) return i;
    return -1;
}

void put(std::string &out, unsigned long long v, int digits) {
    for (int i = digits - 1; i >= 0; --i) out += alphabet[(v >> (5 * i)) & 31];
}
}  // namespace

std::string make_id() {
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    unsigned int rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd) {
        // No entropy yet (early boot): the pid and time still make a
        // collision unlikely, and O_EXCL catches the rest.
        rnd = static_cast<unsigned>(getpid()) * 2654435761u ^ static_cast<unsigned>(tv.tv_usec);
    }
    std::string id;
    id.reserve(id_length);
    put(id, static_cast<unsigned long long>(tv.tv_sec), 7);
    put(id, static_cast<unsigned long long>(tv.tv_usec), 4);
    put(id, rnd, 5);
    return id;
}

bool is_valid_id(std::string_view s) {
    if (s.size() != id_length) return false;
    for (char c : s)
        if (digit_value(c) < 0) return false;
    return true;
}

long long id_time(std::string_view id) {
    long long t = 0;
    for (size_t i = 0; i < 7 && i < id.size(); ++i) t = t * 32 + digit_value(id[i]);
    return t;
}

}  // namespace relay::queue
