// tools.hpp - the admin's view of tables and rewriting.
//
//   postmap_query    as "postmap -q KEY TYPE:NAME" and "postmap -q - TYPE:NAME"
//   postalias_query  as "postalias -q KEY TYPE:NAME" (aliases(5) format)
//   address_test     each rewrite step for one address: table, line, result
//   check_tables     opens every configured table and reports every warning
//
// Output formats follow Postfix, so that a diff against Postfix's own
// tools is empty: with one KEY, the value alone; with "-", each key read
// from IN that is found as "KEY<TAB>VALUE" ("KEY:<TAB>VALUE" for aliases);
// warnings on ERR as "PROGRAM: warning: TEXT". Exit status: 0 when a key
// was found, 1 when none was, 1 with "PROGRAM: fatal: ..." when the table
// cannot be opened (Postfix exits 1 there too).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace relay::rewrite {

int postmap_query(const std::vector<std::string> &keys_or_dash, const std::string &table_spec,
                  std::istream &in, std::ostream &out, std::ostream &err);
int postalias_query(const std::vector<std::string> &keys_or_dash, const std::string &table_spec,
                    std::istream &in, std::ostream &out, std::ostream &err);

enum class AddressRole { Sender, Recipient };

// Prints how ADDRESS is rewritten as an envelope sender or recipient by
// CFG's tables, one line per step that changed something, naming the table
// and line, then "result: <addr>" lines. Returns 0, or 1 when a table
// cannot be opened or expansion fails.
int address_test(const config::Config &cfg, const std::string &address, AddressRole role,
                 std::ostream &out, std::ostream &err);

// Opens every table the configuration names; prints each warning and
// error on ERR ("TABLE: warning text"). Returns 0 when every table opened
// without warnings, 1 with warnings only, 2 when a table cannot be opened.
int check_tables(const config::Config &cfg, std::ostream &err);

}  // namespace relay::rewrite
