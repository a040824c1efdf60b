// cgfw-sandbox's command line.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "runner/logging.h"

namespace cgfw::runner {

// Exit codes of the env/docker-run convention.
inline constexpr int kExitCgfwFailed = 125;
inline constexpr int kExitCannotExecute = 126;
inline constexpr int kExitNotFound = 127;
// --fail-on-block and something was blocked, though the command itself succeeded.
inline constexpr int kExitBlocked = 3;

struct Options {
  std::vector<std::string> allow_rules;  // -a/--allow, in order
  std::vector<std::string> allow_files;  // -f/--allow-file, in order
  std::vector<std::string> deny_rules;   // --deny, in order
  std::vector<std::string> deny_files;   // --deny-file, in order
  bool audit = false;
  std::optional<std::string> report_json;
  std::optional<std::string> report_sarif;  // --report-sarif FILE
  std::optional<std::string> report_md;     // --report-md FILE
  bool fail_on_block = false;
  bool allow_privileged = false;  // --allow-privileged: keep every capability (loudly reported) //
                                  // --fail-on-block: exit 3 when anything was blocked
  std::vector<std::string> allow_unix;  // --allow-unix: denied unix sockets left reachable
  // --containers follow|off: admit containers' network namespaces to the proxies (follow), or
  // leave their DNS and web traffic refused (off). docs/containers.md.
  bool follow_containers = true;
  // --containers-cgroup: a container runtime's parent cgroup (below the cgroup2 mount), policed
  // for the run's lifetime like the job: every container created below it is followed.
  std::vector<std::string> containers_cgroups;
  // --containers-slice: a parent cgroup shared with strangers (/system.slice, where dockerd's
  // systemd driver puts docker-ID.scope): every container scope created there during the run is
  // followed, the rest left alone; a guard drops what is not classified yet.
  std::optional<std::string> containers_slice;
  std::optional<std::string> user;
  bool no_loopback = false;
  std::vector<std::string> dns_upstreams;  // --dns-upstream, in order
  std::string dns_block_rcode = "nxdomain";
  int dns_min_ttl = 600;              // seconds a learned address stays allowed at least
  int max_learned_addresses = 65536;  // per family; the kernel map's size
  std::vector<int> http_ports;  // --http-port: more plain-HTTP ports for the web proxy (80 always)
  std::vector<int> tls_ports;   // --tls-port: more TLS ports for the web proxy (443 always)
  bool inspect = false;         // --inspect: intercept every allowed TLS host
  std::vector<std::string> upstream_cas;  // --upstream-ca FILE
  Verbosity verbosity = Verbosity::normal;
  std::vector<std::string> command;
  // Attach mode (--attach-pid): police a running process and what it starts from then on,
  // instead of starting a command; runs until SIGTERM/SIGINT or until that process exits.
  std::optional<int> attach_pid;
  std::optional<std::string> ready_file;  // --ready-file: written once the process is policed
  // `cgfw attach`: police a cgroup that exists already (given by path, by systemd unit, or by a
  // process in it) until SIGTERM/SIGINT; nothing is moved, killed or removed at the end.
  std::optional<std::string> attach_cgroup;
  std::optional<std::string> attach_unit;
  std::optional<int> attach_cgroup_of;
  // --fail-open: if cgfw dies, its programs are detached (egress opens) instead of locked down.
  bool fail_open = false;

  bool attaches_to_existing_cgroup() const {
    return attach_cgroup || attach_unit || attach_cgroup_of;
  }
  bool attaches() const { return attach_pid || attaches_to_existing_cgroup(); }
  // --export-egress-filter PIN [--replace]: pin the IP rules as a program for systemd's
  // IPEgressFilterPath= and exit; nothing is run or attached.
  std::optional<std::string> export_egress_filter;
  bool replace_export = false;
};

// Parses argv. Returns Options, or the exit status to leave with (0 after --help/--version,
// kExitCgfwFailed after a usage error, with the message already printed to stderr).
std::variant<Options, int> parse_options(int argc, const char* const* argv);

}  // namespace cgfw::runner
