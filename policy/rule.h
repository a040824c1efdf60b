// The allow-rule model shared by the parser, the kernel map loader, the proxies and the reports.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace cgfw::policy {

enum class Transport : std::uint8_t { tcp = 1, udp = 2 };

// An inclusive port range on one transport: ":443" is {443, 443, tcp}.
struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  Transport transport = Transport::tcp;
  bool operator==(const PortRange&) const = default;
};

// Where a rule was written: "egress.txt:3:5", or "--allow #2:1:1" for a command-line rule.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  std::string to_string() const;
  bool operator==(const SourceLocation&) const = default;
};

struct IpPrefix {
  int family = 0;                          // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> address{};  // network byte order; IPv4 uses the first 4 bytes
  int prefix_length = 0;                   // 0..32 or 0..128
  bool operator==(const IpPrefix&) const = default;
  std::string to_string() const;  // "198.51.100.0/24", "2001:db8::1/128"
};

enum class RuleKind : std::uint8_t {
  domain,    // "example.com": exactly that name
  wildcard,  // "*.example.com": any name strictly below it
  ip,        // "198.51.100.7", "198.51.100.0/24", "[2001:db8::1]", "2001:db8::/32"
  url,       // "https://host[:port]/path[*]"
};

struct UrlPattern {
  std::string scheme;      // "http" or "https"
  std::string host;        // lower-case ASCII (punycode); may start with "*." for a wildcard host
  std::uint16_t port = 0;  // explicit or the scheme's default
  std::string path;        // starts with '/', without the trailing '*'
  bool path_is_prefix = false;  // the rule ended in '*': matches at a '/' boundary
};

// What a matching rule does. Deny wins: a destination any active deny rule matches is refused
// whatever the allow rules say (docs/rules.md "Deny rules").
enum class Effect : std::uint8_t { allow, deny };

struct Rule {
  RuleKind kind = RuleKind::domain;
  Effect effect = Effect::allow;
  bool active = true;  // false once removed at run time (`cgfw ctl allow remove`): kept, so the
                       // ids the kernel and the reports hold keep naming it
  std::string text;    // the token exactly as written
  SourceLocation where;
  std::string domain;  // domain: the name; wildcard: the parent (no "*."); lower-case ASCII
  std::optional<IpPrefix> prefix;  // kind == ip
  std::optional<UrlPattern> url;   // kind == url
  std::vector<PortRange> ports;    // empty: every TCP port (not UDP)
  std::uint32_t id = 0;            // index in Policy::rules; the kernel reports it back
};

struct Policy {
  // A deque: rules are added while the proxies hold pointers to earlier ones, which must stay
  // valid (a vector would move them). Never erased, only deactivated.
  std::deque<Rule> rules;
  std::vector<std::string> sources;  // "egress.txt", "--allow"
  // Only deny rules were given: everything they do not deny passes (TCP and UDP).
  bool default_allow = false;
  // Pass what would be refused, and record it as "would block". Changeable at run time.
  bool audit = false;
  bool empty() const { return rules.empty(); }
};

// The rule is in force and does `effect`.
inline bool in_force(const Rule& rule, Effect effect) {
  return rule.active && rule.effect == effect;
}

}  // namespace cgfw::policy
