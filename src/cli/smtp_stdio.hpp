// smtp_stdio.hpp - `sendmail -bs`: an SMTP dialogue on stdin and stdout.
//
// Symfony Mailer, SwiftMailer and Alpine speak SMTP to `sendmail -bs`
// instead of piping a message. Each message accepted in the dialogue is
// written to maildrop/ exactly as a piped one (same checks, same file, same
// durability), and "250 2.0.0 Ok: queued as ID" is sent only after that.
// Supported: EHLO/HELO, MAIL (SIZE, BODY, RET, ENVID, SMTPUTF8), RCPT
// (NOTIFY, ORCPT), DATA (dot-unstuffing), RSET, NOOP, VRFY (252), HELP,
// QUIT; PIPELINING is honoured because replies are written in order. There
// is no AUTH or STARTTLS: the peer is a local process.
#pragma once

#include <string>

#include "config/config.hpp"

namespace relay::cli {

// Runs the dialogue on fds IN and OUT; returns the exit status (0 unless
// the input broke down mid-message).
int smtp_stdio_session(const config::Config &cfg, const std::string &config_path, int in, int out);

}  // namespace relay::cli
