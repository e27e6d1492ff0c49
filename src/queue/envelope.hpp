// envelope.hpp - the per-message envelope file, queue/<id>/envelope.
//
// A versioned, line-oriented "key: value" text, replaced only atomically
// (write envelope.tmp, fsync, rename, fsync the directory) so a reader sees
// the old or the new version, never a mix. Example:
//
//   version: 1
//   id: 0S2X3K70003ZQ4MN
//   arrival: 1733073800
//   sender: alice@example.net          (empty line value = null sender <>)
//   uid: 1000
//   user: alice
//   size: 812
//   body: 8BITMIME
//   ret: FULL
//   envid: xtext
//   tries: 2
//   next: 1733074400
//   reason: connect to mail.example.net[192.0.2.1]:587: Connection refused
//   rcpt: root@example.net
//   rcpt.orig: root
//   rcpt.status: pending
//   rcpt.notify: FAILURE,DELAY
//   rcpt.reason: 451 4.3.0 try later
//
// "rcpt.*" lines belong to the rcpt line above them. Free text (reasons,
// envid) is xtext-encoded; addresses never contain CR, LF or NUL (checked at
// parse time). Unknown keys are an error for version 1 (a newer relay wrote
// this file: leave it alone rather than lose fields).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace relay::queue {

enum class RcptStatus { Pending, Sent, Bounced };

struct Recipient {
    std::string address;  // after rewriting: where it goes
    std::string orig;     // as the sender gave it (DSN ORCPT); empty = same
    RcptStatus status = RcptStatus::Pending;
    std::string notify;   // DSN NOTIFY list, e.g. "FAILURE,DELAY"; empty = default
    std::string reason;   // last server reply or local reason
};

struct Envelope {
    std::string id;
    int64_t arrival = 0;        // seconds since the epoch
    std::string sender;         // "" = null sender (bounces)
    uint32_t uid = 0;           // submitting uid, from the maildrop file's owner
    std::string user;           // login name for that uid, or "#uid"
    uint64_t size = 0;          // message file size in bytes
    std::string body;           // "", "7BIT" or "8BITMIME"
    bool smtputf8 = false;      // headers or addresses need SMTPUTF8
    std::string ret;            // DSN RET: "", "FULL" or "HDRS"
    std::string envid;          // DSN ENVID
    uint32_t tries = 0;
    int64_t next_attempt = 0;   // not before this time (0 = now)
    int64_t last_attempt = 0;
    bool warned = false;        // a delay warning was sent
    std::string reason;         // last deferral reason (for mailq)
    std::vector<Recipient> rcpts;

    bool is_bounce() const { return sender.empty(); }
    size_t pending() const;
};

std::string serialize(const Envelope &env);
Result<Envelope> parse_envelope(std::string_view text);

const char *to_string(RcptStatus s);

}  // namespace relay::queue
