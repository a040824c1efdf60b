// The kernel data plane of one run: the loaded skeleton, its maps, and its cgroup links.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bpf/cgfw_shared.h"
#include "common/result.h"
#include "proxy/dns/learned_table.h"
#include "runner/ip_allow_table.h"

struct cgfw_bpf;
struct bpf_link;
struct bpf_map;
struct ring_buffer;

namespace cgfw::runner {

struct DataPlaneConfig {
  bool audit_mode = false;     // the starting mode (set_mode() changes it)
  bool default_allow = false;  // what no rule covers passes (deny rules only)
  bool police_loopback = false;
  std::size_t ip_entries = 0;    // entries of the allow tries at start (room is left for more)
  std::size_t deny_entries = 0;  // entries of the deny tries at start
  std::uint16_t dns_port4 = 0;   // the DNS proxy on 127.0.0.1; 0: DNS is not redirected
  std::uint16_t dns_port6 = 0;   // the DNS proxy on [::1]
  std::uint16_t web_port4 = 0;   // the web proxy on 127.0.0.1; 0: HTTP/TLS ports go direct
  std::uint16_t web_port6 = 0;
  // Addresses the DNS proxy may learn, per family; past it, answers fail (SERVFAIL).
  std::uint32_t learned_entries = 65536;
  // Refuse opening TUN/TAP devices (cgroup/dev). Off only with --allow-privileged.
  bool police_devices = true;
  // Entries of the preallocated per-flow LRU maps (proxy clients, reported flows, original
  // destinations, client sockets). A pinned export, with no proxy and no reader, needs few.
  std::uint32_t flow_entries = 65536;
  // SO_NETNS_COOKIE of cgfw's own network namespace: sockets in any other one (containers)
  // reach the proxies only through set_netns_proxy(). 0: namespaces are not told apart.
  std::uint64_t home_netns = 0;
  // The level of a guarded slice's children (--containers-slice); 0: no slice guard.
  std::uint32_t slice_child_level = 0;
};

// The programs' links on one cgroup: they leave it when this goes.
class CgroupLinks {
 public:
  CgroupLinks() = default;
  explicit CgroupLinks(std::vector<bpf_link*> links) : links_(std::move(links)) {}
  ~CgroupLinks() { reset(); }
  CgroupLinks(CgroupLinks&& other) noexcept : links_(std::move(other.links_)) {
    other.links_.clear();
  }
  CgroupLinks& operator=(CgroupLinks&& other) noexcept;
  CgroupLinks(const CgroupLinks&) = delete;
  CgroupLinks& operator=(const CgroupLinks&) = delete;
  void reset();
  // The links, no longer destroyed by this.
  std::vector<bpf_link*> release() && {
    auto links = std::move(links_);
    links_.clear();
    return links;
  }

 private:
  std::vector<bpf_link*> links_;
};

using FlowEventHandler = std::function<void(const cgfw_flow_event&)>;

// Sets the lockdown flag in a run's control map: from then on nothing but loopback (as the
// loopback policy allows) leaves; never undone. By fd, so the watchdog can call it after fork.
// False if the kernel refused the write (it should never: the array is preallocated).
bool lock_down_egress(int control_map_fd);

class DataPlane : public dns::KernelAllowMap {
 public:
  // Opens the skeleton, sets rodata and map sizes, loads every program (verifier failures are
  // turned into one sentence; -v shows libbpf's detail).
  static Result<std::unique_ptr<DataPlane>> make(const DataPlaneConfig& config);
  ~DataPlane();
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  // Make the allow (deny) tries hold exactly `entries`: new and changed prefixes are written,
  // those no longer listed deleted. Callable while attached (live rule changes): a failure
  // leaves the tries partly updated, so the caller fails closed.
  Status fill_ip_allow(const std::vector<IpAllowEntry>& entries);
  Status fill_ip_deny(const std::vector<IpAllowEntry>& entries);
  // Audit and default-allow, read by the egress program per decision.
  Status set_mode(bool audit, bool default_allow);
  // Sockets' remembered UDP verdicts are judged again from now on (something allowed may no
  // longer be).
  void bump_generation();
  // TCP destination ports whose connections go to the web proxy, as HTTP or as TLS.
  Status fill_redirect_ports(const std::set<std::uint16_t>& http,
                             const std::set<std::uint16_t>& tls);

