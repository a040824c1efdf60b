#include "ca/name_constraints.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <optional>
#include <tuple>

#include "policy/domain_name.h"
#include "policy/ip_literal.h"

namespace cgfw::ca {
namespace {

// Stands in for "no DNS name" when only addresses are permitted: RFC 6761 reserves it, so no
// real host is below it, and unlike an empty excluded dNSName every config parser accepts it.
constexpr std::string_view kNoDnsName = "invalid";

int family_bits(int family) { return family == AF_INET ? 32 : 128; }

// RFC 5280 4.2.1.10: a dNSName constraint is satisfied by the name itself and by any name made
// by adding labels on the left, never by a mere string suffix ("badexample.com").
bool name_within(std::string_view name, std::string_view subtree) {
  if (name == subtree) return true;
  return name.size() > subtree.size() && name.ends_with(subtree) &&
         name[name.size() - subtree.size() - 1] == '.';
}

bool prefix_within(const policy::IpPrefix& inner, const policy::IpPrefix& outer) {
  if (inner.family != outer.family || inner.prefix_length < outer.prefix_length) return false;
  for (int bit = 0; bit < outer.prefix_length; ++bit) {
    const int byte = bit / 8;
    const auto mask = static_cast<std::uint8_t>(0x80 >> (bit % 8));
    if ((inner.address[byte] & mask) != (outer.address[byte] & mask)) return false;
  }
  return true;
}

// Sorted, without duplicates and without entries inside another entry: the same set of names,
// and the shortest extension that states it.
std::vector<std::string> minimal_names(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::vector<std::string> kept;
  for (const std::string& name : names) {
    const bool covered = std::any_of(names.begin(), names.end(), [&](const std::string& other) {
      return other != name && name_within(name, other);
    });
    if (!covered) kept.push_back(name);
  }
  return kept;
}

std::vector<policy::IpPrefix> minimal_prefixes(std::vector<policy::IpPrefix> prefixes) {
  std::vector<policy::IpPrefix> kept;
  for (std::size_t i = 0; i < prefixes.size(); ++i) {
    bool covered = false;
    for (std::size_t j = 0; j < prefixes.size() && !covered; ++j) {
      if (i == j) continue;
      // Of two equal prefixes the first is kept.
      covered = prefix_within(prefixes[i], prefixes[j]) && (prefixes[i] != prefixes[j] || j < i);
    }
    if (!covered) kept.push_back(prefixes[i]);
  }
  std::sort(kept.begin(), kept.end(), [](const policy::IpPrefix& a, const policy::IpPrefix& b) {
    return std::tie(a.family, a.address, a.prefix_length) <
           std::tie(b.family, b.address, b.prefix_length);
  });
  return kept;
}

// "198.51.100.0/255.255.255.0", "2001:db8::/ffff:ffff::": the address/mask form that OpenSSL's
// nameConstraints parser (a2i_IPADDRESS_NC) reads.
std::string subtree_text(const policy::IpPrefix& prefix) {
  std::array<std::uint8_t, 16> mask{};
  for (int bit = 0; bit < prefix.prefix_length; ++bit) {
    mask[bit / 8] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
  }
  return policy::format_address(prefix.family, prefix.address) + "/" +
         policy::format_address(prefix.family, mask);
}

std::string lower_ascii(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  return lower;
}

}  // namespace

CaOptions constraints_from(const policy::Policy& policy) {
  CaOptions options;
  for (const policy::Rule& rule : policy.rules) {
    if (!rule.active) continue;
    // A denied name is never intercepted (refused at the ClientHello), unless deny URL rules
    // name its host: those need the requests, so their hosts are permitted like allow URL rules'.
    if (rule.effect == policy::Effect::deny && rule.kind != policy::RuleKind::url) continue;
    switch (rule.kind) {
      case policy::RuleKind::domain:
      case policy::RuleKind::wildcard:
        // The parser stores a wildcard's parent in `domain` already.
        options.permitted_dns.push_back(rule.domain);
        break;
      case policy::RuleKind::url: {
        if (!rule.url) break;
        std::string_view host = rule.url->host;
        if (host.starts_with("*.")) host.remove_prefix(2);
        Result<LeafHost> parsed = parse_leaf_host(host);
        if (!parsed) break;  // the parser only produces valid hosts; nothing to permit otherwise
        if (parsed->kind == LeafHost::Kind::ip) {
          options.permitted_ips.push_back(parsed->address);
        } else {
          options.permitted_dns.push_back(parsed->text);
        }
        break;
      }
      case policy::RuleKind::ip:
        break;
    }
  }
  options.permitted_dns = minimal_names(std::move(options.permitted_dns));
  options.permitted_ips = minimal_prefixes(std::move(options.permitted_ips));
  return options;
}

Result<LeafHost> parse_leaf_host(std::string_view host) {
  if (host.empty()) return make_error("empty host name");
  LeafHost parsed;
  std::string_view literal = host;
  if (literal.size() >= 2 && literal.front() == '[' && literal.back() == ']') {
    literal = literal.substr(1, literal.size() - 2);
  }
  std::optional<policy::IpPrefix> address = policy::parse_ipv4(literal);
  if (!address) address = policy::parse_ipv6(literal);
  if (address) {
    parsed.kind = LeafHost::Kind::ip;
    parsed.address = *address;
    parsed.text = policy::format_address(address->family, address->address);
    return parsed;
  }
  if (literal != host) return make_error("'" + std::string(host) + "' is not an IPv6 address");
  std::string name = lower_ascii(host);
  if (name.size() > 1 && name.back() == '.') name.pop_back();
  if (Status ok = policy::check_ldh_name(name); !ok) {
    return make_error("cannot mint a certificate for '" + std::string(host) +
                      "': " + ok.error().message);
  }
  parsed.text = std::move(name);
  return parsed;
}

bool permits(const CaOptions& options, const LeafHost& host) {
  if (options.permitted_dns.empty() && options.permitted_ips.empty()) return true;
  if (host.kind == LeafHost::Kind::dns) {
    return std::any_of(options.permitted_dns.begin(), options.permitted_dns.end(),
                       [&](const std::string& subtree) { return name_within(host.text, subtree); });
  }
  return std::any_of(
      options.permitted_ips.begin(), options.permitted_ips.end(),
      [&](const policy::IpPrefix& subtree) { return prefix_within(host.address, subtree); });
}

Status check_options(const CaOptions& options) {
  for (const std::string& name : options.permitted_dns) {
    if (Status ok = policy::check_ldh_name(name); !ok) {
      return make_error("permitted DNS name '" + name + "': " + ok.error().message +
                        " (names are lower-case ASCII, no trailing dot)");
    }
  }
  for (const policy::IpPrefix& prefix : options.permitted_ips) {
    if (prefix.family != AF_INET && prefix.family != AF_INET6) {
      return make_error("a permitted IP prefix has address family " +
                        std::to_string(prefix.family) + "; only AF_INET and AF_INET6 exist");
    }
    if (prefix.prefix_length < 0 || prefix.prefix_length > family_bits(prefix.family)) {
      return make_error("permitted IP prefix length " + std::to_string(prefix.prefix_length) +
                        " is out of range for its family");
    }
    policy::IpPrefix network = prefix;
    network.prefix_length = family_bits(prefix.family);
    for (int bit = prefix.prefix_length; bit < family_bits(prefix.family); ++bit) {
      network.address[bit / 8] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
    }
    if (network.address != prefix.address) {
      return make_error("permitted IP prefix " + prefix.to_string() + " has host bits set");
    }
  }
  if (options.leaf_cache_size == 0) return make_error("the leaf cache size must be at least 1");
  if (options.validity < std::chrono::hours(1)) {
    return make_error("the CA validity must be at least 1 hour");
  }
  return Ok{};
}

std::string name_constraints_config(const CaOptions& options) {
  const std::vector<std::string> names = minimal_names(options.permitted_dns);
  const std::vector<policy::IpPrefix> prefixes = minimal_prefixes(options.permitted_ips);
  if (names.empty() && prefixes.empty()) return "";
  std::string config = "critical";
  for (const std::string& name : names) config += ",permitted;DNS:" + name;
  if (names.empty()) config += ",permitted;DNS:" + std::string(kNoDnsName);
  for (const policy::IpPrefix& prefix : prefixes) config += ",permitted;IP:" + subtree_text(prefix);
  if (prefixes.empty()) config += ",excluded;IP:0.0.0.0/0.0.0.0,excluded;IP:::/::";
  return config;
}

}  // namespace cgfw::ca
