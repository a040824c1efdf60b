#include "reports/findings.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace cgfw::reports {

using nlohmann::json;

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  return out;
}

bool is_web_layer(std::string_view layer) { return layer == "tls" || layer == "http"; }

std::string parent_of(std::string_view name) {
  auto dot = name.find('.');
  return dot == std::string_view::npos ? std::string(name) : std::string(name.substr(dot + 1));
}

}  // namespace

const char* kind_id(FindingKind kind) {
  switch (kind) {
    case FindingKind::blocked_domain:
      return "blocked-domain";
    case FindingKind::blocked_ip:
      return "blocked-ip";
    case FindingKind::blocked_url:
      return "blocked-url";
    case FindingKind::domain_fronting:
      return "domain-fronting";
    case FindingKind::exfiltration_name:
      return "dns-exfiltration-shaped-name";
    case FindingKind::audit_not_allowed:
      return "audit-not-in-allow-list";
    case FindingKind::blocked_unix_socket:
      return "blocked-unix-socket";
    case FindingKind::blocked_device:
      return "blocked-device";
  }
  return "unknown";
}

bool is_blocking(FindingKind kind) { return kind != FindingKind::exfiltration_name; }

bool is_path_kind(FindingKind kind) {
  return kind == FindingKind::blocked_unix_socket || kind == FindingKind::blocked_device;
}

