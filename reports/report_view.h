// Reading a JSON report (docs/report.md) for the reports derived from it: SARIF, Markdown and the
// suggested allow list. Everything here works on the JSON document, not on the runner's structs,
// so a report written by an earlier run (or another machine) is read the same way.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/rule.h"

namespace cgfw::reports {

// What `cgfw` accepts as a report file's text: JSON (nlohmann's parser, its exceptions caught) no
// more than kMaxReportDepth levels deep, an object with a string "mode" and an "events" array;
// every other field is read tolerantly by the functions below (events of every layer, "unix" and
// "device" with their "path" too, are kept as written). nullopt and `why` ("not valid JSON
// (...)", "not a cgfw report (...)") otherwise.
inline constexpr int kMaxReportDepth = 64;
std::optional<nlohmann::json> parse_report(const std::string& text, std::string& why);

// Field access that never throws: "" / fallback when the field is missing or of another type.
std::string json_string(const nlohmann::json& object, std::string_view key);
std::int64_t json_int(const nlohmann::json& object, std::string_view key, std::int64_t fallback);
bool json_bool(const nlohmann::json& object, std::string_view key);

// Control characters (a newline in an executable's name) would end a comment line or a table row.
std::string printable(std::string_view text);

// Who made an event: the executable when known, else "comm (executable unknown)".
std::string process_label(const nlohmann::json& process);
// The same, as a stable grouping key: the executable, else "comm:NAME".
std::string process_key(const nlohmann::json& process);

// "198.51.100.11" and "::ffff:198.51.100.11" are the same IPv4 destination.
std::string normalize_ip(std::string_view ip);
bool is_ipv6(std::string_view ip);
// "198.51.100.11:80/tcp", "[2001:db8::11]:443/tcp", "198.51.100.11/icmp" (no port).
std::string endpoint_text(std::string_view ip, int port, std::string_view protocol);

// "80,443" from a set of ports.
std::string port_list(const std::set<int>& ports);

// A name that was only looked up, never connected to, is given this port in suggested rules
// (docs/reports.md): any rule makes the name resolve, and HTTPS is what names are looked up for.
inline constexpr int kLookupOnlyPort = 443;

// Rule lines in the grammar of docs/rules.md.
std::string domain_rule(std::string_view name, const std::set<int>& ports, bool udp = false);
std::string ip_rule(std::string_view ip, const std::set<int>& ports, bool udp = false);
// "https://host[:port]/FIRST-SEGMENT*" (or "https://host/" for the root) for a request URL; ""
// when the URL cannot be turned into a valid rule.
std::string url_rule(std::string_view url);
// The URL without its query and fragment: what a finding is about.
std::string url_without_query(std::string_view url);
// The URL's host, lower-case, IPv6 brackets removed; "" when there is none.
std::string url_host(std::string_view url);
// "198.51.100.7", "2001:db8::1": an address, not a name. A URL to one is allowed by an address
// rule (a URL rule's host must be a name the address was resolved for).
bool is_ip_literal(std::string_view host);

// "FILE:LINE:COLUMN" (FILE may contain ':') -> FILE and LINE; nullopt when not of that form.
struct TextLocation {
  std::string file;
  int line = 0;
};
std::optional<TextLocation> parse_location(std::string_view location);
// "--allow #2:1:1" is a command-line rule, not a line of a file.
bool is_command_line_location(std::string_view location);

// The run's policy, re-parsed from the report, for questions the report itself does not answer:
// which rule covers an address whose port was refused, and what that rule looks like widened.
class ReportPolicy {
 public:
  explicit ReportPolicy(const nlohmann::json& report);

  struct RuleRef {
    std::string text;
    std::string location;  // "egress.txt:2:1" or "--allow #1:1:1"
  };
  // The rule that allowed the address (or, with `domain`, the name) whose port was refused.
  std::optional<RuleRef> covering_rule(std::string_view domain, std::string_view ip) const;
  // `rule_text` with `port` added to its ports, or "" when that cannot be written as one rule
  // (the rule is for the other transport, or allows every TCP port already).
  static std::string widen(std::string_view rule_text, int port, bool udp);

  const std::vector<std::string>& allow_files() const { return allow_files_; }

 private:
  std::vector<RuleRef> rules_;
  std::vector<std::string> allow_files_;  // the policy's sources other than "--allow"
  policy::Policy portless_;               // the rules that parse, ports dropped; id -> rules_
};

// The layers whose events go somewhere other than an address: "unix" (a connection to a daemon's
// unix socket that leads out of the sandbox) and "device" (an open of a device node such as
// /dev/net/tun). Their destination is the event's "path"; no allow rule covers them: a unix socket
// is opened with the cgfw-sandbox option --allow-unix, a device only by --allow-privileged.
inline constexpr std::string_view kUnixLayer = "unix";
inline constexpr std::string_view kDeviceLayer = "device";
bool is_path_layer(std::string_view layer);
// A unix or device event's socket file or device node, control characters replaced; "" when the
// event has none.
std::string event_path(const nlohmann::json& event);
// "--allow-unix /run/docker.sock": the option that leaves that socket reachable, the path quoted
// the way a shell would need it.
std::string allow_unix_option(std::string_view path);
// What opens a device that leads out of the sandbox: no rule, no option short of this one.
inline constexpr std::string_view kDeviceAdvice =
    "no rule or option allows it other than --allow-privileged, which turns every restriction of "
    "the sandbox off";
// `text` as one shell word: unchanged when it is plain, else in single quotes.
std::string shell_quote(std::string_view text);

// True for "a rule allows this address, but not port N/PROTO".
bool is_port_mismatch(const nlohmann::json& event);
// True when the reason says the TLS name and the address do not belong together.
bool is_fronting(const nlohmann::json& event);

// Which names a process resolved to an address: packet events in audit mode carry no name (only
// allowed names are learned), so the name comes from the same process's DNS answers.
class NameIndex {
 public:
  // `wanted(dns_event)` selects the DNS events whose names count (e.g. names that need a rule).
  template <typename Wanted>
  NameIndex(const nlohmann::json& report, Wanted wanted) {
    for (const auto& event : events_of(report))
      if (json_string(event, "layer") == "dns" && wanted(event)) add(event);
  }
  std::set<std::string> names_for(int pid, std::string_view ip) const;
  static const nlohmann::json& events_of(const nlohmann::json& report);

 private:
  void add(const nlohmann::json& dns_event);
  std::map<std::pair<int, std::string>, std::set<std::string>> names_;
};

// "sh -c 'curl …'": the command as one line, quoted the way a shell would need it.
std::string command_line(const nlohmann::json& report);

}  // namespace cgfw::reports
