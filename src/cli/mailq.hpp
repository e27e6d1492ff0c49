// mailq.hpp - list the queue in Postfix's mailq format (or JSON).
//
// Monitoring plugins and scripts parse this output (check_mailq -M postfix
// reads only the last line; scripts count lines starting with a queue id),
// so it follows Postfix's long-queue-id layout byte for byte:
//
//   ----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------
//   0S2X3K70003ZQ4MN*     2062 Sun Nov 22 04:50:00 alice@example.net
//                                                  ops@example.com
//
//   -- 2 Kbytes in 1 Request.
//
// Status marks after the id: '!' on hold, '#' corrupt (relay's addition);
// entries still in maildrop/ (not yet picked up) are listed too. An empty
// queue prints exactly "Mail queue is empty". --json prints one object per
// line with postqueue -j's field names.
#pragma once

#include <ostream>
#include <string>

#include "config/config.hpp"

namespace relay::cli {

void list_queue(const config::Config &cfg, std::ostream &out, bool json);

}  // namespace relay::cli
