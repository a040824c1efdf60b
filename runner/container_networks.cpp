#include "runner/container_networks.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <thread>

#include "bpf/cgfw_shared.h"
#include "runner/data_plane.h"
#include "runner/proc_files.h"
#include "runner/unique_fd.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace cgfw::runner {

Result<std::uint64_t> current_netns_cookie() {
  UniqueFd socket(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  std::uint64_t cookie = 0;
  socklen_t length = sizeof(cookie);
  if (!socket.valid() ||
      ::getsockopt(socket.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &length) != 0)
    return make_error(std::string("cannot read the network namespace's cookie (SO_NETNS_COOKIE, "
                                  "Linux 5.14): ") +
                      std::strerror(errno));
  return cookie;
}

Result<std::uint64_t> netns_cookie_of(int pid) {
  UniqueFd ns(::open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns.valid())
    return make_error("cannot open the network namespace of pid " + std::to_string(pid) + ": " +
                      std::strerror(errno));
  // setns() changes the calling thread only: a thread of its own joins, reads, and ends.
  Result<std::uint64_t> cookie = make_error("unreached");
  std::thread reader([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      cookie = make_error("cannot enter the network namespace of pid " + std::to_string(pid) +
                          ": " + std::strerror(errno));
      return;
    }
    cookie = current_netns_cookie();
  });
  reader.join();
  return cookie;
}

bool in_other_netns(int pid) {
  struct stat own {};
  struct stat theirs {};
  if (::stat("/proc/self/ns/net", &own) != 0 ||
      ::stat(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), &theirs) != 0)
    return false;
  return own.st_ino != theirs.st_ino || own.st_dev != theirs.st_dev;
}

std::optional<std::array<std::uint8_t, 4>> default_gateway_v4(std::string_view route_table) {
  // "Iface Destination Gateway Flags RefCnt Use Metric Mask ...", addresses as 8 hex digits of
  // the address's bytes read as a host-order (little-endian) word.
  std::istringstream lines{std::string(route_table)};
  std::string line;
  std::getline(lines, line);  // the header
  std::optional<std::array<std::uint8_t, 4>> best;
  unsigned long best_metric = ~0ul;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string iface, destination, gateway, flags, refcnt, use, metric, mask;
    if (!(fields >> iface >> destination >> gateway >> flags >> refcnt >> use >> metric >> mask))
      continue;
    auto hex = [](const std::string& text, unsigned long& value) {
      if (text.empty() || text.size() > 8) return false;
      char* end = nullptr;
      value = std::strtoul(text.c_str(), &end, 16);
      return *end == '\0';
    };
    unsigned long dest = 0, gate = 0, route_flags = 0, route_mask = 0, route_metric = 0;
    if (!hex(destination, dest) || !hex(gateway, gate) || !hex(flags, route_flags) ||
        !hex(mask, route_mask) || metric.empty())
      continue;
    route_metric = std::strtoul(metric.c_str(), nullptr, 10);
    constexpr unsigned long kUp = 0x1, kGateway = 0x2;
    if (dest != 0 || route_mask != 0 || gate == 0 || (route_flags & (kUp | kGateway)) != 3)
      continue;
    if (best && route_metric >= best_metric) continue;
    std::uint32_t word = static_cast<std::uint32_t>(gate);
    best = std::array<std::uint8_t, 4>{
        static_cast<std::uint8_t>(word & 0xff), static_cast<std::uint8_t>((word >> 8) & 0xff),
        static_cast<std::uint8_t>((word >> 16) & 0xff), static_cast<std::uint8_t>(word >> 24)};
    best_metric = route_metric;
  }
  return best;
}

Result<ContainerNetworks::Admitted> ContainerNetworks::admit(int pid) {
  auto netns = netns_cookie_of(pid);
  if (!netns) return netns.error();
  Admitted result;
  result.netns = *netns;
  if (*netns == home_netns_) return result;
  if (auto known = admitted_.find(*netns); known != admitted_.end()) {
    result.gateway = known->second;
    return result;
  }
  auto gateway =
      default_gateway_v4(read_proc_file(proc_root_ + "/" + std::to_string(pid) + "/net/route"));
  if (!gateway)
    return make_error("the network namespace of pid " + std::to_string(pid) +
                      " has no IPv4 default route: there is no gateway to serve its DNS and web "
                      "traffic on, so it stays refused");
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, gateway->data(), text, sizeof(text));
  std::string address = text;
  if (!listening_.count(address)) {
    // Binding proves the gateway is an address of cgfw's own namespace: a gateway elsewhere
    // (a remote host, another namespace) fails here with "cannot assign requested address".
    if (auto listened = listen_(address); !listened)
      return make_error("cannot serve the network namespace of pid " + std::to_string(pid) +
                        " at its gateway " + address + ": " + listened.error().message);
    listening_.insert(address);
  }
  cgfw_netns_proxy proxy{};
  std::memcpy(proxy.addr4, gateway->data(), 4);
  if (auto set = plane_.set_netns_proxy(*netns, proxy); !set) return set.error();
  admitted_.emplace(*netns, address);
  result.gateway = address;
  result.newly = true;
  return result;
}

}  // namespace cgfw::runner
