#include "runner/ip_allow_table.h"

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <string>
#include <tuple>

namespace cgfw::runner {
namespace {

// A prefix with the bits past `length` cleared: the key under which a rule's prefix is found.
policy::IpPrefix truncated(const policy::IpPrefix& prefix, int length) {
  policy::IpPrefix out = prefix;
  out.prefix_length = length;
  for (int bit = length; bit < 128; ++bit)
    out.address[bit / 8] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
  return out;
}

using PrefixKey = std::tuple<int, int, std::array<std::uint8_t, 16>>;
PrefixKey key_of(const policy::IpPrefix& prefix) {
  return {prefix.family, prefix.prefix_length, prefix.address};
}

std::vector<cgfw_port_range> ranges_of(const policy::Rule& rule) {
  std::vector<cgfw_port_range> ranges;
  if (rule.ports.empty()) {
    ranges.push_back({0, 65535, CGFW_TRANSPORT_TCP, {}, rule.id});
    // A deny rule without ports shuts the destination on UDP too (policy::denies_port).
    if (rule.effect == policy::Effect::deny)
      ranges.push_back({0, 65535, CGFW_TRANSPORT_UDP, {}, rule.id});
    return ranges;
  }
  for (const auto& port : rule.ports) {
    auto transport =
        port.transport == policy::Transport::udp ? CGFW_TRANSPORT_UDP : CGFW_TRANSPORT_TCP;
    ranges.push_back({port.first, port.last, static_cast<__u8>(transport), {}, rule.id});
  }
  return ranges;
}

}  // namespace

// Every distinct prefix of the IP rules, with the port ranges of every rule whose prefix covers
// it (an LPM lookup returns only the longest match, so each entry carries its covering rules'
// ranges too), in rule order. The rules covering a prefix are found by looking its truncations
// (33 lengths for IPv4, 129 for IPv6) up in an index, so 100k rules take well under a second.
Result<std::vector<IpAllowEntry>> build_ip_table(const policy::Policy& policy,
                                                 policy::Effect effect) {
  std::vector<const policy::Rule*> ip_rules;
  std::map<PrefixKey, std::vector<const policy::Rule*>> by_prefix;
  for (const auto& rule : policy.rules) {
    if (!policy::in_force(rule, effect) || rule.kind != policy::RuleKind::ip || !rule.prefix)
      continue;
    ip_rules.push_back(&rule);
    by_prefix[key_of(truncated(*rule.prefix, rule.prefix->prefix_length))].push_back(&rule);
  }

  std::vector<IpAllowEntry> table;
  std::set<PrefixKey> done;
  for (const auto* rule : ip_rules) {
    const auto& prefix = *rule->prefix;
    if (!done.insert(key_of(prefix)).second) continue;

    std::vector<const policy::Rule*> covering;
    for (int length = 0; length <= prefix.prefix_length; ++length) {
      auto found = by_prefix.find(key_of(truncated(prefix, length)));
      if (found != by_prefix.end())
        covering.insert(covering.end(), found->second.begin(), found->second.end());
    }
    // Rule order: the first matching range names the rule reported.
    std::sort(covering.begin(), covering.end(),
              [](const policy::Rule* a, const policy::Rule* b) { return a->id < b->id; });

    IpAllowEntry entry;
    entry.prefix = prefix;
    std::string contributors;
    for (const auto* other : covering) {
      contributors +=
          (contributors.empty() ? "" : ", ") + other->where.to_string() + " '" + other->text + "'";
      for (const auto& range : ranges_of(*other)) {
        auto* end = entry.ports.ranges + entry.ports.count;
        bool duplicate = std::any_of(entry.ports.ranges, end, [&](const cgfw_port_range& r) {
          return r.first == range.first && r.last == range.last && r.transport == range.transport;
        });
        if (duplicate) continue;
        if (entry.ports.count == CGFW_MAX_PORT_RANGES) {
          return make_error("the address " + prefix.to_string() + " is covered by more than " +
                            std::to_string(CGFW_MAX_PORT_RANGES) + " port ranges (rules: " +
                            contributors + "); merge them into fewer ranges such as :8000-8100");
        }
        entry.ports.ranges[entry.ports.count++] = range;
      }
    }
    table.push_back(entry);
  }
  return table;
}

Result<std::vector<IpAllowEntry>> build_ip_allow_table(const policy::Policy& policy) {
  return build_ip_table(policy, policy::Effect::allow);
}

}  // namespace cgfw::runner
