// Host-name checks shared by the rule parser and the matcher: IDN to punycode, LDH syntax and the
// public suffix list. Kept apart from the grammar so the matcher can normalise names the same way.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace cgfw::policy {

// A host as written in a rule: "example.com" or "*.example.com".
struct HostPattern {
  bool wildcard = false;
  std::string name;  // lower-case ASCII; for a wildcard the parent, without "*."
};

// Why `ascii` is not a valid lower-case LDH host name, or Ok. The name has no trailing dot.
Status check_ldh_name(std::string_view ascii);

// Lower-cases, strips one trailing dot and converts Unicode to punycode (IDNA2008,
// non-transitional), then runs check_ldh_name. The name must not contain '*'.
Result<std::string> domain_to_ascii(std::string_view name);

// Parses "example.com" / "*.example.com" and refuses patterns that cover a public suffix.
Result<HostPattern> parse_host_pattern(std::string_view text);

enum class SuffixScope {
  icann,  // only the ICANN section of the public suffix list ("com", "co.uk")
  any,    // the ICANN and the private sections ("github.io", "s3.amazonaws.com")
};

// True when `ascii` (lower-case, no trailing dot) is a public suffix. The list's implicit "*" rule
// is not applied, so unknown single labels ("localhost", "corp") are not suffixes.
bool is_public_suffix(std::string_view ascii, SuffixScope scope);

}  // namespace cgfw::policy
