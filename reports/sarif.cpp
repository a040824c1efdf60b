#include "reports/sarif.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "reports/findings.h"
#include "reports/report_view.h"

namespace cgfw::reports {

using nlohmann::json;

namespace {

constexpr const char* kSchemaUri = "https://json.schemastore.org/sarif-2.1.0.json";
constexpr const char* kInformationUri = "https://github.com/cgfw/cgfw";
constexpr const char* kHelpUri = "https://github.com/cgfw/cgfw/blob/main/docs/reports.md";
constexpr const char* kSourceRootId = "%SRCROOT%";
constexpr const char* kFingerprintKey = "cgfwDestination/v1";

struct KindText {
  const char* name;
  const char* level;
  const char* security_severity;
  const char* precision;
  const char* short_description;
  const char* full_description;
  const char* help_markdown;  // the plain-text help is this without its Markdown marks
};

constexpr const char* kHowToAllow =
    "\n\n**How to allow it**: if the job really needs it, add the rule line given in the result "
    "to the allow file passed with `--allow-file` (or pass it as `--allow RULE`); the result's "
    "location is the line to change or the place a new line goes. `cgfw policy suggest "
    "REPORT.json` writes every missing line at once. Rules are described in `docs/rules.md`: "
    "`example.com:443` allows one name on one port, `*.example.com:443` every name below a "
    "domain you control, `198.51.100.7:443` one address.\n\n**If it should not happen**: the "
    "result names the process and its command line; find the step that ran it.";

const KindText& kind_text(FindingKind kind) {
  static const std::map<FindingKind, KindText> kTexts = {
      {FindingKind::blocked_domain,
       {"BlockedDomain", "error", "5.0", "very-high", "A host name no allow rule names was refused",
        "cgfw refused a DNS query (or a TLS connection) for a host name that no rule in the allow "
        "list names, so the job could not reach that host.",
        "**What happened**: a process in the job asked for a host name that no allow rule names. "
        "cgfw answered the query with NXDOMAIN (or refused the connection), so nothing reached "
        "the host."}},
      {FindingKind::blocked_ip,
       {"BlockedIp", "error", "5.0", "very-high",
        "A connection to an address no allow rule allows was refused",
        "cgfw's kernel filter refused a connection (or a UDP datagram) to an address and port "
        "that no rule allows: the address was never resolved from an allowed name, or a rule "
        "names it but not this port.",
        "**What happened**: a process connected to an IP address and port that no allow rule "
        "covers. The kernel refused the connection at `connect()` (or dropped the datagram). When "
        "a rule names the address but not the port, the result points at that rule and gives "
        "the rule widened by the port."}},
      {FindingKind::blocked_url,
       {"BlockedUrl", "error", "5.0", "very-high",
        "An HTTP request to a URL no URL rule allows was refused",
        "cgfw's web proxy refused an HTTP request whose URL no URL rule allows.",
        "**What happened**: a process sent an HTTP request (inside TLS, seen through cgfw's "
        "per-run CA, or plain HTTP) to a URL that no URL rule allows. The proxy answered it "
        "itself; the request never left."}},
      {FindingKind::domain_fronting,
       {"DomainFronting", "error", "8.0", "high",
        "A TLS connection named an allowed host but went to another host's address",
        "A TLS ClientHello named an allowed host, but the connection went to an address that was "
        "never resolved for that name: domain fronting, a way to reach a forbidden host behind "
        "an allowed name.",
        "**What happened**: a process opened a TLS connection whose server name is allowed, to "
        "an address that DNS never gave for that name. CDNs let the encrypted Host header pick "
        "another customer's site, so the allowed name is a disguise. cgfw refused the "
        "connection.\n\n**How to allow it**: do not. If a tool connects to fixed addresses, "
        "allow those addresses with IP rules instead, and check why it names another host."}},
      {FindingKind::exfiltration_name,
       {"DnsExfiltrationShapedName", "warning", "7.0", "medium",
        "A looked-up name looks like data smuggled out through DNS",
        "A name allowed by a wildcard rule has a very long or high-entropy label: the shape of "
        "data encoded into DNS queries, which reach the domain's name servers even when no "
        "connection follows.",
        "**What happened**: a process looked up a name below an allowed wildcard whose labels "
        "look like encoded data (very long, or random-looking). Every such query reaches the "
        "name servers of that domain, so a wildcard over a domain someone else controls is a "
        "channel out of the job.\n\n**What to do**: replace the wildcard with the exact names "
        "the job needs, and find out which step made these queries."}},
      {FindingKind::audit_not_allowed,
       {"AuditNotInAllowList", "note", "3.0", "very-high",
        "Audit mode: a destination the allow list does not allow (it would be blocked)",
        "In audit mode cgfw blocks nothing and records everything; this destination is not "
        "allowed by the allow list, so in block mode the job would be refused it.",
        "**What happened**: the run was in audit mode, so this traffic went through, but no "
        "allow rule covers it: in block mode it would be blocked."}},
      {FindingKind::blocked_unix_socket,
       {"BlockedUnixSocket", "error", "6.0", "very-high",
        "A connection to a daemon's unix socket outside the sandbox was refused",
        "A process connected to the unix socket of a daemon that runs outside the sandbox (docker, "
        "containerd, systemd, ...). cgfw hides these sockets in every mode, audit mode too: "
        "whatever such a daemon does for the job (run a container, pull an image) happens "
        "outside the sandbox, where no allow rule applies.",
        "**What happened**: a process in the job connected to a unix socket of a daemon outside "
        "the sandbox, such as `/run/docker.sock`. cgfw hides these sockets, in audit mode too, "
        "and closed the connection: a daemon asked to run a container or fetch something would "
        "do it outside the sandbox, with the host's network.\n\n**How to allow it**: unix "
        "sockets are not allow rules, so no line of the allow file opens one. If the job really "
        "needs the daemon (a `docker build` step), run cgfw-sandbox with the option the result "
        "gives, `--allow-unix PATH`; what the daemon then does is not filtered by cgfw.\n\n**If "
        "it should not happen**: the result names the process and its command line; find the "
        "step that ran it."}},
      {FindingKind::blocked_device,
       {"BlockedDevice", "error", "7.0", "very-high",
        "An open of a device that bypasses the egress filter was refused",
        "A process opened a device node that leads out of the sandbox without a socket, such as "
        "the TUN/TAP device /dev/net/tun: packets written to it are routed by the kernel, never "
        "seen by the sandbox's egress program. cgfw refuses it in every mode.",
        "**What happened**: a process in the job opened a device such as `/dev/net/tun`. Packets "
        "written to a TUN/TAP device leave through the kernel's routing, not through a socket of "
        "the sandbox, so cgfw could not filter them; it refused the open, in audit mode "
        "too.\n\n**How to allow it**: no allow rule and no option opens it, other than "
        "`--allow-privileged`, which turns every restriction of the sandbox off (and is reported "
        "as such). A job that needs a VPN or another TUN-based tool should run that step "
        "outside cgfw.\n\n**If it should not happen**: the result names the process and its "
        "command line; find the step that ran it."}},
  };
  return kTexts.at(kind);
}

// The plain-text help: the Markdown without its code and bold marks ('*' of wildcards stays).
std::string plain_text(const std::string& markdown) {
  std::string out;
  for (std::size_t i = 0; i < markdown.size(); ++i) {
    if (markdown[i] == '`') continue;
    if (markdown.compare(i, 2, "**") == 0) {
      ++i;
      continue;
    }
    out.push_back(markdown[i]);
  }
  return out;
}

int rule_index(FindingKind kind) {
  int index = 0;
  for (FindingKind k : kFindingKinds) {
    if (k == kind) return index;
    ++index;
  }
  return -1;
}

json rule_descriptor(FindingKind kind) {
  const KindText& text = kind_text(kind);
  std::string markdown = text.help_markdown;
  if (kind != FindingKind::domain_fronting && kind != FindingKind::exfiltration_name &&
      !is_path_kind(kind))
    markdown += kHowToAllow;
  json tags = {"security", "network", "egress"};
  if (kind == FindingKind::exfiltration_name) tags.push_back("dns");
  if (kind == FindingKind::domain_fronting) tags.push_back("tls");
  if (kind == FindingKind::audit_not_allowed) tags.push_back("audit");
  if (kind == FindingKind::blocked_unix_socket) tags.push_back("unix-socket");
  if (kind == FindingKind::blocked_device) tags.push_back("device");
  return {
      {"id", kind_id(kind)},
      {"name", text.name},
      {"shortDescription", {{"text", text.short_description}}},
      {"fullDescription", {{"text", text.full_description}}},
      {"help", {{"text", plain_text(markdown)}, {"markdown", markdown}}},
      {"helpUri", std::string(kHelpUri) + "#" + kind_id(kind)},
      {"defaultConfiguration", {{"level", text.level}}},
      {"properties",
       {{"security-severity", text.security_severity},
        {"precision", text.precision},
        {"tags", tags}}},
  };
}

// FNV-1a, 64 bits: stable across runs, machines and versions of this code.
std::string fingerprint(const Finding& finding) {
  std::string input =
      std::string(kind_id(finding.kind)) + "\n" + finding.destination + "\n" + finding.process_key;
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : input) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

std::string percent_encode_path(std::string_view path) {
  std::string out;
  for (unsigned char c : path) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                std::string_view("-._~/").find(static_cast<char>(c)) != std::string_view::npos;
    if (keep) {
      out.push_back(static_cast<char>(c));
    } else {
      char escape[4];
      std::snprintf(escape, sizeof escape, "%%%02X", c);
      out += escape;
    }
  }
  return out;
}

std::string trim_slashes(std::string root) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return root;
}

