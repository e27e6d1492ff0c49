// maildrop_fuzz - queue::parse_submission(), pickup's reader of the
// untrusted files in maildrop/.
//
// Guarantees checked (queue/maildrop.hpp): no crash on any file; a file
// that parses has envelope fields without CR, LF or NUL, a message within
// the limit, per-recipient DSN parameters that are valid and one per
// recipient, and survives serialize/parse unchanged.
#include "fuzz_support.hpp"
#include "queue/maildrop.hpp"

using relay::fuzz::check;
using relay::fuzz::one_line;

namespace {

bool same_params(const relay::queue::Submission &a, const relay::queue::Submission &b) {
    if (a.rcpt_params.size() != b.rcpt_params.size()) return false;
    for (size_t i = 0; i < a.rcpt_params.size(); ++i)
        if (a.rcpt_params[i].notify != b.rcpt_params[i].notify ||
            a.rcpt_params[i].orcpt != b.rcpt_params[i].orcpt)
            return false;
    return true;
}

bool same(const relay::queue::Submission &a, const relay::queue::Submission &b) {
    return a.sender == b.sender && a.fullname == b.fullname &&
           a.extract_recipients == b.extract_recipients && a.body_type == b.body_type &&
           a.notify == b.notify && a.ret == b.ret && a.envid == b.envid &&
           a.recipients == b.recipients && a.message == b.message && same_params(a, b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view in = relay::fuzz::as_text(data, size);
    const size_t limit = 4096;
    auto s = relay::queue::parse_submission(in, limit);
    if (!s) return 0;
    check(s->message.size() <= limit, "message over the limit");
    if (s->sender) check(one_line(*s->sender), "sender with a line break");
    if (s->fullname) check(one_line(*s->fullname), "fullname with a line break");
    check(one_line(s->notify) && one_line(s->envid) && one_line(s->ret) && one_line(s->body_type),
          "DSN field with a line break");
    for (auto &r : s->recipients) check(!r.empty() && one_line(r), "bad recipient");
    check(s->rcpt_params.empty() || s->rcpt_params.size() == s->recipients.size(),
          "per-recipient parameters do not match the recipients");
    for (auto &p : s->rcpt_params)
        check((p.notify.empty() || relay::queue::valid_notify(p.notify)) &&
                  (p.orcpt.empty() || relay::queue::valid_orcpt(p.orcpt)),
              "bad per-recipient parameter");

    std::string again = relay::queue::serialize_submission(*s) + s->message;
    auto s2 = relay::queue::parse_submission(again, limit);
    check(s2.ok(), "a serialized submission does not parse");
    check(same(*s, *s2), "serialize/parse changed the submission");
    return 0;
}
