#include "reports/markdown.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "reports/findings.h"
#include "reports/policy_suggest.h"
#include "reports/report_view.h"

namespace cgfw::reports {

using nlohmann::json;

namespace {

// GITHUB_STEP_SUMMARY takes 1 MiB per step; the JSON report has every row anyway.
constexpr std::size_t kMaxRows = 200;
constexpr std::size_t kMaxCommandLength = 100;

std::string code(std::string_view text) {
  std::string body = printable(text);
  if (body.find('`') != std::string::npos) return markdown_cell(body);
  std::string out;
  for (char c : body) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return "`" + out + "`";
}

// A code span outside tables: backticks inside need a longer fence.
std::string inline_code(std::string_view text) {
  std::string body = printable(text);
  if (body.find('`') == std::string::npos) return "`" + body + "`";
  return "`` " + body + " ``";
}

std::string fenced(const std::string& language, const std::string& text) {
  std::size_t longest = 0;
  std::size_t run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  std::string fence(std::max<std::size_t>(3, longest + 1), '`');
  return fence + language + "\n" + text + (text.ends_with("\n") ? "" : "\n") + fence + "\n";
}

std::string plural(std::size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string ports_text(const Finding& f) {
  std::string out;
  if (!f.tcp_ports.empty()) out = port_list(f.tcp_ports) + "/tcp";
  std::set<int> udp;
  for (const auto& endpoint : f.udp_endpoints) udp.insert(endpoint.second);
  if (!udp.empty()) out += (out.empty() ? "" : ", ") + port_list(udp) + "/udp";
  if (out.empty() && f.port > 0) out = std::to_string(f.port) + "/" + f.protocol;
  return out.empty() ? "—" : out;
}

std::string destination_cell(const Finding& f) {
  if (f.destination == endpoint_text(f.ip, f.port, f.protocol))
    return markdown_cell(f.ip + (f.domain.empty() ? "" : " (" + f.domain + ")"));
  return markdown_cell(f.destination);
}

std::string remedy_cell(const Finding& f) {
  if (!f.options_to_add.empty()) {
    std::string out = "run cgfw-sandbox with";
    for (const auto& option : f.options_to_add) out += " " + code(option);
    return out + " (an option: unix sockets are not allow rules)";
  }
  if (f.replaces_existing && f.existing_rule && !f.rules_to_add.empty())
    return "change " + code(f.existing_rule->text) + " (" +
           markdown_cell(f.existing_rule->location) + ") to " + code(f.rules_to_add.front());
  if (!f.rules_to_add.empty()) {
    std::string out;
    for (const auto& rule : f.rules_to_add) out += (out.empty() ? "" : " ") + code(rule);
    return out;
  }
  return markdown_cell(f.advice.empty() ? "—" : f.advice);
}

std::string layers(const Finding& f) {
  std::string out;
  for (const auto& layer : f.layers) out += (out.empty() ? "" : ", ") + layer;
  return out;
}

void finding_table(std::string& out, const std::vector<const Finding*>& rows,
                   const std::string& last_column) {
  out += "| Destination | Port | Layer | Process | Count | " + last_column + " |\n";
  out += "|---|---|---|---|---|---|\n";
  std::size_t shown = 0;
  for (const Finding* f : rows) {
    if (shown++ == kMaxRows) {
      out += "\n… and " + std::to_string(rows.size() - kMaxRows) +
             " more (every one is in the JSON report)\n";
      break;
    }
    out += "| " + destination_cell(*f) + " | " + ports_text(*f) + " | " + layers(*f) + " | " +
           markdown_cell(f->process) + " | " + std::to_string(f->count) + " | " + remedy_cell(*f) +
           " |\n";
  }
}

void allowed_table(std::string& out, const json& report) {
  // (destination, port, layer, process, allowed by) -> count
  std::map<std::tuple<std::string, std::string, std::string, std::string, std::string>,
           std::uint64_t>
      rows;
  for (const auto& event : NameIndex::events_of(report)) {
    if (json_string(event, "decision") != "allowed" || json_bool(event, "would_block")) continue;
    std::string layer = json_string(event, "layer");
    std::string domain = json_string(event, "domain");
    std::string ip = json_string(event, "ip");
    int port = static_cast<int>(json_int(event, "port", 0));
    std::string destination;
    std::string port_text = "—";
    if (layer == "dns") {
      destination = domain;
    } else if (is_path_layer(layer)) {
      destination = event_path(event);
    } else {
      destination = domain.empty() ? ip : domain + " (" + ip + ")";
      port_text = port > 0 ? std::to_string(port) + "/" + json_string(event, "protocol")
                           : json_string(event, "protocol");
    }
    std::string by;
    if (event.contains("rule") && event["rule"].is_object()) {
      by = code(json_string(event["rule"], "text")) + " (" +
           markdown_cell(json_string(event["rule"], "location")) + ")";
    } else {
      std::string reason = json_string(event, "reason");
      by = markdown_cell(reason.empty() ? "no rule recorded" : reason);
    }
    std::string process = process_label(event.value("process", json::object()));
    rows[{destination, port_text, layer, process, by}] +=
        static_cast<std::uint64_t>(std::max<std::int64_t>(1, json_int(event, "count", 1)));
  }
  if (rows.empty()) return;
  out += "\n### Allowed\n\n";
  out += "| Destination | Port | Layer | Process | Count | Allowed by |\n";
  out += "|---|---|---|---|---|---|\n";
  std::size_t shown = 0;
  for (const auto& [key, count] : rows) {
    if (shown++ == kMaxRows) {
      out += "\n… and " + std::to_string(rows.size() - kMaxRows) +
             " more (every one is in the JSON report)\n";
      break;
    }
    const auto& [destination, port, layer, process, by] = key;
    out += "| " + markdown_cell(destination) + " | " + markdown_cell(port) + " | " + layer + " | " +
           markdown_cell(process) + " | " + std::to_string(count) + " | " + by + " |\n";
  }
}

std::string command_text(const json& report) {
  std::string command = command_line(report);
  if (command.size() > kMaxCommandLength) {
    std::size_t cut = kMaxCommandLength;
    while (cut > 0 && (static_cast<unsigned char>(command[cut]) & 0xC0) == 0x80) --cut;
    command = command.substr(0, cut) + "…";
  }
  return command.empty() ? "" : " — " + inline_code(command);
}

}  // namespace

std::string markdown_cell(std::string_view text) {
  std::string out;
  for (char c : printable(text)) {
    if (c == '|' || c == '`') out += '\\';
    out += c;
  }
  return out.empty() ? "—" : out;
}

std::string make_markdown(const json& report) {
  std::string mode = json_string(report, "mode");
  bool audit = mode == "audit";
  std::vector<Finding> findings = collect_findings(report);
  std::vector<const Finding*> stopped;
  std::vector<const Finding*> suspicious;
  // Audit mode: the unix sockets and devices it blocked all the same (it does not open them).
  std::vector<const Finding*> blocked_in_audit;
  std::set<std::string> destinations;
  std::set<std::string> unix_sockets;
  std::set<std::string> devices;
  for (const auto& f : findings) {
    if (f.kind == FindingKind::exfiltration_name) {
      suspicious.push_back(&f);
    } else if (audit && is_path_kind(f.kind)) {
      blocked_in_audit.push_back(&f);
      (f.kind == FindingKind::blocked_device ? devices : unix_sockets).insert(f.destination);
    } else {
      stopped.push_back(&f);
      destinations.insert(f.destination);
    }
  }

  std::string out;
  std::string mode_text = !audit                     ? mode + " mode"
                          : blocked_in_audit.empty() ? "audit mode: nothing was blocked"
                                                     : "audit mode: only unix sockets and devices "
                                                       "were blocked";
  if (destinations.empty()) {
    out += audit ? "**cgfw: every destination was in the allow list" : "**cgfw: no egress blocked";
  } else {
    out += "**cgfw: " + plural(destinations.size(), "destination") +
           (audit ? " not in the allow list" : " blocked");
  }
  if (!blocked_in_audit.empty()) {
    std::string what = unix_sockets.empty() ? "" : plural(unix_sockets.size(), "unix socket");
    if (!devices.empty()) what += (what.empty() ? "" : " and ") + plural(devices.size(), "device");
    out += "; " + what + " blocked";
  }
  out += "** (" + mode_text + ")" + command_text(report) + "\n";

  if (!blocked_in_audit.empty()) {
    out += "\n### Blocked\n\n";
    out +=
        "Unix sockets of daemons outside the sandbox and devices that bypass it are blocked in "
        "audit mode too.\n\n";
    finding_table(out, blocked_in_audit, "To allow it");
  }
  if (!stopped.empty()) {
    out += audit ? "\n### Would be blocked\n\n" : "\n### Blocked\n\n";
    finding_table(out, stopped, "Rule to add");
  }
  if (!suspicious.empty()) {
    out += "\n### Suspicious names\n\n";
    out += "Names below an allowed wildcard that look like data sent out through DNS.\n\n";
    out += "| Allowed by | Names | Process | Count | Why |\n|---|---|---|---|---|\n";
    for (const Finding* f : suspicious) {
      std::string names;
      std::size_t n = 0;
      for (const auto& name : f->names) {
        if (n++ == 3) {
          names += ", … (" + std::to_string(f->names.size()) + " in all)";
          break;
        }
        names += (names.empty() ? "" : ", ") + name;
      }
      out += "| " + code(f->destination) + " | " + markdown_cell(names) + " | " +
             markdown_cell(f->process) + " | " + std::to_string(f->count) + " | " +
             markdown_cell(f->suspicious) + " |\n";
    }
  }
  allowed_table(out, report);

  if (audit && (!stopped.empty() || !blocked_in_audit.empty())) {
    out += "\n### Suggested allow list\n\n";
    out +=
        "Everything this run did that the allow list does not allow "
        "(`cgfw policy suggest REPORT.json`):\n\n";
    out += fenced("text", suggest_policy({report}));
  } else if (!audit && !stopped.empty()) {
    out += "\n### Rules to add\n\n";
    out +=
        "If the job needs what was blocked "
        "(`cgfw policy suggest --include-blocked REPORT.json`):\n\n";
    SuggestOptions options;
    options.include_blocked = true;
    out += fenced("text", suggest_policy({report}, options));
  }

  if (report.contains("warnings") && report["warnings"].is_array() && !report["warnings"].empty()) {
    out += "\n### Warnings\n\n";
    for (const auto& warning : report["warnings"])
      if (warning.is_string()) out += "- " + printable(warning.get<std::string>()) + "\n";
  }

  const json summary = report.value("summary", json::object());
  std::string sources;
  if (report.contains("policy") && report["policy"].is_object() &&
      report["policy"].contains("sources") && report["policy"]["sources"].is_array())
    for (const auto& source : report["policy"]["sources"])
      if (source.is_string()) sources += (sources.empty() ? "" : ", ") + source.get<std::string>();
  out += "\n" + plural(static_cast<std::size_t>(json_int(summary, "events", 0)), "event") + ": " +
         std::to_string(json_int(summary, "allowed", 0)) + " allowed, " +
         std::to_string(json_int(summary, "blocked", 0)) + " blocked, " +
         std::to_string(json_int(summary, "would_block", 0)) +
         " would block · policy: " + printable(sources.empty() ? "none" : sources);
  if (report.contains("exit_status") && report["exit_status"].is_number_integer())
    out += " · command exit status " + std::to_string(report["exit_status"].get<int>());
  else if (json_int(report, "signal", 0) > 0)
    out += " · command killed by signal " + std::to_string(json_int(report, "signal", 0));
  std::string version = report.contains("tool") ? json_string(report["tool"], "version") : "";
  out += " · cgfw " + printable(version.empty() ? CGFW_VERSION : version) + "\n";
  return out;
}

}  // namespace cgfw::reports
