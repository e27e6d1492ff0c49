// oauth2.hpp - an OAuth2 access token for XOAUTH2, fetched and cached.
//
// With [smtp] oauth2_token_endpoint set, relay gets its access token
// itself (RFC 6749) instead of running oauth2_token_command:
//
//   refresh token grant   when oauth2_refresh_token_file is set
//                         (grant_type=refresh_token), the usual case for
//                         Gmail/Microsoft 365 mailboxes;
//   client credentials    otherwise (grant_type=client_credentials).
//
// The request is an HTTPS POST (https:// only) with client_id, the
// client secret from oauth2_client_secret_file (optional for public
// clients) and oauth2_scope when set; the server's CA is verified against
// the system store or oauth2_ca_file. The answer's access_token is cached
// with its expiry in SPOOL/oauth2.token (mode 0600, replaced atomically),
// and reused until 60 seconds before it expires, so a flush does not ask
// for a new token every run. When the server rotates the refresh token,
// the new one replaces oauth2_refresh_token_file (atomically, 0600).
//
// Every secret file goes through the same ownership/mode check as
// password_file. Errors name the endpoint and the OAuth2 "error" field
// ("invalid_grant"), never a token or secret.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "smtp/credentials.hpp"
#include "util/result.hpp"

namespace relay::smtp {

// The access token to use now (from the cache or the endpoint).
Result<Secret> oauth2_access_token(const config::Config &cfg);

// Forgets the cached token (after the smarthost refused it).
void oauth2_forget_token(const config::Config &cfg);

// The value of top-level field KEY in a JSON object (strings unescaped,
// numbers as written); false when absent. Enough for token responses.
bool json_field(std::string_view json, std::string_view key, std::string &out);

}  // namespace relay::smtp