namespace {

// What the rule lines of a finding are computed from, beyond the Finding itself.
struct Evidence {
  std::set<std::string> suggested_rules;
  std::string url;
  std::vector<std::pair<int, bool>> refused_ports;  // port mismatches: (port, udp)
  bool endpoint_destination = false;                // the destination is an address, not a name
};

struct Slot {
  Finding finding;
  Evidence evidence;
};

using SlotKey = std::tuple<int, std::string, std::string>;

void fold(Slot& slot, const json& event, const ReportPolicy& policy) {
  Finding& f = slot.finding;
  const json process = event.value("process", json::object());
  std::string layer = json_string(event, "layer");
  std::string protocol = json_string(event, "protocol");
  std::string ip = json_string(event, "ip");
  int port = static_cast<int>(json_int(event, "port", 0));
  if (layer == "dns") {
    if (f.resolver.empty()) f.resolver = ip;
  } else if (f.ip.empty()) {
    f.ip = ip;
    f.port = port;
    f.protocol = protocol;
  }
  if (f.count == 0) {
    f.reason = json_string(event, "reason");
    f.process = process_label(process);
    f.process_key = process_key(process);
    if (process.contains("cmdline") && process["cmdline"].is_array())
      for (const auto& arg : process["cmdline"])
        if (arg.is_string()) f.cmdline.push_back(arg.get<std::string>());
  }
  if (std::string domain = lower(json_string(event, "domain"));
      f.domain.empty() && !is_ip_literal(domain))
    f.domain = domain;
  f.count += static_cast<std::uint64_t>(std::max<std::int64_t>(1, json_int(event, "count", 1)));
  if (int pid = static_cast<int>(json_int(process, "pid", 0)); pid > 0) f.pids.insert(pid);
  f.layers.insert(layer);
  if (layer != "dns" && port > 0) {
    if (protocol == "udp")
      f.udp_endpoints.insert({normalize_ip(ip), port});
    else if (protocol == "tcp")
      f.tcp_ports.insert(port);
  }
  // A unix event's "suggested_rule" is an option ("--allow-unix PATH"), never a rule line.
  std::string suggested = json_string(event, "suggested_rule");
  if (!suggested.empty() && !is_path_layer(layer)) slot.evidence.suggested_rules.insert(suggested);
  std::string url = json_string(event, "url");
  if (slot.evidence.url.empty() && !url.empty()) slot.evidence.url = url;
  if (is_port_mismatch(event) && port > 0) {
    slot.evidence.refused_ports.push_back({port, protocol == "udp"});
    if (!f.existing_rule) f.existing_rule = policy.covering_rule(json_string(event, "domain"), ip);
  }
}

// Widens the covering rule by every refused port; false when one of them cannot be added.
bool widen_existing(Finding& f, const Evidence& evidence) {
  if (!f.existing_rule || evidence.refused_ports.empty()) return false;
  std::string text = f.existing_rule->text;
  for (const auto& [port, udp] : evidence.refused_ports) {
    text = ReportPolicy::widen(text, port, udp);
    if (text.empty()) return false;
  }
  f.rules_to_add = {text};
  f.replaces_existing = true;
  return true;
}

// The rules for a name: its TCP ports in one rule; UDP traffic too in the same rule only when
// there was no TCP (a rule has one transport, and the first rule for a name decides its ports).
void name_rules(Finding& f) {
  std::set<int> udp_ports;
  for (const auto& endpoint : f.udp_endpoints) udp_ports.insert(endpoint.second);
  if (!f.tcp_ports.empty() || udp_ports.empty()) {
    f.rules_to_add.push_back(domain_rule(f.destination, f.tcp_ports));
    for (const auto& [ip, port] : f.udp_endpoints)
      f.rules_to_add.push_back(ip_rule(ip, {port}, true));
  } else {
    f.rules_to_add.push_back(domain_rule(f.destination, udp_ports, true));
  }
}

void endpoint_rules(Finding& f, const Evidence& evidence) {
  if (!evidence.suggested_rules.empty()) {
    f.rules_to_add.assign(evidence.suggested_rules.begin(), evidence.suggested_rules.end());
  } else if (f.port > 0 && (f.protocol == "tcp" || f.protocol == "udp")) {
    f.rules_to_add.push_back(ip_rule(f.ip, {f.port}, f.protocol == "udp"));
  } else {
    f.advice = "no allow rule can allow this: " + (f.reason.empty() ? "blocked" : f.reason);
  }
}

void url_rules(Finding& f, const Evidence& evidence) {
  if (is_ip_literal(url_host(evidence.url)) && f.port > 0) {
    f.rules_to_add.push_back(ip_rule(f.ip, {f.port}));
  } else if (std::string rule = url_rule(evidence.url); !rule.empty()) {
    f.rules_to_add.push_back(rule);
  }
}

void decide_rules(Slot& slot) {
  Finding& f = slot.finding;
  const Evidence& evidence = slot.evidence;
  switch (f.kind) {
    case FindingKind::blocked_domain:
      if (widen_existing(f, evidence)) break;
      if (!evidence.suggested_rules.empty() || !f.tcp_ports.empty() || !f.udp_endpoints.empty())
        name_rules(f);
      else
        f.advice = "the name is allowed; this is not a policy matter: " + f.reason;
      break;
    case FindingKind::blocked_ip:
      if (widen_existing(f, evidence)) break;
      endpoint_rules(f, evidence);
      break;
    case FindingKind::blocked_url:
      url_rules(f, evidence);
      break;
    case FindingKind::domain_fronting:
      f.advice =
          "do not allow this: the TLS name was sent to an address that was not resolved for it "
          "(domain fronting hides the real destination behind an allowed name)";
      break;
    case FindingKind::exfiltration_name:
      f.advice = "names like this carry data out through DNS; replace the wildcard" +
                 (f.existing_rule ? " '" + f.existing_rule->text + "'" : std::string()) +
                 " with the exact names the job needs";
      break;
    case FindingKind::audit_not_allowed:
      if (widen_existing(f, evidence)) break;
      if (!evidence.url.empty()) {
        url_rules(f, evidence);
      } else if (evidence.endpoint_destination) {
        endpoint_rules(f, evidence);
      } else {
        name_rules(f);
      }
      break;
    case FindingKind::blocked_unix_socket:
      if (f.destination.starts_with("/"))
        f.options_to_add.push_back(allow_unix_option(f.destination));
      else
        f.advice = "the report does not say which socket; --allow-unix PATH leaves one reachable";
      break;
    case FindingKind::blocked_device:
      f.advice = std::string(kDeviceAdvice);
      break;
  }
}

}  // namespace

