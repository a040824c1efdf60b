#include "runner/data_plane.h"

#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include "cgfw.skel.h"
#include "common/errno_text.h"

namespace cgfw::runner {
namespace {

// Prefixes the allow and deny tries can take beyond those of the starting rules.
constexpr std::size_t kLiveRuleRoom = 4096;

int on_ring_event(void* context, void* data, size_t size) {
  if (size < sizeof(cgfw_flow_event)) return 0;
  auto* handler = static_cast<FlowEventHandler*>(context);
  cgfw_flow_event event;
  std::memcpy(&event, data, sizeof(event));
  (*handler)(event);
  return 0;
}

}  // namespace

Result<std::unique_ptr<DataPlane>> DataPlane::make(const DataPlaneConfig& config) {
  std::unique_ptr<DataPlane> plane(new DataPlane());
  plane->skel_ = cgfw_bpf__open();
  if (!plane->skel_) return make_error("cannot open the BPF object: " + errno_text(errno));

  auto* rodata = plane->skel_->rodata;
  rodata->cfg_police_loopback = config.police_loopback ? 1 : 0;
  rodata->cfg_dns_port4 = config.dns_port4;
  rodata->cfg_dns_port6 = config.dns_port6;
  rodata->cfg_web_port4 = config.web_port4;
  rodata->cfg_web_port6 = config.web_port6;
  rodata->cfg_home_netns = config.home_netns;

  // The tries allocate per entry (BPF_F_NO_PREALLOC): max_entries is only a bound, with room
  // for rules added while the run goes on.
  auto allow_entries = static_cast<__u32>(config.ip_entries + kLiveRuleRoom);
  auto deny_entries = static_cast<__u32>(config.deny_entries + kLiveRuleRoom);
  bpf_map__set_max_entries(plane->skel_->maps.allow_v4, allow_entries);
  bpf_map__set_max_entries(plane->skel_->maps.allow_v6, allow_entries);
  bpf_map__set_max_entries(plane->skel_->maps.deny_v4, deny_entries);
  bpf_map__set_max_entries(plane->skel_->maps.deny_v6, deny_entries);
  plane->learned_entries_ = std::max<std::uint32_t>(config.learned_entries, 1);
  bpf_map__set_max_entries(plane->skel_->maps.learned_v4, plane->learned_entries_);
  bpf_map__set_max_entries(plane->skel_->maps.learned_v6, plane->learned_entries_);
  for (bpf_map* flow_map : {plane->skel_->maps.proxy_clients, plane->skel_->maps.reported_flows,
                            plane->skel_->maps.original_dests, plane->skel_->maps.client_sockets})
    bpf_map__set_max_entries(flow_map, std::max<std::uint32_t>(config.flow_entries, 64));
  if (!config.police_devices) bpf_program__set_autoload(plane->skel_->progs.cgfw_device, false);
  rodata->cfg_slice_child_level = config.slice_child_level;
  if (config.slice_child_level == 0)
    bpf_program__set_autoload(plane->skel_->progs.cgfw_slice_guard, false);

  int err = cgfw_bpf__load(plane->skel_);
  if (err) {
    return make_error(
        "the kernel refused to load cgfw's BPF programs (" + errno_text(err) +
        "). cgfw needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN), a kernel >= 5.15 with BTF "
        "and cgroup BPF enabled; run with -v to see the verifier's log");
  }
  if (auto mode = plane->set_mode(config.audit_mode, config.default_allow); !mode)
    return mode.error();
  return plane;
}

DataPlane::~DataPlane() {
  if (ring_) ring_buffer__free(ring_);
  detach();
  if (skel_) cgfw_bpf__destroy(skel_);
}

Status DataPlane::fill_ip_allow(const std::vector<IpAllowEntry>& entries) {
  return fill_lpm(skel_->maps.allow_v4, skel_->maps.allow_v6, allow_written_, entries, "allow",
                  /*deletions_first=*/true);
}

Status DataPlane::fill_ip_deny(const std::vector<IpAllowEntry>& entries) {
  return fill_lpm(skel_->maps.deny_v4, skel_->maps.deny_v6, deny_written_, entries, "deny",
                  /*deletions_first=*/false);
}

Status DataPlane::fill_lpm(
    bpf_map* v4, bpf_map* v6,
    std::map<std::pair<int, std::array<std::uint8_t, 17>>, cgfw_port_set>& written,
    const std::vector<IpAllowEntry>& entries, const char* what, bool deletions_first) {
  using Key = std::pair<int, std::array<std::uint8_t, 17>>;
  auto key_of = [](const policy::IpPrefix& prefix) {
    Key key{prefix.family, {}};
    std::copy(prefix.address.begin(), prefix.address.end(), key.second.begin());
    key.second[16] = static_cast<std::uint8_t>(prefix.prefix_length);
    return key;
  };
  // One function for both families: the kernel key is {prefix_len, address bytes}.
  auto write = [&](const Key& key, const cgfw_port_set* ports) {
    cgfw_lpm_key_v6 lpm{};
    lpm.prefix_len = key.second[16];
    std::memcpy(lpm.addr, key.second.data(), 16);
    const bool v4_key = key.first == AF_INET;
    bpf_map* map = v4_key ? v4 : v6;
    const std::size_t size = v4_key ? sizeof(cgfw_lpm_key_v4) : sizeof(cgfw_lpm_key_v6);
    static_assert(offsetof(cgfw_lpm_key_v4, addr) == offsetof(cgfw_lpm_key_v6, addr));
    return ports ? bpf_map__update_elem(map, &lpm, size, ports, sizeof(*ports), BPF_ANY)
                 : bpf_map__delete_elem(map, &lpm, size, 0);
  };
  std::map<Key, cgfw_port_set> wanted;
  for (const auto& entry : entries) wanted[key_of(entry.prefix)] = entry.ports;
  // Updates before deletions for the deny tries, deletions first for the allow tries: a change
  // stopped half-way by an error has then closed more, never opened more. (Deletions first also
  // make room in a trie at its bound.)
  auto write_updates = [&]() -> Status {
    for (const auto& [key, ports] : wanted) {
      auto found = written.find(key);
      if (found != written.end() && std::memcmp(&found->second, &ports, sizeof(ports)) == 0)
        continue;
      if (int err = write(key, &ports)) {
        policy::IpPrefix prefix{key.first, {}, key.second[16]};
        std::copy(key.second.begin(), key.second.begin() + 16, prefix.address.begin());
        return make_error("cannot add " + prefix.to_string() + " to the kernel " + what +
                          " map: " + errno_text(err));
      }
      written[key] = ports;
    }
    return Ok{};
  };
  auto write_deletions = [&]() -> Status {
    for (auto it = written.begin(); it != written.end();) {
      if (wanted.count(it->first)) {
        ++it;
        continue;
      }
      if (int err = write(it->first, nullptr); err && err != -ENOENT)
        return make_error(std::string("cannot remove a prefix from the kernel ") + what +
                          " map: " + errno_text(err));
      it = written.erase(it);
    }
    return Ok{};
  };
  if (auto first = deletions_first ? write_deletions() : write_updates(); !first) return first;
  if (auto second = deletions_first ? write_updates() : write_deletions(); !second) return second;
  return Ok{};
}

Status DataPlane::set_mode(bool audit, bool default_allow) {
  __u32 key = CGFW_CONTROL_KEY_MODE;
  __u32 mode = (audit ? CGFW_MODE_AUDIT : 0) | (default_allow ? CGFW_MODE_DEFAULT_ALLOW : 0);
  if (int err = bpf_map__update_elem(skel_->maps.control, &key, sizeof(key), &mode, sizeof(mode),
                                     BPF_ANY))
    return make_error("cannot set the run's mode in the kernel: " + errno_text(err));
  bump_generation();
  return Ok{};
}

void DataPlane::bump_generation() {
  __u32 key = CGFW_CONTROL_KEY_GENERATION;
  __u32 generation = ++verdict_generation_;
  bpf_map__update_elem(skel_->maps.control, &key, sizeof(key), &generation, sizeof(generation),
                       BPF_ANY);
}

Status DataPlane::fill_redirect_ports(const std::set<std::uint16_t>& http,
                                      const std::set<std::uint16_t>& tls) {
  for (const auto& [ports, kind] :
       {std::pair{&http, CGFW_PORT_HTTP}, std::pair{&tls, CGFW_PORT_TLS}}) {
    for (std::uint16_t port : *ports) {
      __u8 value = static_cast<__u8>(kind);
      if (bpf_map__update_elem(skel_->maps.redirect_ports, &port, sizeof(port), &value,
                               sizeof(value), BPF_ANY) != 0)
        return make_error("cannot add port " + std::to_string(port) +
                          " to the redirected ports (at most 64): " + errno_text(errno));
    }
  }
  return Ok{};
}

CgroupLinks& CgroupLinks::operator=(CgroupLinks&& other) noexcept {
  if (this != &other) {
    reset();
    links_ = std::move(other.links_);
    other.links_.clear();
  }
  return *this;
}

void CgroupLinks::reset() {
  for (bpf_link* link : links_) bpf_link__destroy(link);
  links_.clear();
}

Result<CgroupLinks> DataPlane::attach_scope(int cgroup_fd, bool egress_by_guard) {
  bpf_program* programs[] = {
      skel_->progs.cgfw_sock_create, skel_->progs.cgfw_connect4, skel_->progs.cgfw_connect6,
      skel_->progs.cgfw_sendmsg4,    skel_->progs.cgfw_sendmsg6, skel_->progs.cgfw_recvmsg4,
      skel_->progs.cgfw_recvmsg6,    skel_->progs.cgfw_sockops,  skel_->progs.cgfw_egress,
      skel_->progs.cgfw_device,
  };
  // The skeleton's __attach() does not attach cgroup programs: each one by hand, by link.
  std::vector<bpf_link*> links;
  for (bpf_program* program : programs) {
    if (!bpf_program__autoload(program)) continue;
    if (egress_by_guard && program == skel_->progs.cgfw_egress) continue;
    bpf_link* link = bpf_program__attach_cgroup(program, cgroup_fd);
    if (!link) {
      int err = errno;
      CgroupLinks attached(std::move(links));  // detached again as it goes
      return make_error(std::string("cannot attach ") + bpf_program__name(program) +
                        " to the cgroup: " + errno_text(err));
    }
    links.push_back(link);
  }
  return CgroupLinks(std::move(links));
}

Status DataPlane::attach(int cgroup_fd) {
  auto attached = attach_scope(cgroup_fd);
  if (!attached) {
    detach();
    return attached.error();
  }
  // Taken over: the run's links live in links_ (the watchdog holds duplicates of their fds).
  auto taken = std::move(*attached).release();
  links_.insert(links_.end(), taken.begin(), taken.end());
  return Ok{};
}

Status DataPlane::attach_slice_guard(int slice_fd) {
  bpf_link* link = bpf_program__attach_cgroup(skel_->progs.cgfw_slice_guard, slice_fd);
  if (!link) return make_error("cannot attach the slice guard to the slice: " + errno_text(errno));
  links_.push_back(link);
  return Ok{};
}

Status DataPlane::mark_slice_child(std::uint64_t cgroup_id, cgfw_slice_child kind) {
  auto value = static_cast<__u8>(kind);
  if (bpf_map__update_elem(skel_->maps.slice_children, &cgroup_id, sizeof(cgroup_id), &value,
                           sizeof(value), BPF_ANY) != 0)
    return make_error("the kernel refused to mark a cgroup of the slice (" + errno_text(errno) +
                      "; at most 65536 per run)");
  return Ok{};
}

void DataPlane::unmark_slice_child(std::uint64_t cgroup_id) {
  bpf_map__delete_elem(skel_->maps.slice_children, &cgroup_id, sizeof(cgroup_id), 0);
}

int DataPlane::slice_children_map_fd() const { return bpf_map__fd(skel_->maps.slice_children); }

std::vector<int> DataPlane::link_fds() const {
  std::vector<int> fds;
  for (bpf_link* link : links_) fds.push_back(bpf_link__fd(link));
  return fds;
}

void DataPlane::detach() {
  for (bpf_link* link : links_) bpf_link__destroy(link);
  links_.clear();
}

Status DataPlane::open_events(FlowEventHandler handler) {
  handler_ = std::move(handler);
  ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), on_ring_event, &handler_, nullptr);
  if (!ring_) return make_error("cannot open the event ring buffer: " + errno_text(errno));
  return Ok{};
}

