// pipeline_tables.hpp - the tables and settings one Pipeline has loaded
// (internal to src/rewrite).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rewrite/address_lookup.hpp"
#include "rewrite/pipeline.hpp"

namespace relay::rewrite {

// Splits a Postfix table list ("hash:/a, regexp:/b inline:{x=y}") at commas
// and white space outside braces.
std::vector<std::string> split_table_list(std::string_view list);

struct Pipeline::Tables {
    explicit Tables(const config::Config &cfg);

    AddressContext ctx;
    TableList canonical, sender_canonical, recipient_canonical, virtual_alias, aliases;
    std::vector<std::string> warnings;
    bool canon_env_from = false, canon_env_rcpt = false, canon_hdr_from = false, canon_hdr_rcpt = false;
    bool masq_env_from = false, masq_env_rcpt = false, masq_hdr_from = false, masq_hdr_rcpt = false;
    bool prop_canonical = false, prop_virtual = false, prop_alias = false;
    std::vector<std::string> masq_domains;     // lower case, "!" kept
    std::vector<std::string> masq_exceptions;  // lower case user names
};

}  // namespace relay::rewrite
