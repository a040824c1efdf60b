// Findings: what SARIF results and the Markdown tables are made of. One finding per distinct
// (kind, destination, executable), with the exact rule lines that would allow it
// (docs/reports.md#findings).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/report_view.h"

namespace cgfw::reports {

enum class FindingKind {
  blocked_domain,
  blocked_ip,
  blocked_url,
  domain_fronting,
  exfiltration_name,
  audit_not_allowed,
  // Ways out other than the network, blocked in every mode (audit mode does not open them); last,
  // so the SARIF ruleIndex of the kinds above does not change.
  blocked_unix_socket,
  blocked_device,
};
inline constexpr FindingKind kFindingKinds[] = {
    FindingKind::blocked_domain,      FindingKind::blocked_ip,
    FindingKind::blocked_url,         FindingKind::domain_fronting,
    FindingKind::exfiltration_name,   FindingKind::audit_not_allowed,
    FindingKind::blocked_unix_socket, FindingKind::blocked_device,
};
// "blocked-domain", ... (the SARIF rule ids).
const char* kind_id(FindingKind kind);
// True for the kinds that mean traffic was (or in audit mode would have been) stopped.
bool is_blocking(FindingKind kind);
// True for blocked_unix_socket and blocked_device: the destination is a path, and no allow rule
// can allow it.
bool is_path_kind(FindingKind kind);

// One distinct (kind, destination, process): every event of it folded together.
struct Finding {
  FindingKind kind = FindingKind::blocked_ip;
  // "evil.test", "198.51.100.11:80/tcp", "https://h/p", "*.allowed.test", "/run/docker.sock"
  std::string destination;
  std::string domain;       // the name involved, when known
  std::string ip;           // the first address connected to ("" for a name only looked up)
  int port = 0;             // the first port connected to
  std::string protocol;     // the first protocol ("tcp", "udp", ...)
  std::string resolver;     // the resolver a DNS query was sent to
  std::set<int> tcp_ports;  // ports connected to (domain findings collect several)
  std::set<std::pair<std::string, int>> udp_endpoints;  // (ip, port) of UDP traffic
  std::set<std::string> layers;
  std::string process;  // process_label
  std::string process_key;
  std::vector<std::string> cmdline;  // of the first event
  std::set<int> pids;
  std::uint64_t count = 0;
  std::string reason;           // of the first event
  std::string suspicious;       // exfiltration: why the name looks like data
  std::set<std::string> names;  // exfiltration: the names seen
  std::optional<ReportPolicy::RuleRef>
      existing_rule;                      // the rule involved (port mismatch, wildcard)
  std::vector<std::string> rules_to_add;  // exact rule lines that would allow it ("" = none can)
  bool replaces_existing = false;         // rules_to_add[0] replaces existing_rule
  std::string advice;                     // when no rule line is the answer
  // cgfw-sandbox options that would allow it ("--allow-unix /run/docker.sock"): unix sockets are
  // opened by an option, never by a rule line.
  std::vector<std::string> options_to_add;
};

// Every finding of a report, in a stable order (kind, destination, process).
std::vector<Finding> collect_findings(const nlohmann::json& report);

}  // namespace cgfw::reports
