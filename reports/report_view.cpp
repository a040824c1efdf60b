#include "reports/report_view.h"

#include <sys/socket.h>

#include <algorithm>

#include "policy/ip_literal.h"
#include "policy/matcher.h"
#include "policy/parser.h"

namespace cgfw::reports {

using nlohmann::json;

namespace {

constexpr std::string_view kPortMismatch = "a rule allows this address, but not port";

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  return out;
}

bool parses_as_one_rule(const std::string& text) {
  auto parsed = policy::parse_rule(text, "suggestion");
  return parsed.errors.empty() && parsed.rules.size() == 1;
}

}  // namespace

std::optional<json> parse_report(const std::string& text, std::string& why) {
  // Parsing does not recurse, but copying, comparing and dumping a json value recurse once per
  // level: a "[[[[…]]]]" a million deep in "summary" or "process" would overflow the stack in
  // make_markdown or make_sarif. Reports are 6 levels deep (event -> process -> ancestors -> exe);
  // deeper values are dropped while parsing, never built, and the file refused.
  bool too_deep = false;
  json report;
  try {
    report = json::parse(text, [&](int depth, json::parse_event_t, json&) {
      too_deep = too_deep || depth > kMaxReportDepth;
      return !too_deep;
    });
  } catch (const json::exception& error) {
    why = std::string("not valid JSON (") + error.what() + ")";
    return std::nullopt;
  }
  if (too_deep) {
    why = "not a cgfw report (JSON nested more than " + std::to_string(kMaxReportDepth) +
          " levels deep)";
    return std::nullopt;
  }
  if (!report.is_object() || !report.contains("events") || !report["events"].is_array() ||
      !report.contains("mode") || !report["mode"].is_string()) {
    why =
        "not a cgfw report (a JSON object with 'mode' and 'events', as written by "
        "cgfw-sandbox --report-json)";
    return std::nullopt;
  }
  return report;
}

std::string json_string(const json& object, std::string_view key) {
  if (!object.is_object()) return "";
  auto found = object.find(std::string(key));
  if (found == object.end() || !found->is_string()) return "";
  return found->get<std::string>();
}

std::int64_t json_int(const json& object, std::string_view key, std::int64_t fallback) {
  if (!object.is_object()) return fallback;
  auto found = object.find(std::string(key));
  if (found == object.end() || !found->is_number_integer()) return fallback;
  return found->get<std::int64_t>();
}

bool json_bool(const json& object, std::string_view key) {
  if (!object.is_object()) return false;
  auto found = object.find(std::string(key));
  return found != object.end() && found->is_boolean() && found->get<bool>();
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    out.push_back(byte < 0x20 || byte == 0x7f ? '?' : c);
  }
  return out;
}

std::string process_label(const json& process) {
  std::string label = "unknown process";
  std::string exe = json_string(process, "exe");
  std::string comm = json_string(process, "comm");
  if (!exe.empty())
    label = printable(exe);
  else if (!comm.empty())
    label = printable(comm) + " (executable unknown)";
  // A container's process: which container (its name, else its id) says more than the path.
  if (auto container = process.find("container");
      container != process.end() && container->is_object()) {
    std::string name = json_string(*container, "name");
    if (name.empty()) name = json_string(*container, "id").substr(0, 12);
    if (!name.empty()) label += " in container " + printable(name);
  }
  return label;
}

std::string process_key(const json& process) {
  std::string exe = json_string(process, "exe");
  if (!exe.empty()) return exe;
  return "comm:" + json_string(process, "comm");
}

std::string normalize_ip(std::string_view ip) {
  std::string text = lower(ip);
  constexpr std::string_view kMapped = "::ffff:";
  if (text.starts_with(kMapped) && text.find('.') != std::string::npos)
    return text.substr(kMapped.size());
  return text;
}

bool is_ipv6(std::string_view ip) { return ip.find(':') != std::string_view::npos; }

std::string endpoint_text(std::string_view ip, int port, std::string_view protocol) {
  std::string host = is_ipv6(ip) ? "[" + std::string(ip) + "]" : std::string(ip);
  if (port <= 0) return host + "/" + std::string(protocol);
  return host + ":" + std::to_string(port) + "/" + std::string(protocol);
}

std::string port_list(const std::set<int>& ports) {
  std::string out;
  for (int port : ports) out += (out.empty() ? "" : ",") + std::to_string(port);
  return out;
}

std::string domain_rule(std::string_view name, const std::set<int>& ports, bool udp) {
  if (ports.empty()) return std::string(name) + ":" + std::to_string(kLookupOnlyPort);
  return std::string(name) + ":" + port_list(ports) + (udp ? "/udp" : "");
}

