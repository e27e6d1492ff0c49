// idna.hpp - a domain name in its ASCII form, for servers without SMTPUTF8.
//
// "bob@bücher.example" can still be sent to a server that does not offer
// SMTPUTF8 as "bob@xn--bcher-kva.example": the domain part has an ASCII
// form (A-labels, IDNA2008 with UTS #46 non-transitional processing, then
// transitional for what that refuses; libcurl does the same), the local
// part has none. Postfix's smtp(8) converts domains in this way too.
//
// libidn2 does the conversion. It is loaded at run time, on first use, as
// libcurl is (curl_api.hpp): the sendmail path never maps it, and libcurl
// depends on it, so it is there wherever relay delivers.
//
// Errors: a value ("cannot load libidn2.so.0: ...", "not a valid
// internationalized domain name"); the caller then bounces the address
// as Postfix does ("SMTPUTF8 is required, but was not offered").
#pragma once

#include <string>
#include <string_view>

#include "util/result.hpp"

namespace relay::smtp {

// DOMAIN (UTF-8) as A-labels; an ASCII domain comes back unchanged.
Result<std::string> domain_to_ascii(std::string_view domain);

// ADDRESS with its domain as A-labels, when only the domain is not ASCII.
Result<std::string> address_to_ascii(std::string_view address);

}  // namespace relay::smtp
