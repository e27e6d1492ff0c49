// id.hpp - queue ids: unique, time-sortable, safe as file names.
//
// An id is 16 characters of Crockford base32 (0-9, A-Z without I L O U):
// 7 for the seconds since the epoch, 4 for the microseconds, 5 random
// (getrandom). Fixed width and an alphabet in ASCII order make ids sort by
// arrival time as plain strings. Ids are always validated with is_valid()
// before a path is built from one: a maildrop or queue entry whose name is
// not a valid id is never opened as a queue file.
#pragma once

#include <string>
#include <string_view>

namespace relay::queue {

inline constexpr size_t id_length = 16;

std::string make_id();
bool is_valid_id(std::string_view s);
// Arrival time (seconds) encoded in a valid id.
long long id_time(std::string_view id);

}  // namespace relay::queue