std::string ip_rule(std::string_view ip, const std::set<int>& ports, bool udp) {
  std::string address = normalize_ip(ip);
  std::string host = is_ipv6(address) ? "[" + address + "]" : address;
  if (ports.empty()) return host;
  return host + ":" + port_list(ports) + (udp ? "/udp" : "");
}

std::string url_without_query(std::string_view url) {
  auto cut = url.find_first_of("?#");
  return std::string(url.substr(0, cut));
}

std::string url_host(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "";
  std::string_view authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (authority.starts_with("[")) {
    auto close = authority.find(']');
    return close == std::string_view::npos ? "" : lower(authority.substr(1, close - 1));
  }
  return lower(authority.substr(0, authority.rfind(':')));
}

bool is_ip_literal(std::string_view host) {
  std::string text = normalize_ip(host);
  return policy::parse_ipv4(text).has_value() || policy::parse_ipv6(text).has_value();
}

std::string url_rule(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "";
  std::string scheme = lower(url.substr(0, scheme_end));
  if (scheme != "https" && scheme != "http") return "";
  std::string_view rest = url.substr(scheme_end + 3);
  auto authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string host;
  std::string port;
  if (authority.starts_with("[")) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return "";
    host = lower(authority.substr(0, close + 1));
    std::string_view after = authority.substr(close + 1);
    if (after.starts_with(":")) port = after.substr(1);
  } else {
    auto colon = authority.rfind(':');
    host = lower(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (host.empty()) return "";
  if ((scheme == "https" && port == "443") || (scheme == "http" && port == "80")) port.clear();
  std::string origin = scheme + "://" + host + (port.empty() ? "" : ":" + port);

  // Requests are grouped by their first path segment: "/org/repo/x" and "/org/other" both fall
  // under "/org*", which also matches "/org" itself (a trailing '*' matches at a '/' boundary).
  std::string path = authority_end == std::string_view::npos
                         ? std::string()
                         : url_without_query(rest.substr(authority_end));
  std::string rule;
  if (path.size() <= 1) {
    rule = origin + "/";
  } else {
    auto second = path.find('/', 1);
    std::string segment =
        path.substr(1, second == std::string::npos ? std::string::npos : second - 1);
    rule = segment.empty() ? origin + "/" : origin + "/" + segment + "*";
  }
  if (parses_as_one_rule(rule)) return rule;
  // A segment the grammar refuses ('.', '..', characters outside pchar): the whole site.
  rule = origin + "/*";
  return parses_as_one_rule(rule) ? rule : "";
}

std::optional<TextLocation> parse_location(std::string_view location) {
  auto column_colon = location.rfind(':');
  if (column_colon == std::string_view::npos || column_colon == 0) return std::nullopt;
  auto line_colon = location.rfind(':', column_colon - 1);
  if (line_colon == std::string_view::npos) return std::nullopt;
  std::string_view line_text = location.substr(line_colon + 1, column_colon - line_colon - 1);
  std::string_view column_text = location.substr(column_colon + 1);
  auto all_digits = [](std::string_view text) {
    return !text.empty() && text.size() < 9 &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!all_digits(line_text) || !all_digits(column_text)) return std::nullopt;
  TextLocation out;
  out.file = std::string(location.substr(0, line_colon));
  out.line = std::stoi(std::string(line_text));
  if (out.file.empty()) return std::nullopt;
  return out;
}

bool is_command_line_location(std::string_view location) { return location.starts_with("--allow"); }

ReportPolicy::ReportPolicy(const json& report) {
  const json& policy = report.is_object() && report.contains("policy") ? report["policy"] : json();
  if (policy.is_object() && policy.contains("sources") && policy["sources"].is_array()) {
    for (const auto& source : policy["sources"])
      if (source.is_string() && source.get<std::string>() != "--allow" &&
          source.get<std::string>() != "--deny" && !source.get<std::string>().ends_with(" (deny)"))
        allow_files_.push_back(source.get<std::string>());
  }
  if (!policy.is_object() || !policy.contains("rules") || !policy["rules"].is_array()) return;
  for (const auto& rule : policy["rules"]) {
    // Which allow rule covers a destination: deny rules and rules removed during the run do not.
    if (json_string(rule, "effect") == "deny" || (rule.is_object() && rule.contains("removed")))
      continue;
    RuleRef ref{json_string(rule, "text"), json_string(rule, "location")};
    auto parsed = policy::parse_rule(ref.text, "report");
    rules_.push_back(ref);
    if (!parsed.errors.empty() || parsed.rules.size() != 1) continue;
    policy::Rule portless = parsed.rules.front();
    portless.ports.clear();  // every TCP port: the question is "which rule names this host"
    portless.id = static_cast<std::uint32_t>(rules_.size() - 1);
    portless_.rules.push_back(std::move(portless));
  }
}

std::optional<ReportPolicy::RuleRef> ReportPolicy::covering_rule(std::string_view domain,
                                                                 std::string_view ip) const {
  const policy::Rule* found = nullptr;
  if (!domain.empty()) {
    found = policy::match_domain(portless_, policy::normalize_domain(domain));
  } else {
    std::string address = normalize_ip(ip);
    auto prefix = is_ipv6(address) ? policy::parse_ipv6(address) : policy::parse_ipv4(address);
    if (prefix)
      found =
          policy::match_ip(portless_, prefix->family, prefix->address, 1, policy::Transport::tcp);
  }
  if (!found || found->id >= rules_.size()) return std::nullopt;
  return rules_[found->id];
}

std::string ReportPolicy::widen(std::string_view rule_text, int port, bool udp) {
  auto parsed = policy::parse_rule(rule_text, "report");
  if (!parsed.errors.empty() || parsed.rules.size() != 1) return "";
  const policy::Rule& rule = parsed.rules.front();
  if (rule.kind == policy::RuleKind::url || rule.ports.empty() || port <= 0 || port > 65535)
    return "";
  auto transport = udp ? policy::Transport::udp : policy::Transport::tcp;
  std::vector<policy::PortRange> ranges;
  for (const auto& range : rule.ports) {
    if (range.transport != transport) return "";  // one transport per rule
    ranges.push_back(range);
  }
  if (policy::allows_port(rule, static_cast<std::uint16_t>(port), transport))
    return std::string(rule_text);
  ranges.push_back({static_cast<std::uint16_t>(port), static_cast<std::uint16_t>(port), transport});
  std::sort(ranges.begin(), ranges.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first, a.last) < std::tie(b.first, b.last);
  });
  std::string ports;
  for (const auto& range : ranges) {
    ports += ports.empty() ? "" : ",";
    ports += std::to_string(range.first);
    if (range.last != range.first) ports += "-" + std::to_string(range.last);
  }
  std::string base(rule_text.substr(0, rule_text.rfind(':')));
  std::string widened = base + ":" + ports + (udp ? "/udp" : "");
  return parses_as_one_rule(widened) ? widened : "";
}

