// Deciding on one HTTP request head against the policy: the request-level refusals (forms,
// Host, framing headers, upgrades), path normalisation and URL rules. See docs/http.md
// "HTTP request checks" for every rule and why.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policy/rule.h"
#include "proxy/http/request_stream.h"

namespace cgfw::http {

struct RequestDecision {
  bool allowed = false;
  std::string reason;  // why refused, in words ("" when allowed)
  std::string host;    // lower-case, no port; IPv6 in brackets ("[2001:db8::1]")
  std::string path;    // normalized (as sent when it could not be normalized)
  std::string url;     // scheme://host[:port]path[?query], port only when not the default
  const policy::Rule* rule = nullptr;  // the URL, domain, wildcard or ip rule that allowed it
};

// Checks one request head. `scheme` is "https" (after interception; `tls_name` is the SNI the
// client sent) or "http" (plain; `tls_name` empty, the Host header names the host). `port` is
// the destination port. Whether the destination address belongs to the host is the proxy's
// question, not this one's.
RequestDecision check_request(const policy::Policy& policy, const RequestHead& head,
                              std::string_view scheme, std::string_view tls_name,
                              std::uint16_t port);

// True if an active allow URL rule of this scheme and port names `host` (exactly, or by a "*."
// wildcard host), so the proxy must see the requests (intercept TLS) to enforce it. `host` as in
// RequestDecision::host (lower-case, no trailing dot).
bool host_has_url_rules(const policy::Policy& policy, std::string_view host,
                        std::string_view scheme, std::uint16_t port);

// True if an active deny URL rule of this scheme and port names `host`: the proxy must see the
// requests to refuse the denied paths.
bool host_has_deny_url_rules(const policy::Policy& policy, std::string_view host,
                             std::string_view scheme, std::uint16_t port);

// The deny rules' reading of a pattern: as path_matches, but case-insensitive, a prefix pattern
// "/x/*" covering "/x" itself, and "/x.git" standing for "/x" (git's spelling of a repository).
bool deny_path_matches(const policy::UrlPattern& pattern, std::string_view path);

// Normalizes the path (the part before '?') of an origin-form target: %XX of unreserved
// characters decoded, other escapes upper-cased, "." and ".." resolved, "//" collapsed. Returns
// nullopt and, if `why` is given, the reason for anything servers could read in more than one
// way: encoded '/', '\' or NUL, "%25XX" double encoding, dot segments written with %2E, ".."
// above the root, ';' (raw or %3B) path parameters, raw bytes outside RFC 3986 pchar,
// malformed '%'.
std::optional<std::string> normalize_path(std::string_view path, std::string* why);

// True when a URL rule's path pattern matches a normalized request path: equal, or for a prefix
// pattern ("/org/*" stored as "/org/", "/org*" as "/org") a continuation at a '/' boundary.
bool path_matches(const policy::UrlPattern& pattern, std::string_view path);

}  // namespace cgfw::http