int DataPlane::events_epoll_fd() const { return ring_ ? ring_buffer__epoll_fd(ring_) : -1; }

int DataPlane::consume_events() { return ring_ ? ring_buffer__consume(ring_) : 0; }

std::array<std::uint64_t, CGFW_COUNTER_MAX> DataPlane::counters() const {
  std::array<std::uint64_t, CGFW_COUNTER_MAX> totals{};
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return totals;
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(cpus));
  for (__u32 key = 0; key < CGFW_COUNTER_MAX; ++key) {
    if (bpf_map__lookup_elem(skel_->maps.counters, &key, sizeof(key), per_cpu.data(),
                             per_cpu.size() * sizeof(std::uint64_t), 0) != 0)
      continue;
    for (auto value : per_cpu) totals[key] += value;
  }
  return totals;
}

Status DataPlane::put(int family, const dns::Address& address, const cgfw_port_set& ports) {
  int err;
  if (family == AF_INET) {
    __u32 key;
    std::memcpy(&key, address.data(), 4);
    err = bpf_map__update_elem(skel_->maps.learned_v4, &key, sizeof(key), &ports, sizeof(ports),
                               BPF_ANY);
  } else {
    cgfw_addr6 key{};
    std::memcpy(key.addr, address.data(), 16);
    err = bpf_map__update_elem(skel_->maps.learned_v6, &key, sizeof(key), &ports, sizeof(ports),
                               BPF_ANY);
  }
  if (err == -E2BIG || err == -ENOSPC)
    return make_error("the kernel map of learned addresses is full (" +
                      std::to_string(learned_entries_) +
                      " entries; raise it with --max-learned-addresses)");
  if (err) return make_error("cannot write the learned address map: " + errno_text(err));
  return Ok{};
}

