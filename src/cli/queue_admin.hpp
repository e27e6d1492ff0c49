// queue_admin.hpp - postsuper-like queue administration.
//
//   relay queue show ID       the envelope and the message
//   relay queue delete ID...  (ALL: every entry)        postsuper -d
//   relay queue hold ID...                              postsuper -h
//   relay queue release ID...                           postsuper -H
//   relay queue requeue ID... (due now, tries kept)     postsuper -r
//   relay queue check         report entries that do not parse
// Each id is validated before any path is built from it. Exit 0 when every
// named entry was handled, EX_NOINPUT when one did not exist.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace relay::cli {

int queue_admin(const config::Config &cfg, const std::string &action,
                const std::vector<std::string> &ids, std::ostream &out);

}  // namespace relay::cli
