// transaction.cpp - the mail transaction on an open connection: MAIL FROM,
// RCPT TO, DATA (pipelined when offered), the message and the final dot.
// See client.hpp; outcomes are decided by the caller (client.cpp) through
// policy.hpp.
#include <algorithm>

#include "log/log.hpp"
#include "smtp/client_impl.hpp"
#include "smtp/idna.hpp"
#include "smtp/message_reader.hpp"

namespace relay::smtp {

// The message as DATA: streamed from the queue file, dot-stuffed, in
// writes of about 64 KiB, then the final dot.
CURLcode Client::Impl::send_body(const Job &job, TxResult &tx, bool &folded) {
    MessageReader reader(job.message_fd, job.header_filter);
    DotStuffer stuffer;
    std::string chunk;
    char buf[64 * 1024];
    CURLcode rc = CURLE_OK;
    for (;;) {
        long n = reader.read(buf, sizeof buf);
        if (n < 0) {
            tx.read_errno = reader.error();
            rc = CURLE_READ_ERROR;
            break;
        }
        tx.body_started = tx.body_started || n > 0;
        if (n == 0) break;
        chunk.clear();
        stuffer.put(std::string_view(buf, static_cast<size_t>(n)), chunk);
        wire->data(chunk);
        if (wire->queued() >= sizeof buf)
            if ((rc = wire->flush(cfg.data_timeout)) != CURLE_OK) break;
    }
    folded = reader.folded();
    if (reader.header_unfiltered())
        log::warning(job.id + ": header section larger than " +
                     std::to_string(MessageReader::max_header_section) +
                     " octets: smtp_generic_maps not applied to it");
    if (rc != CURLE_OK) return rc;
    chunk.clear();
    stuffer.finish(chunk);
    wire->data(chunk);
    transcript.note_out("(message, " + std::to_string(reader.bytes_in()) + " octets)");
    transcript.note_out(".");
    return wire->flush(cfg.data_timeout);
}

// One mail transaction on the open connection. RCPT_REPLIES gets the
// reply to each RCPT TO (in the order of SENT) once MAIL FROM was accepted.
//
// With PIPELINING (RFC 2920) MAIL FROM, every RCPT TO and DATA go out in
// one write and the replies are read afterwards, in order; without it,
// each command waits for its reply. An unfinished transaction (MAIL
// refused, no recipient accepted, DATA refused) is reset with RSET before
// the next one.
TxResult Client::Impl::transaction(const Job &job, const std::vector<size_t> &sent,
                                   std::vector<Reply> &rcpt_replies, Delivery &d) {
    TxResult tx;
    auto fail = [&](CURLcode rc, Phase p, Reply r = {}) {
        tx.rc = rc;
        tx.phase = p;
        tx.reply = std::move(r);
        if (rc != CURLE_WEIRD_SERVER_REPLY || tx.reply.empty()) tx.os_errno = wire->os_errno();
        return tx;
    };
    const auto cmd_timeout = cfg.command_timeout;

    if (need_rset) {
        wire->command("RSET");
        Reply r;
        CURLcode rc = wire->flush(cmd_timeout);
        if (rc == CURLE_OK) rc = wire->read_reply(r, cmd_timeout);
        // A connection that cannot even be reset is given up for a new
        // one (perform() retries once): nothing of this message was sent.
        if (rc != CURLE_OK || r.code / 100 != 2) return fail(CURLE_GOT_NOTHING, Phase::Mail);
        need_rset = false;
    }

    TxEnvelope env{job.sender, job.size, job.eight_bit, job.smtputf8, job.ret, job.envid};
    std::vector<std::string> rcpts;
    for (size_t idx : sent) rcpts.push_back(job.recipients[idx]);
    bool utf8 = wants_smtputf8(env, rcpts, caps);
    // Without SMTPUTF8 an address goes out with its domain as A-labels
    // (idna.hpp); one whose local part is not ASCII cannot go at all.
    // Postfix's wording.
    const Reply no_utf8{553,
                        "553 5.6.7 SMTPUTF8 is required, but was not offered by host " +
                            conn_peer.name(),
                        "5.6.7"};
    auto sendable = [&](std::string &addr) {
        if (caps.smtputf8 || is_ascii(addr)) return true;
        auto a = address_to_ascii(addr);
        if (!a) return false;
        addr = std::move(*a);
        return true;
    };
    if (!sendable(env.sender)) return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Mail, no_utf8);
    if (caps.size && caps.size_limit > 0 && job.size > caps.size_limit)
        return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Mail,
                    Reply{552,
                          "552 5.3.4 message size " + std::to_string(job.size) +
                              " exceeds size limit " + std::to_string(caps.size_limit) +
                              " of server " + conn_peer.name(),
                          "5.3.4"});

    struct Cmd {
        std::string line;
        Phase phase;
        Reply local;  // not sent: this is its answer
    };
    std::vector<Cmd> cmds;
    cmds.push_back({mail_command(env, caps, utf8), Phase::Mail, {}});
    for (size_t idx : sent) {
        std::string to = job.recipients[idx];
        if (!sendable(to)) {
            cmds.push_back({"", Phase::Rcpt, no_utf8});
            continue;
        }
        std::string_view notify = idx < job.notify.size() ? job.notify[idx] : std::string_view{};
        std::string_view orig = idx < job.orcpt.size() ? job.orcpt[idx] : std::string_view{};
        cmds.push_back({rcpt_command(to, notify, orig, caps), Phase::Rcpt, {}});
    }
    cmds.push_back({"DATA", Phase::Data, {}});

    Reply mail, data;
    size_t accepted = 0, flushed = 0;
    for (size_t i = 0; i < cmds.size(); ++i) {
        if (i == flushed) {
            // A group's replies must fit the socket buffers while relay is
            // still writing it (RFC 2920 section 4: no deadlock): at most
            // kMaxGroup commands, a few kilobytes of replies.
            size_t end = caps.pipelining ? std::min(cmds.size(), i + kMaxGroup) : i + 1;
            for (size_t k = i; k < end; ++k)
                if (cmds[k].local.empty()) wire->command(cmds[k].line);
            if (wire->queued() > 0)
                if (CURLcode rc = wire->flush(cmd_timeout); rc != CURLE_OK) return fail(rc, cmds[i].phase);
            flushed = end;
        }
        Reply r = cmds[i].local;
        if (r.empty()) {
            if (CURLcode rc = wire->read_reply(r, cmd_timeout); rc != CURLE_OK) return fail(rc, cmds[i].phase);
            tx.answered = true;
        }
        const bool ok = r.code / 100 == 2;
        switch (cmds[i].phase) {
        case Phase::Mail:
            mail = r;
            if (r.code == 421) return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Mail, r);
            break;
        case Phase::Rcpt:
            if (r.code == 421) return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Rcpt, r);
            if (mail.code / 100 == 2) rcpt_replies.push_back(r);
            if (ok) ++accepted;
            break;
        default:
            data = r;
            break;
        }
        if (caps.pipelining) continue;  // every reply must be read
        if (cmds[i].phase == Phase::Mail && !ok) break;
        if (cmds[i].phase == Phase::Rcpt && i + 2 == cmds.size() && accepted == 0) break;
    }
    const bool mail_ok = mail.code / 100 == 2;
    if (!mail_ok || accepted == 0) {
        need_rset = true;
        if (data.code == 354) {
            // RFC 2920 3.1: DATA was accepted though the transaction has no
            // recipient; end it with an empty message, which is refused.
            wire->data(".\r\n");
            Reply r;
            CURLcode rc = wire->flush(cmd_timeout);
            if (rc == CURLE_OK) rc = wire->read_reply(r, cfg.data_timeout);
            if (rc != CURLE_OK) return fail(rc, Phase::Dot);
        }
        if (!mail_ok) return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Mail, mail);
        return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Rcpt, rcpt_replies.back());
    }
    if (data.code != 354) {
        need_rset = true;
        if (data.code == 421 || data.code >= 400) return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Data, data);
        return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Data);  // a 2xx is no answer to DATA
    }

    bool folded = false;
    CURLcode rc = send_body(job, tx, folded);
    d.folded = d.folded || folded;
    if (rc == CURLE_READ_ERROR) {
        // The dot must never follow a message cut short: the connection goes.
        wire->cut();
        return fail(rc, Phase::Local);
    }
    if (rc != CURLE_OK) return fail(rc, Phase::Dot);
    // The server may check the message now (virus scan, spam filter):
    // its reply gets data_timeout, as Postfix's smtp_data_done_timeout.
    Reply dot;
    if ((rc = wire->read_reply(dot, cfg.data_timeout)) != CURLE_OK) return fail(rc, Phase::Dot);
    d.reply = dot.text;
    if (dot.code / 100 != 2) return fail(CURLE_WEIRD_SERVER_REPLY, Phase::Dot, dot);
    return tx;
}

}  // namespace relay::smtp