json artifact_location(const std::string& path, const SarifContext& context) {
  std::string root = trim_slashes(context.source_root);
  if (!path.empty() && path.front() == '/') {
    if (!root.empty() && root != "/" && path.starts_with(root + "/"))
      return {{"uri", percent_encode_path(path.substr(root.size() + 1))},
              {"uriBaseId", kSourceRootId}};
    return {{"uri", "file://" + percent_encode_path(path)}};
  }
  std::string relative = path;
  while (relative.starts_with("./")) relative.erase(0, 2);
  return {{"uri", percent_encode_path(relative)}, {"uriBaseId", kSourceRootId}};
}

struct Place {
  std::string file;
  int line = 1;
};

// The allow file's last line, where a new rule goes: counted in the file when it can be read,
// else the last line a rule of the report came from.
int last_line(const std::string& file, const json& report, const SarifContext& context) {
  std::string path = file;
  if (!path.empty() && path.front() != '/' && !context.source_root.empty())
    path = trim_slashes(context.source_root) + "/" + path;
  // The name comes from the report, which may be edited or another job's: "/dev/zero" would be
  // read until memory runs out, "/dev/stdin" or a FIFO would wait forever, and reading a directory
  // throws (std::ios_base::failure from underflow). Regular files only.
  std::error_code error;
  std::ifstream in;
  if (std::filesystem::is_regular_file(path, error)) in.open(path, std::ios::binary);
  if (in.is_open()) {
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    int lines = 0;
    for (char c : text) lines += c == '\n';
    if (!text.empty() && text.back() != '\n') ++lines;
    return std::max(lines, 1);
  }
  int line = 1;
  if (report.contains("policy") && report["policy"].is_object() &&
      report["policy"].contains("rules") && report["policy"]["rules"].is_array())
    for (const auto& rule : report["policy"]["rules"])
      if (auto where = parse_location(json_string(rule, "location")); where && where->file == file)
        line = std::max(line, where->line);
  return line;
}