bool is_path_layer(std::string_view layer) { return layer == kUnixLayer || layer == kDeviceLayer; }

std::string event_path(const json& event) { return printable(json_string(event, "path")); }

std::string allow_unix_option(std::string_view path) {
  return "--allow-unix " + shell_quote(printable(path));
}

std::string shell_quote(std::string_view text) {
  bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_@%+=:,./-").find(c) != std::string_view::npos;
  });
  if (plain) return std::string(text);
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

bool is_port_mismatch(const json& event) {
  return json_string(event, "reason").starts_with(kPortMismatch);
}

bool is_fronting(const json& event) {
  return lower(json_string(event, "reason")).find("fronting") != std::string::npos;
}

const json& NameIndex::events_of(const json& report) {
  static const json kNone = json::array();
  if (!report.is_object()) return kNone;
  auto found = report.find("events");
  return found != report.end() && found->is_array() ? *found : kNone;
}

void NameIndex::add(const json& dns_event) {
  std::string name = lower(json_string(dns_event, "domain"));
  if (name.empty() || !dns_event.contains("answers") || !dns_event["answers"].is_array()) return;
  int pid = static_cast<int>(json_int(dns_event.value("process", json::object()), "pid", 0));
  if (pid <= 0) return;
  for (const auto& answer : dns_event["answers"]) {
    if (!answer.is_string()) continue;
    const std::string& text = answer.get_ref<const std::string&>();
    if (text.starts_with("CNAME ")) continue;
    names_[{pid, normalize_ip(text)}].insert(name);
  }
}

std::set<std::string> NameIndex::names_for(int pid, std::string_view ip) const {
  auto found = names_.find({pid, normalize_ip(ip)});
  return found == names_.end() ? std::set<std::string>{} : found->second;
}

std::string command_line(const json& report) {
  std::string out;
  if (!report.is_object() || !report.contains("command") || !report["command"].is_array())
    return out;
  for (const auto& arg : report["command"]) {
    if (!arg.is_string()) continue;
    out += (out.empty() ? "" : " ") + shell_quote(arg.get_ref<const std::string&>());
  }
  return printable(out);
}

}  // namespace cgfw::reports
