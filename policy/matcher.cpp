#include "policy/matcher.h"

#include <netinet/in.h>

#include <algorithm>

#include "policy/domain_name.h"
#include "policy/ip_literal.h"

namespace cgfw::policy {
namespace {

int family_bits(int family) { return family == AF_INET ? 32 : 128; }

bool prefix_contains(const IpPrefix& prefix, const std::array<std::uint8_t, 16>& address) {
  const int bits = std::min(prefix.prefix_length, family_bits(prefix.family));
  const int whole_bytes = bits / 8;
  if (!std::equal(prefix.address.begin(), prefix.address.begin() + whole_bytes, address.begin())) {
    return false;
  }
  const int rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff00 >> rest);
  return (prefix.address[whole_bytes] & mask) == (address[whole_bytes] & mask);
}

}  // namespace

std::string normalize_domain(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  if (!check_ldh_name(lower)) return "";
  return lower;
}

namespace {

bool name_matches(const Rule& rule, std::string_view name) {
  if (rule.kind == RuleKind::domain) return name == rule.domain;
  // Compare the suffix together with its leading dot, so the parent must begin at a label
  // boundary ("evilexample.com" is not below "example.com") and must not be the whole name.
  return rule.kind == RuleKind::wildcard && name.size() > rule.domain.size() + 1 &&
         name.ends_with(rule.domain) && name[name.size() - rule.domain.size() - 1] == '.';
}

bool url_host_matches(const Rule& rule, std::string_view name) {
  if (rule.kind != RuleKind::url || !rule.url) return false;
  std::string_view host = rule.url->host;
  if (host == name) return true;
  if (!host.starts_with("*.")) return false;
  std::string_view parent = host.substr(2);
  return name.size() > parent.size() + 1 && name.ends_with(parent) &&
         name[name.size() - parent.size() - 1] == '.';
}

}  // namespace

const Rule* match_domain(const Policy& policy, std::string_view name) {
  if (name.empty()) return nullptr;
  for (const Rule& rule : policy.rules) {
    if (in_force(rule, Effect::allow) && name_matches(rule, name)) return &rule;
  }
  return nullptr;
}

const Rule* denied_name(const Policy& policy, std::string_view name) {
  if (name.empty()) return nullptr;
  for (const Rule& rule : policy.rules) {
    if (in_force(rule, Effect::deny) && name_matches(rule, name)) return &rule;
  }
  return nullptr;
}

std::string denial_reason(const Rule& deny) {
  return "denied by the deny rule '" + deny.text + "' (" + deny.where.to_string() + ")";
}

const Rule* match_url_host(const Policy& policy, std::string_view name) {
  if (name.empty()) return nullptr;
  for (const Rule& rule : policy.rules) {
    if (in_force(rule, Effect::allow) && url_host_matches(rule, name)) return &rule;
  }
  return nullptr;
}

std::vector<const Rule*> rules_for_name(const Policy& policy, std::string_view name) {
  std::vector<const Rule*> found;
  if (name.empty()) return found;
  for (const Rule& rule : policy.rules) {
    if (in_force(rule, Effect::allow) && (name_matches(rule, name) || url_host_matches(rule, name)))
      found.push_back(&rule);
  }
  return found;
}

bool denies_port(const Rule& rule, std::uint16_t port, Transport transport) {
  // Listed ports mean the same for both effects; only "no ports" differs (TCP and UDP here).
  return rule.ports.empty() || allows_port(rule, port, transport);
}

bool allows_port(const Rule& rule, std::uint16_t port, Transport transport) {
  if (rule.ports.empty()) return transport == Transport::tcp;
  return std::any_of(rule.ports.begin(), rule.ports.end(), [&](const PortRange& range) {
    return range.transport == transport && range.first <= port && port <= range.last;
  });
}

namespace {

const Rule* match_ip_rule(const Policy& policy, Effect effect, int family,
                          const std::array<std::uint8_t, 16>& address, std::uint16_t port,
                          Transport transport) {
  // A dual-stack socket reaches an IPv4 host through ::ffff:a.b.c.d; the parser stores such rules
  // as IPv4, so the address is folded the same way before comparing.
  IpPrefix host;
  host.family = family;
  host.address = address;
  host.prefix_length = family_bits(family);
  if (family != AF_INET && family != AF_INET6) return nullptr;
  host = fold_ipv4_mapped(host);
  if (host.family == AF_INET) std::fill(host.address.begin() + 4, host.address.end(), 0);
  for (const Rule& rule : policy.rules) {
    if (!in_force(rule, effect) || rule.kind != RuleKind::ip || !rule.prefix ||
        rule.prefix->family != host.family)
      continue;
    const bool port_matches = effect == Effect::deny ? denies_port(rule, port, transport)
                                                     : allows_port(rule, port, transport);
    if (prefix_contains(*rule.prefix, host.address) && port_matches) return &rule;
  }
  return nullptr;
}

}  // namespace

const Rule* match_ip(const Policy& policy, int family, const std::array<std::uint8_t, 16>& address,
                     std::uint16_t port, Transport transport) {
  return match_ip_rule(policy, Effect::allow, family, address, port, transport);
}

const Rule* denied_ip(const Policy& policy, int family, const std::array<std::uint8_t, 16>& address,
                      std::uint16_t port, Transport transport) {
  return match_ip_rule(policy, Effect::deny, family, address, port, transport);
}

std::string suggest_ip_rule(int family, const std::array<std::uint8_t, 16>& address,
                            std::uint16_t port, Transport transport) {
  IpPrefix host;
  host.family = family;
  host.address = address;
  host.prefix_length = family_bits(family);
  host = fold_ipv4_mapped(host);
  const std::string text = format_address(host.family, host.address);
  if (text.empty()) return "";
  std::string rule = host.family == AF_INET6 ? "[" + text + "]" : text;
  rule += ":" + std::to_string(port);
  if (transport == Transport::udp) rule += "/udp";
  return rule;
}

}  // namespace cgfw::policy
