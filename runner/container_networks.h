// Containers' network namespaces. A container's processes are policed by the programs on its
// cgroup (inherited from the sandbox's cgroup, or from a followed runtime cgroup: see
// docs/containers.md), but from its own network namespace 127.0.0.1 is not cgfw's: its DNS and
// web traffic can reach the proxies only at its gateway, an address of cgfw's own namespace
// (a bridge's or a veth's). Until its namespace is admitted, the kernel refuses that traffic
// (CGFW_REASON_NETNS): nothing is ever sent where no proxy judges it.
//
// Admitting a namespace: find its IPv4 default gateway, make both proxies listen on that address
// too (never a wildcard address), then tell the kernel (the netns_proxies map).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/result.h"

namespace cgfw::runner {

class DataPlane;

// SO_NETNS_COOKIE of the calling thread's network namespace.
Result<std::uint64_t> current_netns_cookie();
// SO_NETNS_COOKIE of the network namespace `pid` is in (read from a short-lived thread that
// joins it: cgfw itself never leaves its own namespace).
Result<std::uint64_t> netns_cookie_of(int pid);

// True when `pid` is in another network namespace than cgfw (two stats, no thread): the cheap
// test before netns_cookie_of().
bool in_other_netns(int pid);

// The IPv4 default route's gateway in a /proc/PID/net/route text; nullopt when there is none.
std::optional<std::array<std::uint8_t, 4>> default_gateway_v4(std::string_view route_table);

class ContainerNetworks {
 public:
  // Makes the proxies listen on one more address (DNS on UDP and TCP, web on TCP; the same
  // ports as on loopback). Called once per distinct gateway.
  using Listen = std::function<Status(const std::string& address)>;
  ContainerNetworks(DataPlane& plane, std::uint64_t home_netns, Listen listen,
                    std::string proc_root = "/proc")
      : plane_(plane),
        home_netns_(home_netns),
        listen_(std::move(listen)),
        proc_root_(std::move(proc_root)) {}

  struct Admitted {
    std::uint64_t netns = 0;
    std::string gateway;  // "" for cgfw's own namespace (nothing to do)
    bool newly = false;   // false: admitted before, or cgfw's own namespace
  };
  // Admits the network namespace `pid` is in. Idempotent per namespace; an error says why it
  // cannot be (no default route, a gateway that is not an address of this host, ...).
  Result<Admitted> admit(int pid);

  std::size_t admitted() const { return admitted_.size(); }

 private:
  DataPlane& plane_;
  std::uint64_t home_netns_;
  Listen listen_;
  std::string proc_root_;
  std::map<std::uint64_t, std::string> admitted_;  // netns cookie -> gateway
  std::set<std::string> listening_;                // gateways the proxies listen on
};

}  // namespace cgfw::runner