std::vector<Finding> collect_findings(const json& report) {
  ReportPolicy policy(report);
  // Names that needed a rule: an address they resolved to is reported under the name.
  NameIndex unallowed(report, [](const json& event) { return json_bool(event, "would_block"); });
  std::map<SlotKey, Slot> slots;
  auto slot_for = [&](FindingKind kind, const std::string& destination,
                      const json& event) -> Slot& {
    const json process = event.value("process", json::object());
    Slot& slot = slots[{static_cast<int>(kind), destination, process_key(process)}];
    slot.finding.kind = kind;
    slot.finding.destination = destination;
    return slot;
  };

  for (const auto& event : NameIndex::events_of(report)) {
    if (!event.is_object()) continue;
    std::string decision = json_string(event, "decision");
    bool would_block = json_bool(event, "would_block");
    std::string layer = json_string(event, "layer");
    std::string domain = lower(json_string(event, "domain"));
    if (is_ip_literal(domain)) domain.clear();  // an HTTP Host or SNI that is an address
    std::string url = json_string(event, "url");
    std::string ip = json_string(event, "ip");
    std::string endpoint = endpoint_text(ip, static_cast<int>(json_int(event, "port", 0)),
                                         json_string(event, "protocol"));

    if (std::string suspicious = json_string(event, "suspicious"); !suspicious.empty()) {
      std::string rule_text = event.contains("rule") ? json_string(event["rule"], "text") : "";
      Slot& slot = slot_for(FindingKind::exfiltration_name,
                            rule_text.empty() ? "*." + parent_of(domain) : rule_text, event);
      if (slot.finding.suspicious.empty()) slot.finding.suspicious = suspicious;
      if (!rule_text.empty() && !slot.finding.existing_rule)
        slot.finding.existing_rule =
            ReportPolicy::RuleRef{rule_text, json_string(event["rule"], "location")};
      slot.finding.names.insert(json_string(event, "domain"));  // as seen: case can be data
      fold(slot, event, policy);
    }
    if (decision != "blocked" && !would_block) continue;

    std::vector<std::pair<FindingKind, std::string>> targets;
    bool endpoint_destination = false;
    if (is_path_layer(layer)) {
      // Blocked in every mode: audit mode does not open them. An event written as allowed (not
      // by this version) is not a finding: nothing tells what to allow.
      if (decision != "blocked") continue;
      std::string path = event_path(event);
      bool unix_socket = layer == kUnixLayer;
      targets.push_back(
          {unix_socket ? FindingKind::blocked_unix_socket : FindingKind::blocked_device,
           path.empty() ? (unix_socket ? "(unknown unix socket)" : "(unknown device)") : path});
    } else if (is_fronting(event)) {
      targets.push_back({FindingKind::domain_fronting, domain + " at " + endpoint});
    } else if (decision == "blocked") {
      if (is_web_layer(layer) && !url.empty()) {
        targets.push_back({FindingKind::blocked_url, url_without_query(url)});
      } else if (layer == "dns" || (is_web_layer(layer) && !domain.empty())) {
        targets.push_back(
            {FindingKind::blocked_domain, domain.empty() ? "(malformed DNS query)" : domain});
      } else {
        targets.push_back({FindingKind::blocked_ip, endpoint});
        endpoint_destination = true;
      }
    } else if (is_web_layer(layer) && !url.empty()) {
      targets.push_back({FindingKind::audit_not_allowed, url_without_query(url)});
    } else if (!domain.empty()) {
      targets.push_back({FindingKind::audit_not_allowed, domain});
    } else {
      int pid = static_cast<int>(json_int(event.value("process", json::object()), "pid", 0));
      auto names = layer == "packet" ? unallowed.names_for(pid, ip) : std::set<std::string>{};
      for (const auto& name : names) targets.push_back({FindingKind::audit_not_allowed, name});
      if (names.empty()) {
        targets.push_back({FindingKind::audit_not_allowed, endpoint});
        endpoint_destination = true;
      }
    }
    for (const auto& [kind, destination] : targets) {
      Slot& slot = slot_for(kind, destination, event);
      slot.evidence.endpoint_destination = endpoint_destination;
      fold(slot, event, policy);
    }
  }

  std::vector<Finding> out;
  for (auto& [key, slot] : slots) {
    decide_rules(slot);
    out.push_back(std::move(slot.finding));
  }
  return out;  // std::map order: kind, destination, process
}

}  // namespace cgfw::reports