Place fallback_place(const ReportPolicy& policy, const json& report, const SarifContext& context) {
  if (!policy.allow_files().empty()) {
    const std::string& file = policy.allow_files().front();
    return {file, last_line(file, report, context)};
  }
  if (std::string workflow = workflow_file(context.workflow_ref); !workflow.empty())
    return {workflow, 1};
  return {kSuggestedAllowFile, 1};
}

Place place_of(const Finding& finding, const ReportPolicy& policy, const json& report,
               const SarifContext& context) {
  // --allow-unix is written where the cgfw-sandbox command is, like --allow.
  if (is_path_kind(finding.kind))
    if (std::string workflow = workflow_file(context.workflow_ref); !workflow.empty())
      return {workflow, 1};
  if (finding.existing_rule) {
    const std::string& location = finding.existing_rule->location;
    if (is_command_line_location(location)) {
      if (std::string workflow = workflow_file(context.workflow_ref); !workflow.empty())
        return {workflow, 1};
    } else if (auto where = parse_location(location); where && where->line > 0) {
      return {where->file, where->line};
    }
  }
  return fallback_place(policy, report, context);
}

std::string who(const Finding& finding) {
  std::string text = finding.process;
  if (finding.pids.size() == 1) {
    text += " (pid " + std::to_string(*finding.pids.begin()) + ")";
  } else if (!finding.pids.empty()) {
    std::string pids;
    for (int pid : finding.pids) pids += (pids.empty() ? "" : ", ") + std::to_string(pid);
    text += " (pids " + pids + ")";
  }
  return text;
}

std::string layers_text(const Finding& finding) {
  std::string out;
  for (const auto& layer : finding.layers) out += (out.empty() ? "" : "/") + layer;
  return out;
}

