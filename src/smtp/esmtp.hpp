// esmtp.hpp - the mail transaction's command lines and the DATA encoding.
//
// Pure functions, no I/O: what relay says in a transaction, decided from
// the message and the server's EHLO keywords.
//
//   MAIL FROM:<sender> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8] [RET=..] [ENVID=..]
//   RCPT TO:<rcpt> [NOTIFY=..] [ORCPT=rfc822;xtext]
//
// Each parameter goes out only when the server announced its extension
// (SIZE RFC 1870, 8BITMIME RFC 6152, SMTPUTF8 RFC 6531, DSN RFC 3461), as
// Postfix's smtp(8) does. SIZE declares the queue file's size (LF line
// ends, so a little under the wire size, as Postfix's estimate is).
//
// DotStuffer turns CRLF text (MessageReader's output) into DATA: a line
// that starts with "." gets a second one (RFC 5321 4.5.2), and finish()
// appends the terminating ".". The input must already be CRLF-only with
// a final line end (MessageReader guarantees both).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace relay::smtp {

// What the server's EHLO reply announced.
struct Capabilities {
    bool pipelining = false;
    bool eight_bit_mime = false;
    bool smtputf8 = false;
    bool dsn = false;
    bool size = false;
    uint64_t size_limit = 0;  // SIZE n; 0 = no fixed limit

    // KEYWORDS are the EHLO reply lines after the first ("PIPELINING", "SIZE 10240000").
    static Capabilities parse(const std::vector<std::string> &keywords);
};

// The envelope of one transaction, as the client sends it.
struct TxEnvelope {
    std::string sender;  // "" = <>
    uint64_t size = 0;
    bool eight_bit = false;
    bool smtputf8 = false;  // header section needs SMTPUTF8 (addresses are checked here)
    std::string ret;        // "", "FULL" or "HDRS"
    std::string envid;      // decoded text; sent as xtext
};

bool is_ascii(std::string_view s);

// False for an address that would break the command line it goes in
// (CR, LF, NUL, '<' or '>'): such an address is never sent.
bool safe_address(std::string_view a);

// True when the mail transaction should carry SMTPUTF8: the server offers
// it and the sender, a recipient or the header section is not ASCII.
bool wants_smtputf8(const TxEnvelope &env, const std::vector<std::string> &rcpts,
                    const Capabilities &caps);

std::string mail_command(const TxEnvelope &env, const Capabilities &caps, bool smtputf8);

// NOTIFY is "NEVER" or a list such as "FAILURE,DELAY" ("" = not sent);
// ORIG is the recipient as the sender gave it: it becomes ORCPT when it is
// a full ASCII address.
std::string rcpt_command(std::string_view rcpt, std::string_view notify, std::string_view orig,
                         const Capabilities &caps);

class DotStuffer {
public:
    // Appends IN, dot-stuffed, to OUT.
    void put(std::string_view in, std::string &out);
    // Appends the terminating ".\r\n".
    void finish(std::string &out) const;

private:
    bool at_line_start_ = true;
};

}  // namespace relay::smtp
