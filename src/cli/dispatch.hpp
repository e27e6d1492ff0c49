// dispatch.hpp - choose a personality from argv[0] and run it.
//
//   sendmail, /usr/lib/sendmail, send-mail  -> the sendmail front end
//   mailq                                   -> sendmail -bp
//   newaliases                              -> sendmail -bi
//   mail, mailx                             -> the mailx front end
//   relay                                   -> sendmail flags, plus relay's
//                                              own commands and long options
// Returns the process exit status (sysexits(3)).
#pragma once

namespace relay::cli {
int dispatch(int argc, char **argv);
}