  // Attaches every program to the cgroup by bpf_link, held (and handed to the watchdog) with
  // the run's.
  Status attach(int cgroup_fd);
  // The same programs on a container's scope found during the run, by links the caller holds.
  // A failure leaves nothing attached there, and the run's own links untouched. In a guarded
  // slice the guard judges the scope's packets (`egress_by_guard`): no egress program of its own.
  Result<CgroupLinks> attach_scope(int cgroup_fd, bool egress_by_guard = false);
  // The slice guard (bpf/slice_guard.h) on a guarded slice, held with the run's links. Only once
  // the slice's children there at the start are marked: it drops what is not.
  Status attach_slice_guard(int slice_fd);
  // Marks a child cgroup (by id) of the guarded slice as exempt or followed.
  Status mark_slice_child(std::uint64_t cgroup_id, cgfw_slice_child kind);
  // A child gone from the slice (its id is never reused).
  void unmark_slice_child(std::uint64_t cgroup_id);
  int slice_children_map_fd() const;
  // Link fds, for the watchdog to hold duplicates of.
  std::vector<int> link_fds() const;
  // Destroys the links (the programs leave the cgroup).
  void detach();

  // Flow events are delivered to `handler` by consume(); epoll_fd() becomes readable when
  // events are waiting.
  Status open_events(FlowEventHandler handler);
  int events_epoll_fd() const;
  int consume_events();  // returns the number consumed, or -errno

  std::array<std::uint64_t, CGFW_COUNTER_MAX> counters() const;

  // The learned maps (dns::KernelAllowMap): addresses allowed because an allowed name
  // resolved to them.
  Status put(int family, const dns::Address& address, const cgfw_port_set& ports) override;
  void remove(int family, const dns::Address& address) override;

  // Who is behind a client endpoint talking to a proxy (written by the egress program).
  std::optional<cgfw_proxy_client> proxy_client(int family, const dns::Address& address,
                                                std::uint16_t port, int protocol) const;

  // For tests and the proxies.
  int egress_prog_fd() const;
  int control_map_fd() const;  // the watchdog's lockdown switch
  // Nothing but loopback (as the loopback policy allows) leaves from now on; never undone.
  void lock_down();
  int client_sockets_map_fd() const;
  int original_dests_map_fd() const;
  // Another network namespace (a container's, by its SO_NETNS_COOKIE) reaches the proxies at
  // `proxy`'s addresses from now on.
  Status set_netns_proxy(std::uint64_t netns, const cgfw_netns_proxy& proxy);

 private:
  DataPlane() = default;
  cgfw_bpf* skel_ = nullptr;
  std::vector<bpf_link*> links_;
  ring_buffer* ring_ = nullptr;
  FlowEventHandler handler_;
  std::uint32_t learned_entries_ = 0;
  std::uint32_t verdict_generation_ = 0;  // CGFW_CONTROL_KEY_GENERATION, as last written
  // What the allow and deny tries hold, to write only differences.
  std::map<std::pair<int, std::array<std::uint8_t, 17>>, cgfw_port_set> allow_written_;
  std::map<std::pair<int, std::array<std::uint8_t, 17>>, cgfw_port_set> deny_written_;
  Status fill_lpm(bpf_map* v4, bpf_map* v6,
                  std::map<std::pair<int, std::array<std::uint8_t, 17>>, cgfw_port_set>& written,
                  const std::vector<IpAllowEntry>& entries, const char* what, bool deletions_first);
};

// The kernel counters by their report names ("packets_allowed", ...).
std::map<std::string, std::uint64_t> named_counters(const DataPlane& plane);

}  // namespace cgfw::runner
