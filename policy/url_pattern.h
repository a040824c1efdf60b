// "https://host[:port]/path[*]" rules, enforced by the TLS proxy. See docs/rules.md.
#pragma once

#include <string_view>

#include "common/result.h"
#include "policy/rule.h"

namespace cgfw::policy {

// True when the token is meant as a URL ("scheme://..."), whatever the scheme.
bool looks_like_url(std::string_view token);

// Parses and normalises a URL rule: lower-case scheme and host, punycode, the scheme's default
// port, a path with %XX of unreserved characters decoded and other escapes upper-cased.
Result<UrlPattern> parse_url_pattern(std::string_view token);

}  // namespace cgfw::policy
