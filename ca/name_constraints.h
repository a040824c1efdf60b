// What the run CA may issue for: the options that bound it, their derivation from the policy, the
// host names a leaf can be minted for, and the nameConstraints extension that makes every TLS
// client enforce the same bound. See docs/ca.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/rule.h"

namespace cgfw::ca {

struct CaOptions {
  // DNS names the CA may issue for. Non-empty => the CA certificate carries a critical
  // nameConstraints extension with these as permitted DNS subtrees (RFC 5280: "example.com"
  // permits example.com and every name below it) and `permitted_ips` as permitted IP subtrees;
  // everything else is excluded by omission. Empty names AND empty ips => unconstrained.
  //
  // RFC 5280 constrains each name type only when the extension names that type, so "excluded by
  // omission" is made true explicitly: with names but no ips, every IPv4 and IPv6 address is an
  // excluded subtree; with ips but no names, the only permitted DNS subtree is "invalid" (RFC
  // 6761: never resolves), which leaves no real name permitted.
  // Names are lower-case LDH ASCII (punycode), no trailing dot; RunCa::make refuses others.
  std::vector<std::string> permitted_dns;
  std::vector<policy::IpPrefix> permitted_ips;
  // Leaves kept in the LRU cache; at least 1.
  std::size_t leaf_cache_size = 1024;
  // How long the CA (and so every leaf) is valid from the run's start; at least 1 hour.
  std::chrono::hours validity{24};
  // The time source for validity periods and cache re-checks. Empty: the system clock. Tests set
  // it to move time without sleeping.
  std::function<std::chrono::system_clock::time_point()> clock;
};

// Derives the permitted DNS names from a Policy: domain rules -> the name; wildcard rules -> the
// parent ("*.example.com" -> "example.com"); URL rules -> their host (or its parent for "*."
// hosts; IP-literal URL hosts -> permitted_ips /32 or /128). IP rules are not included: cgfw
// intercepts TLS only for URL rules, and an IP rule is reachable without interception.
// The result is sorted and minimal: a name below another listed name adds nothing (RFC 5280
// subtrees), so it is dropped. The constraints are therefore looser than the policy (a domain
// rule "example.com" permits "a.example.com" here); the proxy still decides per request, the CA
// only bounds what a leaked CA could ever be used for.
CaOptions constraints_from(const policy::Policy& policy);

// A host a leaf can be minted for, in canonical form.
struct LeafHost {
  enum class Kind { dns, ip };
  Kind kind = Kind::dns;
  std::string text;          // "example.com", "198.51.100.10", "2001:db8::10" (inet_ntop form)
  policy::IpPrefix address;  // kind == ip: the address as a /32 or /128
};

// Parses a DNS name or an IP literal into its canonical form. Names are lower-cased and lose one
// trailing dot, then must be LDH (policy::check_ldh_name: no '*', no '_', at most 253 bytes);
// IPv6 may be bracketed ("[2001:db8::10]"). The error says why the host is unusable.
Result<LeafHost> parse_leaf_host(std::string_view host);

// True when the options' name constraints permit `host`, with the RFC 5280 rules OpenSSL and
// every other verifier apply (label boundaries for names, prefixes for addresses).
bool permits(const CaOptions& options, const LeafHost& host);

// Refuses options a CA must not be made from (bad names or prefixes, a zero cache or validity).
Status check_options(const CaOptions& options);

// The nameConstraints value for X509V3_EXT_nconf_nid ("critical,permitted;DNS:example.com,..."),
// or "" when the options are unconstrained. Expects options that passed check_options.
std::string name_constraints_config(const CaOptions& options);

}  // namespace cgfw::ca