void DataPlane::remove(int family, const dns::Address& address) {
  if (family == AF_INET) {
    __u32 key;
    std::memcpy(&key, address.data(), 4);
    bpf_map__delete_elem(skel_->maps.learned_v4, &key, sizeof(key), 0);
  } else {
    cgfw_addr6 key{};
    std::memcpy(key.addr, address.data(), 16);
    bpf_map__delete_elem(skel_->maps.learned_v6, &key, sizeof(key), 0);
  }
  // UDP sockets remember their last allowed destination: a new generation makes them ask again.
  bump_generation();
}

std::optional<cgfw_proxy_client> DataPlane::proxy_client(int family, const dns::Address& address,
                                                         std::uint16_t port, int protocol) const {
  cgfw_local_endpoint key{};
  std::memcpy(key.addr, address.data(), 16);
  key.port = port;
  key.family = static_cast<__u8>(family);
  key.protocol = static_cast<__u8>(protocol);
  cgfw_proxy_client client{};
  if (bpf_map__lookup_elem(skel_->maps.proxy_clients, &key, sizeof(key), &client, sizeof(client),
                           0) != 0)
    return std::nullopt;
  return client;
}

int DataPlane::egress_prog_fd() const { return bpf_program__fd(skel_->progs.cgfw_egress); }
int DataPlane::control_map_fd() const { return bpf_map__fd(skel_->maps.control); }

