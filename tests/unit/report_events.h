// Report events as JSON, in the shape of reports/schema/report.schema.json: the unix-socket and
// device events every reader of reports is tested with (markdown, sarif, policy suggest).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace cgfw::testing {

inline nlohmann::json event_process(int pid, const std::string& exe) {
  return {{"pid", pid},
          {"exe", exe},
          {"cmdline", {exe}},
          {"comm", "x"},
          {"ppid", 1},
          {"gone", false},
          {"ancestors", nlohmann::json::array()}};
}

// A connection to a hidden daemon socket: blocked in every mode, opened by --allow-unix.
inline nlohmann::json unix_socket_event(const std::string& path, int pid = 300,
                                        const std::string& exe = "/usr/bin/docker") {
  return {{"time", "2026-11-21T13:00:00.000003Z"},
          {"decision", "blocked"},
          {"would_block", false},
          {"layer", "unix"},
          {"protocol", "unix"},
          {"ip", ""},
          {"port", 0},
          {"path", path},
          {"reason", "unix socket of a daemon outside the sandbox (dockerd)"},
          {"suggested_rule", "--allow-unix " + path},
          {"count", 1},
          {"process", event_process(pid, exe)}};
}

// An open of /dev/net/tun: blocked in every mode, no option opens it.
inline nlohmann::json tun_device_event(int pid = 400) {
  return {{"time", "2026-11-21T13:00:00.000004Z"},
          {"decision", "blocked"},
          {"would_block", false},
          {"layer", "device"},
          {"protocol", "tun"},
          {"ip", ""},
          {"port", 0},
          {"path", "/dev/net/tun"},
          {"reason", "TUN/TAP device: packets written to it bypass the sandbox's egress program"},
          {"count", 1},
          {"process", event_process(pid, "/usr/sbin/openvpn")}};
}

}  // namespace cgfw::testing
