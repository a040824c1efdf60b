// What a run saw: one record per distinct flow/decision, the shape every report is made from.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cgfw::reports {

enum class Decision { allowed, blocked };
// unix_socket: a connect to a daemon's unix socket that leads out of the sandbox (docker, ...);
// device: an open of a device node that leads out (/dev/net/tun).
enum class Layer { packet, dns, tls, http, unix_socket, device };

const char* to_string(Decision decision);
const char* to_string(Layer layer);

struct Ancestor {
  int pid = 0;
  std::string exe;  // "" when unreadable
};

// The container a process ran in (docs/containers.md): its id (from its cgroup, or from the
// runtime's hook), and its name and image when the runtime told them.
struct ContainerRef {
  std::string id;
  std::string name;   // "" when unknown
  std::string image;  // "" when unknown
};

struct ProcessRecord {
  int pid = 0;          // thread-group id; 0 when the kernel knew no owner
  int sandbox_pid = 0;  // the same process's pid inside the sandbox's PID namespace; 0: unknown
  std::string exe;      // "" when the process was gone before it could be read
  std::vector<std::string> cmdline;
  std::string comm;  // the kernel's name for it, kept even when /proc was gone
  int ppid = 0;
  std::vector<Ancestor> ancestors;  // parent first, up to the sandbox's first process
  bool gone = false;  // exited before cgfw could read /proc: exe/cmdline unknown, not guessed
  std::optional<ContainerRef> container;  // set when the process ran in a container
  // The kernel's id of the process's cgroup v2 at the socket call (0: unknown). Not reported:
  // it finds `container` after the process is gone.
  std::uint64_t cgroup_id = 0;
};

struct RuleRef {
  std::string text;      // "198.51.100.10:443"
  std::string location;  // "egress.txt:3:1"
};

struct Event {
  std::chrono::system_clock::time_point time;  // first seen
  Decision decision = Decision::blocked;
  bool would_block = false;  // audit mode: allowed only because nothing is enforced
  Layer layer = Layer::packet;
  std::string protocol;  // "tcp", "udp", "icmp", "ipv6-icmp", "ip-proto-N"
  std::string ip;
  int port = 0;
  std::optional<std::string> domain;
  std::optional<std::string> url;
  std::optional<std::string> path;   // unix_socket/device layers: the socket file or device node
  std::optional<std::string> qtype;  // dns layer: "A", "AAAA", ...
  std::vector<std::string> answers;  // dns layer: addresses and "CNAME name" lines
  std::optional<std::string> suspicious;  // dns layer: why the name looks like smuggled data
  std::optional<std::string> method;      // http layer
  std::optional<int> status;              // http layer: the response status
  std::optional<std::uint64_t> bytes_up;  // tls/http: client -> server
  std::optional<std::uint64_t> bytes_down;
  std::optional<RuleRef> rule;        // what allowed it
  std::optional<std::string> reason;  // why it was (or would have been) blocked, or "loopback"
  std::optional<std::string> suggested_rule;  // the rule line that would allow it
  ProcessRecord process;
  std::uint64_t count = 1;  // how many times this same event was seen
};

}  // namespace cgfw::reports