std::map<std::string, std::uint64_t> named_counters(const DataPlane& plane) {
  auto values = plane.counters();
  return {
      {"packets_allowed", values[CGFW_COUNTER_PACKETS_ALLOWED]},
      {"packets_blocked", values[CGFW_COUNTER_PACKETS_BLOCKED]},
      {"packets_audited", values[CGFW_COUNTER_PACKETS_AUDITED]},
      {"events_lost", values[CGFW_COUNTER_EVENTS_LOST]},
      {"raw_sockets_refused", values[CGFW_COUNTER_RAW_REFUSED]},
      {"map_update_failures", values[CGFW_COUNTER_MAP_UPDATE_FAILED]},
      {"devices_refused", values[CGFW_COUNTER_DEVICES_REFUSED]},
      {"lockdown_dropped", values[CGFW_COUNTER_LOCKDOWN_DROPPED]},
      {"allowed_unrecorded", values[CGFW_COUNTER_ALLOWED_UNRECORDED]},
      {"slice_unclassified_dropped", values[CGFW_COUNTER_SLICE_UNCLASSIFIED_DROPPED]},
  };
}

bool lock_down_egress(int control_map_fd) {
  __u32 key = CGFW_CONTROL_KEY_FLAGS;
  __u32 flags = CGFW_CONTROL_LOCKDOWN;
  return bpf_map_update_elem(control_map_fd, &key, &flags, BPF_ANY) == 0;
}

void DataPlane::lock_down() {
  if (!lock_down_egress(control_map_fd()))
    spdlog::critical("the kernel refused the lockdown flag ({}): egress is NOT locked down",
                     errno_text(errno));
}
int DataPlane::client_sockets_map_fd() const { return bpf_map__fd(skel_->maps.client_sockets); }
int DataPlane::original_dests_map_fd() const { return bpf_map__fd(skel_->maps.original_dests); }

Status DataPlane::set_netns_proxy(std::uint64_t netns, const cgfw_netns_proxy& proxy) {
  if (bpf_map__update_elem(skel_->maps.netns_proxies, &netns, sizeof(netns), &proxy, sizeof(proxy),
                           BPF_ANY) != 0)
    return make_error("cannot admit a network namespace: the kernel map refused it (" +
                      errno_text(errno) + "; at most 1024 namespaces per run)");
  return Ok{};
}

}  // namespace cgfw::runner
