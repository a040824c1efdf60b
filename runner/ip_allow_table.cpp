#include "runner/ip_allow_table.h"

#include <netinet/in.h>

#include <algorithm>
#include <string>

namespace cgfw::runner {
namespace {

bool covers(const policy::IpPrefix& outer, const policy::IpPrefix& inner) {
  if (outer.family != inner.family || outer.prefix_length > inner.prefix_length) return false;
  int full_bytes = outer.prefix_length / 8;
  int rest_bits = outer.prefix_length % 8;
  if (!std::equal(outer.address.begin(), outer.address.begin() + full_bytes, inner.address.begin()))
    return false;
  if (rest_bits == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest_bits));
  return (outer.address[full_bytes] & mask) == (inner.address[full_bytes] & mask);
}

std::vector<cgfw_port_range> ranges_of(const policy::Rule& rule) {
  std::vector<cgfw_port_range> ranges;
  if (rule.ports.empty()) {
    ranges.push_back({0, 65535, CGFW_TRANSPORT_TCP, {}, rule.id});
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

Result<std::vector<IpAllowEntry>> build_ip_allow_table(const policy::Policy& policy) {
  std::vector<const policy::Rule*> ip_rules;
  for (const auto& rule : policy.rules)
    if (rule.kind == policy::RuleKind::ip && rule.prefix) ip_rules.push_back(&rule);

  std::vector<IpAllowEntry> table;
  for (const auto* rule : ip_rules) {
    const auto& prefix = *rule->prefix;
    bool seen = std::any_of(table.begin(), table.end(),
                            [&](const IpAllowEntry& e) { return e.prefix == prefix; });
    if (seen) continue;

    IpAllowEntry entry;
    entry.prefix = prefix;
    std::string contributors;
    for (const auto* other : ip_rules) {
      if (!covers(*other->prefix, prefix)) continue;
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

}  // namespace cgfw::runner