std::string remedy(const Finding& finding) {
  if (!finding.options_to_add.empty()) {
    std::string options;
    for (const auto& option : finding.options_to_add)
      options += (options.empty() ? "" : " ") + option;
    return "To allow it, run cgfw-sandbox with " + options +
           " (unix sockets are opened by this option, not by allow rules).";
  }
  if (finding.replaces_existing && finding.existing_rule && !finding.rules_to_add.empty())
    return "To allow it, change the rule '" + finding.existing_rule->text + "' at " +
           finding.existing_rule->location + " to: " + finding.rules_to_add.front();
  if (!finding.rules_to_add.empty()) {
    std::string rules;
    for (const auto& rule : finding.rules_to_add) rules += (rules.empty() ? "" : " ") + rule;
    return std::string("To allow it, add the rule") +
           (finding.rules_to_add.size() > 1 ? "s: " : ": ") + rules;
  }
  return finding.advice.empty() ? "" : "What to do: " + finding.advice;
}

std::string message_text(const Finding& f) {
  std::string reason = f.reason.empty() ? "" : ": " + f.reason;
  bool only_looked_up = f.layers.size() == 1 && f.layers.count("dns");
  std::string text;
  switch (f.kind) {
    case FindingKind::blocked_domain:
      text = only_looked_up ? "cgfw blocked " + who(f) + " from looking up " + f.destination
                            : "cgfw blocked " + who(f) + " from reaching " + f.destination +
                                  " at the " + layers_text(f) + " layer";
      text += reason + ".";
      break;
    case FindingKind::blocked_ip:
      text = "cgfw blocked " + who(f) + " from reaching " + f.destination +
             (f.domain.empty() ? "" : " (" + f.domain + ")") + " at the " + layers_text(f) +
             " layer" + reason + ".";
      break;
    case FindingKind::blocked_url:
      text = "cgfw blocked " + who(f) + " from requesting " + f.destination + reason + ".";
      break;
    case FindingKind::domain_fronting:
      text = "cgfw blocked " + who(f) + ": the TLS name " + f.domain + " was sent to " + f.ip +
             ", an address not resolved for that name (domain fronting)" + reason + ".";
      break;
    case FindingKind::exfiltration_name:
      text = who(f) + " looked up " + std::to_string(f.names.size()) + " name" +
             (f.names.size() == 1 ? "" : "s") + " allowed by " + f.destination +
             " that look like data smuggled out through DNS (" + f.suspicious + "), e.g. " +
             (f.names.empty() ? std::string("?") : *f.names.begin()) + ".";
      break;
    case FindingKind::audit_not_allowed:
      text =
          "Audit mode: " + who(f) +
          (only_looked_up ? " looked up " + f.destination
                          : " reached " + f.destination + " at the " + layers_text(f) + " layer") +
          ", which the allow list does not allow" + reason + "; in block mode it would be blocked.";
      break;
    case FindingKind::blocked_unix_socket:
      text = "cgfw blocked a connection from " + who(f) + " to the unix socket " + f.destination +
             reason + ".";
      break;
    case FindingKind::blocked_device:
      text = "cgfw blocked " + who(f) + " from opening " +
             (f.destination.starts_with("/") ? "the device " : "") + f.destination + reason + ".";
      break;
  }
  std::string what = remedy(f);
  return printable(what.empty() ? text : text + " " + what);
}

json result_of(const Finding& f, const ReportPolicy& policy, const json& report,
               const SarifContext& context) {
  Place place = place_of(f, policy, report, context);
  json ports = json::array();
  for (int port : f.tcp_ports) ports.push_back(port);
  json pids = json::array();
  for (int pid : f.pids) pids.push_back(pid);
  json layers = json::array();
  for (const auto& layer : f.layers) layers.push_back(layer);
  json properties = {
      {"exe", f.process_key.starts_with("comm:") ? json(nullptr) : json(f.process_key)},
      {"process", f.process},
      {"cmdline", f.cmdline},
      {"pids", pids},
      {"destination", f.destination},
      {"ip", f.ip.empty() ? json(nullptr) : json(f.ip)},
      {"port", f.ip.empty() ? json(nullptr) : json(f.port)},
      {"protocol", f.ip.empty() ? json(nullptr) : json(f.protocol)},
      {"layer", layers_text(f)},
      {"count", f.count},
      {"rulesToAdd", f.rules_to_add},
  };
  if (!f.domain.empty()) properties["domain"] = f.domain;
  if (is_path_kind(f.kind)) properties["path"] = f.destination;
  if (!f.options_to_add.empty()) properties["optionsToAdd"] = f.options_to_add;
  if (!f.resolver.empty()) properties["resolver"] = f.resolver;
  if (ports.size() > 1) properties["ports"] = ports;
  if (!f.reason.empty()) properties["reason"] = f.reason;
  if (f.existing_rule)
    properties["existingRule"] = {{"text", f.existing_rule->text},
                                  {"location", f.existing_rule->location}};
  if (!f.names.empty()) {
    json names = json::array();
    for (const auto& name : f.names) names.push_back(name);
    properties["names"] = names;
  }
  return {
      {"ruleId", kind_id(f.kind)},
      {"ruleIndex", rule_index(f.kind)},
      {"level", kind_text(f.kind).level},
      {"message", {{"text", message_text(f)}}},
      {"locations", json::array({{{"physicalLocation",
                                   {{"artifactLocation", artifact_location(place.file, context)},
                                    {"region", {{"startLine", place.line}}}}}}})},
      {"partialFingerprints", {{kFingerprintKey, fingerprint(f)}}},
      {"properties", properties},
  };
}

}  // namespace

