#include "proxy/dns/learned_table.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "policy/matcher.h"

namespace cgfw::dns {
namespace {

// Name-to-address bindings the table keeps in all (about 100 bytes each). Bounded for the whole
// table rather than per address: one CDN address may serve thousands of names a build asks for
// (a bound of 256 per address refused the 257th name as domain fronting).
constexpr std::size_t kMaxBindings = 1 << 20;

void add_rule_ranges(cgfw_port_set& set, const policy::Rule& rule, bool& overflow) {
  std::vector<cgfw_port_range> ranges;
  if (rule.ports.empty()) {
    ranges.push_back({0, 65535, CGFW_TRANSPORT_TCP, {}, rule.id});
  } else {
    for (const auto& port : rule.ports)
      ranges.push_back(
          {port.first,
           port.last,
           static_cast<__u8>(port.transport == policy::Transport::udp ? CGFW_TRANSPORT_UDP
                                                                      : CGFW_TRANSPORT_TCP),
           {},
           rule.id});
  }
  for (const auto& range : ranges) {
    auto* end = set.ranges + set.count;
    if (std::any_of(set.ranges, end, [&](const cgfw_port_range& r) {
          return r.first == range.first && r.last == range.last && r.transport == range.transport;
        }))
      continue;
    if (set.count == CGFW_MAX_PORT_RANGES) {
      overflow = true;
      return;
    }
    set.ranges[set.count++] = range;
  }
}

}  // namespace

Status LearnedTable::learn(int family, const Address& address, const policy::Rule& rule,
                           std::uint32_t ttl, const std::string& name, Clock::time_point now,
                           const std::vector<std::string>& via) {
  auto key = std::make_pair(family, address);
  auto found = entries_.find(key);
  // The entry is updated in place: copying it would copy every name bound to the address, on
  // every answer (quadratic in the names of one CDN address).
  cgfw_port_set ports = found != entries_.end() ? found->second.ports : cgfw_port_set{};
  bool overflow = false;
  add_rule_ranges(ports, rule, overflow);
  if (overflow)
    return make_error("the address of " + name + " is allowed by more than " +
                      std::to_string(CGFW_MAX_PORT_RANGES) + " port ranges");
  if (auto put = kernel_.put(family, address, ports); !put) return put;
  Entry& entry = found != entries_.end() ? found->second : entries_[key];
  entry.ports = ports;
  auto lifetime = std::max<std::chrono::seconds>(std::chrono::seconds(ttl), minimum_);
  entry.expires = std::max(entry.expires, now + lifetime);
  entry.name = name;
  // Past the bound the oldest are not forgotten, the newest are simply not added (a name missing
  // here only makes the web proxy stricter, never looser).
  if (bindings_ < kMaxBindings && entry.names.insert(name).second) ++bindings_;
  for (const auto& target : via)
    if (bindings_ < kMaxBindings && entry.via.insert(target).second) ++bindings_;
  return Ok{};
}

std::size_t LearnedTable::reconcile(const policy::Policy& policy) {
  std::size_t removed = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& entry = it->second;
    cgfw_port_set ports{};
    bool overflow = false;
    bool through_denied = false;
    for (const std::string& target : entry.via)
      through_denied = through_denied || policy::denied_name(policy, target) != nullptr;
    for (const std::string& name : entry.names) {
      if (through_denied) break;
      if (policy::denied_name(policy, name)) continue;
      for (const policy::Rule* rule : policy::rules_for_name(policy, name))
        add_rule_ranges(ports, *rule, overflow);
    }
    const bool unchanged = std::memcmp(&ports, &entry.ports, sizeof(ports)) == 0;
    if (ports.count > 0 && !overflow &&
        (unchanged || kernel_.put(it->first.first, it->first.second, ports))) {
      entry.ports = ports;
      ++it;
      continue;
    }
    kernel_.remove(it->first.first, it->first.second);
    bindings_ -= entry.names.size() + entry.via.size();
    it = entries_.erase(it);
    ++removed;
  }
  return removed;
}

std::size_t LearnedTable::expire(Clock::time_point now) {
  std::size_t removed = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.expires > now) {
      ++it;
      continue;
    }
    kernel_.remove(it->first.first, it->first.second);
    bindings_ -= it->second.names.size() + it->second.via.size();
    it = entries_.erase(it);
    ++removed;
  }
  return removed;
}

std::optional<std::string> LearnedTable::name_of(int family, const Address& address) const {
  auto found = entries_.find(std::make_pair(family, address));
  if (found == entries_.end()) return std::nullopt;
  return found->second.name;
}

bool LearnedTable::resolved_for(int family, const Address& address, const std::string& name) const {
  auto found = entries_.find(std::make_pair(family, address));
  return found != entries_.end() && found->second.names.count(name) > 0;
}

bool is_internal_address(int family, const Address& a) {
  if (family == AF_INET) {
    if (a[0] == 0 || a[0] == 10 || a[0] == 127) return true;  // this, private, loopback
    if (a[0] == 169 && a[1] == 254) return true;              // link-local, metadata
    if (a[0] == 172 && (a[1] & 0xf0) == 16) return true;      // 172.16/12
    if (a[0] == 192 && a[1] == 168) return true;              // 192.168/16
    if (a[0] == 100 && (a[1] & 0xc0) == 64) return true;      // CGNAT 100.64/10
    if (a[0] == 168 && a[1] == 63 && a[2] == 129 && a[3] == 16) return true;  // Azure wireserver
    if (a[0] >= 224) return true;                                             // multicast, reserved
    return false;
  }
  bool zero_prefix = std::all_of(a.begin(), a.begin() + 10, [](std::uint8_t b) { return b == 0; });
  if (zero_prefix && a[10] == 0xff && a[11] == 0xff) {  // IPv4-mapped
    Address v4{};
    std::copy(a.begin() + 12, a.end(), v4.begin());
    return is_internal_address(AF_INET, v4);
  }
  if (std::all_of(a.begin(), a.begin() + 15, [](std::uint8_t b) { return b == 0; }))
    return true;                                           // :: and ::1
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return true;  // fe80::/10
  if ((a[0] & 0xfe) == 0xfc) return true;                  // fc00::/7 (incl. fd00:ec2::254)
  if (a[0] == 0xff) return true;                           // multicast
  return false;
}

}  // namespace cgfw::dns
