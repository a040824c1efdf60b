#include "reports/policy_suggest.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <tuple>

#include "policy/domain_name.h"
#include "policy/parser.h"
#include "reports/report_view.h"

namespace cgfw::reports {

using nlohmann::json;

namespace {

constexpr std::size_t kProcessesShown = 4;
constexpr std::size_t kCoveredNamesShown = 6;

struct NameNeed {
  std::set<int> tcp_ports;
  std::set<std::pair<std::string, int>> udp_endpoints;
  std::set<std::string> needed_by;
};

struct AddressNeed {
  std::set<int> tcp_ports;
  std::set<int> udp_ports;
  std::set<std::string> needed_by;
  std::set<std::string> notes;
};

struct WidenNeed {
  std::vector<std::tuple<int, bool, std::string>> ports;  // (port, udp, ip)
  std::set<std::string> needed_by;
};

// A domain or wildcard rule being planned.
struct DomainItem {
  std::string name;  // exact name, or the parent of a wildcard
  bool wildcard = false;
  std::set<int> ports;
  bool udp = false;
  bool lookup_only = false;
  std::set<std::string> needed_by;
  std::set<std::string> covers;  // wildcard: the names it stands for
};

struct Plan {
  std::map<std::string, NameNeed> names;
  std::map<std::string, AddressNeed> addresses;
  std::map<std::string, std::set<std::string>> urls;               // rule -> needed by
  std::map<std::pair<std::string, std::string>, WidenNeed> widen;  // (rule text, location)
  std::map<std::string, std::set<std::string>> unix_sockets;       // path -> needed by
  std::set<std::string> not_suggested;
  std::set<std::string> modes;
};

bool is_web_layer(const std::string& layer) { return layer == "tls" || layer == "http"; }

// `audit`: the event is from an audit run, which blocks unix sockets and devices all the same:
// what it needed of those counts like what it would have been refused.
bool included(const json& event, const SuggestOptions& options, bool audit) {
  if (json_bool(event, "would_block")) return true;
  if (json_string(event, "decision") != "blocked") return false;
  return options.include_blocked || (audit && is_path_layer(json_string(event, "layer")));
}

void add_report(Plan& plan, const json& report, const SuggestOptions& options) {
  plan.modes.insert(json_string(report, "mode"));
  bool audit = json_string(report, "mode") == "audit";
  ReportPolicy policy(report);
  NameIndex needing(report, [&](const json& event) {
    return included(event, options, audit) &&
           (json_bool(event, "would_block") || !json_string(event, "suggested_rule").empty());
  });
  for (const auto& event : NameIndex::events_of(report)) {
    if (!event.is_object() || !included(event, options, audit)) continue;
    const json process = event.value("process", json::object());
    std::string who = process_label(process);
    std::string layer = json_string(event, "layer");
    // Never rule lines: a unix socket is opened by an option, a device by none (short of
    // --allow-privileged, which is not suggested).
    if (layer == kUnixLayer) {
      std::string path = event_path(event);
      if (path.starts_with("/"))
        plan.unix_sockets[path].insert(who);
      else
        plan.not_suggested.insert("a unix socket the report does not name (" + who + ")");
      continue;
    }
    if (layer == kDeviceLayer) {
      std::string path = event_path(event);
      plan.not_suggested.insert((path.empty() ? "a device" : path) + " (" + who +
                                "): " + printable(json_string(event, "reason")) + "; " +
                                std::string(kDeviceAdvice));
      continue;
    }
    std::string domain = json_string(event, "domain");
    std::transform(domain.begin(), domain.end(), domain.begin(),
                   [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
    if (is_ip_literal(domain)) domain.clear();  // an HTTP Host or SNI that is an address
    std::string ip = json_string(event, "ip");
    std::string protocol = json_string(event, "protocol");
    int port = static_cast<int>(json_int(event, "port", 0));
    std::string reason = json_string(event, "reason");
    std::string endpoint = endpoint_text(ip, port, protocol);

    if (is_fronting(event)) {
      plan.not_suggested.insert(
          printable(domain + " at " + endpoint + " (" + who + "): " + reason));
      continue;
    }
    std::string url = is_web_layer(layer) ? json_string(event, "url") : "";
    // A URL to an address is allowed by an address rule, below.
    if (!url.empty() && !is_ip_literal(url_host(url))) {
      std::string rule = url_rule(url);
      if (rule.empty())
        plan.not_suggested.insert(printable(url) + ": not expressible as a URL rule");
      else
        plan.urls[rule].insert(who);
      continue;
    }
    if (layer == "dns") {
      if (domain.empty()) continue;  // a malformed query names nothing
      if (!json_bool(event, "would_block") && json_string(event, "suggested_rule").empty()) {
        plan.not_suggested.insert(printable(domain + ": " + reason));
        continue;
      }
      plan.names[domain].needed_by.insert(who);
      continue;
    }
    // Checked before a refused port widens a rule: every rule line written from here on names
    // this address and port (an address rule, a name's UDP endpoint, the address a widened rule
    // falls back to), so an edited report's "ip": "a b" or "port": 70000 must not reach them.
    if (port <= 0 || port > 65535 || (protocol != "tcp" && protocol != "udp") ||
        !is_ip_literal(ip)) {
      plan.not_suggested.insert(printable(endpoint + " (" + who + "): " + reason));
      continue;
    }
    if (is_port_mismatch(event)) {
      if (auto covering = policy.covering_rule(domain, ip)) {
        WidenNeed& need = plan.widen[{covering->text, covering->location}];
        need.ports.emplace_back(port, protocol == "udp", normalize_ip(ip));
        need.needed_by.insert(who);
        continue;
      }
    }
    int pid = static_cast<int>(json_int(process, "pid", 0));
    std::set<std::string> names =
        domain.empty() ? needing.names_for(pid, ip) : std::set<std::string>{domain};
    for (const auto& name : names) {
      NameNeed& need = plan.names[name];
      need.needed_by.insert(who);
      if (protocol == "udp")
        need.udp_endpoints.insert({normalize_ip(ip), port});
      else
        need.tcp_ports.insert(port);
    }
    if (names.empty()) {
      AddressNeed& need = plan.addresses[normalize_ip(ip)];
      need.needed_by.insert(who);
      (protocol == "udp" ? need.udp_ports : need.tcp_ports).insert(port);
    }
  }
}

// URL rules let their host resolve and reach the proxy on their port, so a name rule for the
// same host on those ports would only undo the URL restriction.
void drop_names_behind_url_rules(Plan& plan) {
  std::map<std::string, std::set<int>> url_ports;
  for (const auto& [rule, who] : plan.urls) {
    auto parsed = policy::parse_rule(rule, "suggestion");
    if (parsed.rules.size() != 1 || !parsed.rules.front().url) continue;
    const auto& pattern = *parsed.rules.front().url;
    url_ports[pattern.host].insert(pattern.port);
  }
  for (auto it = plan.names.begin(); it != plan.names.end();) {
    auto found = url_ports.find(it->first);
    bool covered = found != url_ports.end() && it->second.udp_endpoints.empty() &&
                   std::includes(found->second.begin(), found->second.end(),
                                 it->second.tcp_ports.begin(), it->second.tcp_ports.end());
    it = covered ? plan.names.erase(it) : std::next(it);
  }
}

bool valid_rule(const std::string& text, std::string* why = nullptr) {
  auto parsed = policy::parse_rule(text, "suggestion");
  if (parsed.errors.empty() && parsed.rules.size() == 1) return true;
  if (why && !parsed.errors.empty()) *why = parsed.errors.front().why;
  return false;
}

std::vector<DomainItem> plan_domains(Plan& plan) {
  std::vector<DomainItem> items;
  for (auto& [name, need] : plan.names) {
    DomainItem item;
    item.name = name;
    item.needed_by = need.needed_by;
    std::set<int> udp_ports;
    for (const auto& endpoint : need.udp_endpoints) udp_ports.insert(endpoint.second);
    if (!need.tcp_ports.empty()) {
      item.ports = need.tcp_ports;
      // One transport per rule, and the first rule naming a host decides its ports: UDP to a
      // name also used over TCP is allowed by address.
      for (const auto& [ip, port] : need.udp_endpoints) {
        AddressNeed& address = plan.addresses[ip];
        address.udp_ports.insert(port);
        address.needed_by.insert(need.needed_by.begin(), need.needed_by.end());
        address.notes.insert("UDP to " + name);
      }
    } else if (!udp_ports.empty()) {
      item.ports = udp_ports;
      item.udp = true;
    } else {
      item.ports = {kLookupOnlyPort};
      item.lookup_only = true;
    }
    std::string why;
    if (!valid_rule(domain_rule(name, item.ports, item.udp), &why)) {
      plan.not_suggested.insert(printable(name) + ": " + why);
      continue;
    }
    items.push_back(std::move(item));
  }
  return items;
}

std::string parent_of(const std::string& name) {
  auto dot = name.find('.');
  return dot == std::string::npos ? "" : name.substr(dot + 1);
}

// A wildcard may stand for siblings only over a parent someone owns: at least two labels, not a
// public suffix (ICANN or private), and a valid wildcard for the parser.
bool can_be_wildcard_parent(const std::string& parent) {
  if (parent.find('.') == std::string::npos) return false;
  if (policy::is_public_suffix(parent, policy::SuffixScope::any)) return false;
  return static_cast<bool>(policy::parse_host_pattern("*." + parent));
}

bool is_below(const std::string& name, const std::string& parent) {
  return name.size() > parent.size() + 1 && name.ends_with(parent) &&
         name[name.size() - parent.size() - 1] == '.';
}

void collapse(std::vector<DomainItem>& items, int threshold) {
  if (threshold <= 0) return;
  for (;;) {
    // Parent -> the TCP items directly below it (a wildcard counts as one item of its parent's
    // parent, so folding goes on level by level).
    std::map<std::string, std::set<std::size_t>> groups;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (items[i].udp) continue;
      std::string parent = parent_of(items[i].name);
      if (!parent.empty()) groups[parent].insert(i);
    }
    std::string chosen;
    for (const auto& [parent, members] : groups) {
      if (members.size() < static_cast<std::size_t>(threshold) || !can_be_wildcard_parent(parent))
        continue;
      auto depth = [](const std::string& n) { return std::count(n.begin(), n.end(), '.'); };
      if (chosen.empty() || depth(parent) > depth(chosen)) chosen = parent;
    }
    if (chosen.empty()) return;
    DomainItem folded;
    folded.name = chosen;
    folded.wildcard = true;
    folded.lookup_only = true;
    std::vector<DomainItem> kept;
    for (auto& item : items) {
      if (item.udp || !is_below(item.name, chosen)) {
        kept.push_back(std::move(item));
        continue;
      }
      folded.ports.insert(item.ports.begin(), item.ports.end());
      folded.needed_by.insert(item.needed_by.begin(), item.needed_by.end());
      folded.lookup_only = folded.lookup_only && item.lookup_only;
      if (item.wildcard)
        folded.covers.insert(item.covers.begin(), item.covers.end());
      else
        folded.covers.insert(item.name);
    }
    kept.push_back(std::move(folded));
    items = std::move(kept);
  }
}

std::string reversed_labels(const std::string& name) {
  std::string out;
  std::size_t end = name.size();
  while (true) {
    auto dot = name.rfind('.', end == 0 ? 0 : end - 1);
    if (dot == std::string::npos || end == 0) {
      out += name.substr(0, end);
      break;
    }
    out += name.substr(dot + 1, end - dot - 1) + ".";
    end = dot;
  }
  return out;
}

std::string list_some(const std::set<std::string>& items, std::size_t shown) {
  std::string out;
  std::size_t n = 0;
  for (const auto& item : items) {
    if (n++ == shown) {
      out += ", and " + std::to_string(items.size() - shown) + " more";
      break;
    }
    out += (out.empty() ? "" : ", ") + item;
  }
  return out;
}

std::string needed_by(const std::set<std::string>& who) {
  return "needed by " + list_some(who, kProcessesShown);
}

// Numeric address order: IPv4 before IPv6, then by bytes.
std::array<unsigned char, 17> address_key(const std::string& ip) {
  std::array<unsigned char, 17> key{};
  if (is_ipv6(ip)) {
    key[0] = 1;
    inet_pton(AF_INET6, ip.c_str(), key.data() + 1);
  } else {
    inet_pton(AF_INET, ip.c_str(), key.data() + 1);
  }
  return key;
}

std::string line(const std::string& rule, const std::string& comment) {
  return rule + "  # " + printable(comment) + "\n";
}

}  // namespace

std::string suggest_policy(const std::vector<json>& reports, const SuggestOptions& options) {
  Plan plan;
  for (const auto& report : reports) add_report(plan, report, options);
  drop_names_behind_url_rules(plan);

  // Changed rules: the covering rule widened by each refused port; a port that cannot join it
  // (the other transport) is allowed by address instead, which the kernel adds to any rule.
  std::vector<std::pair<std::string, std::string>> changed;  // (rule, comment)
  for (const auto& [key, need] : plan.widen) {
    const auto& [text, location] = key;
    std::string widened = text;
    for (const auto& [port, udp, ip] : need.ports) {
      std::string next = ReportPolicy::widen(widened, port, udp);
      if (!next.empty()) {
        widened = next;
        continue;
      }
      AddressNeed& address = plan.addresses[ip];
      (udp ? address.udp_ports : address.tcp_ports).insert(port);
      address.needed_by.insert(need.needed_by.begin(), need.needed_by.end());
    }
    if (widened != text)
      changed.push_back(
          {widened, "replaces " + location + " '" + text + "'; " + needed_by(need.needed_by)});
  }

  std::vector<DomainItem> domains = plan_domains(plan);
  collapse(domains, options.collapse_threshold);
  std::sort(domains.begin(), domains.end(), [](const DomainItem& a, const DomainItem& b) {
    return std::make_tuple(a.wildcard, reversed_labels(a.name), a.udp) <
           std::make_tuple(b.wildcard, reversed_labels(b.name), b.udp);
  });

  std::string out;
  out += "# cgfw allow list suggested by 'cgfw policy suggest' from " +
         std::to_string(reports.size()) + (reports.size() == 1 ? " report" : " reports");
  std::string modes;
  for (const auto& mode : plan.modes)
    if (!mode.empty()) modes += (modes.empty() ? "" : ", ") + mode;
  out += modes.empty() ? "\n" : " (" + modes + " mode)\n";
  out += "# What the runs needed that no rule allowed; review every line before using it.\n";

  std::string body;
  if (!domains.empty()) {
    body += "\n# Domains (exact names first: the first rule naming a host decides its ports)\n";
    for (const auto& item : domains) {
      std::string pattern = item.wildcard ? "*." + item.name : item.name;
      std::string comment = needed_by(item.needed_by);
      if (item.wildcard) comment += "; covers " + list_some(item.covers, kCoveredNamesShown);
      if (item.lookup_only)
        comment += "; only looked up, no connection seen: port " + std::to_string(kLookupOnlyPort) +
                   " assumed";
      body += line(domain_rule(pattern, item.ports, item.udp), comment);
    }
  }
  if (!plan.urls.empty()) {
    body += "\n# URLs (one rule per host and first path segment)\n";
    for (const auto& [rule, who] : plan.urls) body += line(rule, needed_by(who));
  }
  std::vector<std::string> addresses;
  for (const auto& [ip, need] : plan.addresses) addresses.push_back(ip);
  std::sort(addresses.begin(), addresses.end(),
            [](const auto& a, const auto& b) { return address_key(a) < address_key(b); });
  if (!addresses.empty()) {
    body += "\n# Addresses\n";
    for (const auto& ip : addresses) {
      const AddressNeed& need = plan.addresses[ip];
      std::string comment = needed_by(need.needed_by);
      if (!need.notes.empty()) comment += "; " + list_some(need.notes, kCoveredNamesShown);
      if (!need.tcp_ports.empty()) body += line(ip_rule(ip, need.tcp_ports), comment);
      if (!need.udp_ports.empty()) body += line(ip_rule(ip, need.udp_ports, true), comment);
    }
  }
  if (!changed.empty()) {
    std::sort(changed.begin(), changed.end());
    body += "\n# Changed rules: each replaces the rule its comment names\n";
    for (const auto& [rule, comment] : changed) body += line(rule, comment);
  }
  if (!plan.unix_sockets.empty()) {
    body += "\n# Unix sockets (cgfw-sandbox options, not rules: no allow file line opens them)\n";
    for (const auto& [path, who] : plan.unix_sockets)
      body += "# also run cgfw-sandbox with " + allow_unix_option(path) +
              " (unix sockets are options, not rules); " + printable(needed_by(who)) + "\n";
  }
  if (!plan.not_suggested.empty()) {
    body += "\n# Not suggested (no allow rule should or can allow these):\n";
    for (const auto& what : plan.not_suggested) body += "#   " + what + "\n";
  }
  if (domains.empty() && plan.urls.empty() && addresses.empty() && changed.empty())
    body = (plan.unix_sockets.empty()
                ? "\n# Nothing to add: everything these runs did was already allowed.\n"
                : "\n# No rule to add: what these runs needed is an option (below).\n") +
           body;
  return out + body;
}

}  // namespace cgfw::reports