SarifContext sarif_context_from_environment() {
  SarifContext context;
  if (const char* ref = std::getenv("GITHUB_WORKFLOW_REF")) context.workflow_ref = ref;
  if (const char* workspace = std::getenv("GITHUB_WORKSPACE"); workspace && *workspace) {
    context.source_root = workspace;
  } else {
    char cwd[4096];
    if (::getcwd(cwd, sizeof cwd)) context.source_root = cwd;
  }
  return context;
}

std::string workflow_file(std::string_view workflow_ref) {
  std::string_view path = workflow_ref.substr(0, workflow_ref.find('@'));
  // owner/repo/PATH
  auto first = path.find('/');
  if (first == std::string_view::npos) return "";
  auto second = path.find('/', first + 1);
  if (second == std::string_view::npos || second + 1 >= path.size()) return "";
  return std::string(path.substr(second + 1));
}

json make_sarif(const json& report, const SarifContext& context) {
  ReportPolicy policy(report);
  json rules = json::array();
  for (FindingKind kind : kFindingKinds) rules.push_back(rule_descriptor(kind));
  json results = json::array();
  for (const auto& finding : collect_findings(report))
    results.push_back(result_of(finding, policy, report, context));

  std::string mode = json_string(report, "mode");
  if (mode.empty()) mode = "unknown";
  std::string version = report.contains("tool") ? json_string(report["tool"], "version") : "";
  if (version.empty()) version = CGFW_VERSION;
  int exit_code = static_cast<int>(json_int(report, "cgfw_exit_status", 0));

  json invocation = {
      {"executionSuccessful", exit_code != 125},  // 125: cgfw itself failed (docs/report.md)
      {"commandLine", command_line(report)},
      {"exitCode", exit_code},
  };
  if (std::string started = json_string(report, "started_at"); !started.empty())
    invocation["startTimeUtc"] = started;
  if (std::string ended = json_string(report, "ended_at"); !ended.empty())
    invocation["endTimeUtc"] = ended;
  if (std::int64_t signal = json_int(report, "signal", 0); signal > 0)
    invocation["exitSignalNumber"] = signal;
  json notifications = json::array();
  if (report.contains("warnings") && report["warnings"].is_array())
    for (const auto& warning : report["warnings"])
      if (warning.is_string())
        notifications.push_back(
            {{"level", "warning"}, {"message", {{"text", printable(warning.get<std::string>())}}}});
  if (!notifications.empty()) invocation["toolExecutionNotifications"] = notifications;

  std::string automation_id = "cgfw/" + mode + "/";
  if (!context.category.empty()) automation_id += context.category + "/";
  json run = {
      {"tool",
       {{"driver",
         {{"name", "cgfw"},
          {"version", version},
          {"semanticVersion", version},
          {"informationUri", kInformationUri},
          {"rules", rules}}}}},
      {"automationDetails", {{"id", automation_id}}},
      {"invocations", json::array({invocation})},
      {"results", results},
      {"columnKind", "utf16CodeUnits"},
      {"properties", {{"mode", mode}}},
  };
  if (std::string root = trim_slashes(context.source_root); !root.empty() && root.front() == '/')
    run["originalUriBaseIds"] = {
        {kSourceRootId,
         {{"uri", "file://" + percent_encode_path(root == "/" ? "/" : root + "/")}}}};
  return {{"$schema", kSchemaUri}, {"version", "2.1.0"}, {"runs", json::array({run})}};
}

}  // namespace cgfw::reports
