// Addresses learned from DNS answers for allowed names: kept for max(TTL, a minimum lifetime),
// written to the kernel allow map before the answer is released, removed when they expire.
// Connections opened while an address was allowed survive its expiry (the kernel remembers the
// allowed destination per socket).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "bpf/cgfw_shared.h"
#include "common/result.h"
#include "policy/rule.h"

namespace cgfw::dns {

using Address = std::array<std::uint8_t, 16>;  // network byte order; IPv4 in the first 4 bytes

// The kernel side of the table (the runner implements it over its learned maps).
class KernelAllowMap {
 public:
  virtual ~KernelAllowMap() = default;
  virtual Status put(int family, const Address& address, const cgfw_port_set& ports) = 0;
  virtual void remove(int family, const Address& address) = 0;
};

// The documented minimum: clients cache answers themselves (often for minutes, whatever the
// TTL), and an address that vanished from the map under a cached answer would be a baffling
// failure. A CI job is short; ten minutes covers its caches.
inline constexpr std::chrono::seconds kMinimumLifetime{600};

class LearnedTable {
 public:
  using Clock = std::chrono::steady_clock;
  LearnedTable(KernelAllowMap& kernel, std::chrono::seconds minimum_lifetime = kMinimumLifetime)
      : kernel_(kernel), minimum_(minimum_lifetime) {}

  // Allows `address` with `rule`'s ports until now + max(ttl, minimum). Fails (and changes
  // nothing) when the kernel map is full or the address would need too many port ranges.
  // `via`: the CNAME targets the answer went through (a deny rule added later for one of them
  // takes the address away too).
  Status learn(int family, const Address& address, const policy::Rule& rule, std::uint32_t ttl,
               const std::string& name, Clock::time_point now,
               const std::vector<std::string>& via = {});

  // After the rules changed at run time: every address gets the ports of the rules in force for
  // the names it was learned for (a denied name counts for nothing); one left with none leaves
  // the kernel map at once. A kernel write that fails removes the address (fail closed).
  // Returns how many addresses were removed.
  std::size_t reconcile(const policy::Policy& policy);

  // Forgets every address whose time has passed. Returns how many.
  std::size_t expire(Clock::time_point now);

  // The name an address was last learned for.
  std::optional<std::string> name_of(int family, const Address& address) const;
  // True if `address` is currently allowed because `name` resolved to it (the web proxy's check
  // against domain fronting: the SNI/Host must be a name this address was resolved for).
  bool resolved_for(int family, const Address& address, const std::string& name) const;
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    cgfw_port_set ports{};
    Clock::time_point expires;
    std::string name;             // the latest
    std::set<std::string> names;  // every name that resolved to it (bounded: kMaxBindings)
    std::set<std::string> via;    // CNAME targets on the way to it (bounded with the names)
  };
  KernelAllowMap& kernel_;
  std::chrono::seconds minimum_;
  std::map<std::pair<int, Address>, Entry> entries_;
  std::size_t bindings_ = 0;  // names over all entries
};

// True for addresses DNS must never open on its own: loopback, link-local, private (RFC 1918,
// ULA), carrier-grade NAT, unspecified, multicast, and the cloud metadata services
// (169.254.169.254, 168.63.129.16, fd00:ec2::254). An explicit IP rule can still allow them.
bool is_internal_address(int family, const Address& address);

}  // namespace cgfw::dns
