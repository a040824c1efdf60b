// SARIF from JSON reports: one result per (destination, kind, executable), locations in the allow
// file, stable fingerprints, and every log valid against the official SARIF 2.1.0 schema.
#include "reports/sarif.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>

#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"
#include "tests/unit/report_events.h"

namespace cgfw::reports {
namespace {

using nlohmann::json;
using testing::run_command;
using testing::TempDir;
using testing::tun_device_event;
using testing::unix_socket_event;

const std::string kSchema =
    std::string(CGFW_SOURCE_DIR) + "/reports/schema/sarif-schema-2.1.0.json";
const std::string kData = std::string(CGFW_SOURCE_DIR) + "/tests/unit/data";

// "" when `sarif` is valid against the shipped OASIS schema (draft-07), else the validator's
// message.
std::string sarif_schema_errors(const json& sarif) {
  TempDir dir;
  std::string path = dir.write("log.sarif", sarif.dump());
  auto result =
      run_command({"/usr/bin/python3", "-c",
                   "import json,sys,jsonschema\n"
                   "schema=json.load(open(sys.argv[1]))\n"
                   "jsonschema.Draft7Validator.check_schema(schema)\n"
                   "jsonschema.Draft7Validator(schema).validate(json.load(open(sys.argv[2])))\n",
                   kSchema, path});
  std::string output = result.out + result.err;
  return result.exit_code == 0 ? "" : output.empty() ? "validator failed" : output;
}

json load(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

json process(int pid, const std::string& exe = "/usr/bin/curl") {
  return {{"pid", pid},
          {"exe", exe.empty() ? json(nullptr) : json(exe)},
          {"cmdline", {"curl", "http://evil.test/"}},
          {"comm", "curl"},
          {"ppid", 1},
          {"gone", false},
          {"ancestors", json::array()}};
}

json dns_blocked(const std::string& name, const std::string& qtype, int pid,
                 const std::string& time = "2026-11-21T13:00:00.000001Z") {
  return {{"time", time},
          {"decision", "blocked"},
          {"would_block", false},
          {"layer", "dns"},
          {"protocol", "udp"},
          {"ip", "10.255.255.53"},
          {"port", 53},
          {"domain", name},
          {"qtype", qtype},
          {"answers", json::array()},
          {"reason", "no rule allows this name"},
          {"suggested_rule", name},
          {"count", 1},
          {"process", process(pid)}};
}

json packet(const std::string& decision, const std::string& ip, int port, int pid,
            const std::string& reason = "no rule allows this address",
            const std::string& time = "2026-11-21T13:00:00.000002Z") {
  json event = {{"time", time},      {"decision", decision}, {"would_block", false},
                {"layer", "packet"}, {"protocol", "tcp"},    {"ip", ip},
                {"port", port},      {"count", 1},           {"process", process(pid)}};
  if (decision == "blocked") {
    event["reason"] = reason;
    event["suggested_rule"] = ip + ":" + std::to_string(port);
  }
  return event;
}

json report_with(json events, const std::string& mode = "block", json sources = {"egress.txt"},
                 json rules = {
                     {{"id", 0}, {"text", "*.allowed.test:80"}, {"location", "egress.txt:2:1"}},
                     {{"id", 1}, {"text", "198.51.100.12:443"}, {"location", "egress.txt:3:1"}}}) {
  return {{"version", 1},
          {"tool", {{"name", "cgfw"}, {"version", "0.1.0"}}},
          {"mode", mode},
          {"command", {"make", "-j2"}},
          {"exit_status", 2},
          {"signal", nullptr},
          {"cgfw_exit_status", 2},
          {"started_at", "2026-11-21T13:00:00.000000Z"},
          {"ended_at", "2026-11-21T13:00:01.000000Z"},
          {"policy", {{"sources", sources}, {"rules", rules}}},
          {"events", events},
          {"summary",
           {{"events", events.size()},
            {"allowed", 0},
            {"blocked", 0},
            {"would_block", 0},
            {"destinations", json::array()},
            {"names", json::array()},
            {"kernel", json::object()}}},
          {"warnings", json::array()}};
}

SarifContext data_context() {
  SarifContext context;
  context.source_root = kData;  // where egress.txt (3 lines) is
  context.workflow_ref = "octo/repo/.github/workflows/ci.yml@refs/heads/main";
  return context;
}

const json& results(const json& sarif) { return sarif["runs"][0]["results"]; }

json location_of(const json& result) { return result["locations"][0]["physicalLocation"]; }

TEST(SarifSchema, ShippedSchemaIsTheOfficialDraft07One) {
  json schema = load(kSchema);
  EXPECT_EQ(schema["$schema"], "http://json-schema.org/draft-07/schema#");
  EXPECT_EQ(schema["title"], "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema");
  EXPECT_TRUE(schema["definitions"].contains("result"));
  EXPECT_EQ(sarif_schema_errors(json{{"version", "2.1.0"}, {"runs", json::array()}}), "");
  EXPECT_NE(sarif_schema_errors(json{{"version", "2.1.0"}, {"runs", {{{"results", 1}}}}}), "")
      << "the validator really validates";
}

TEST(Sarif, TwoBlockedDestinationsAreExactlyTwoResults) {
  // evil.test asked twice (A, AAAA); 198.51.100.11:80 tried by two curl processes.
  json report = report_with(
      {dns_blocked("evil.test", "A", 100), dns_blocked("evil.test", "AAAA", 100),
       packet("blocked", "198.51.100.11", 80, 101), packet("blocked", "198.51.100.11", 80, 102),
       packet("allowed", "198.51.100.10", 80, 103)});
  json sarif = make_sarif(report, data_context());
  EXPECT_EQ(sarif_schema_errors(sarif), "");
  ASSERT_EQ(results(sarif).size(), 2u) << sarif.dump(2);
  const json& domain = results(sarif)[0];
  const json& address = results(sarif)[1];
  EXPECT_EQ(domain["ruleId"], "blocked-domain");
  EXPECT_EQ(domain["ruleIndex"], 0);
  EXPECT_EQ(domain["level"], "error");
  EXPECT_EQ(address["ruleId"], "blocked-ip");
  EXPECT_EQ(address["ruleIndex"], 1);
  EXPECT_EQ(address["properties"]["pids"], json({101, 102}));
  EXPECT_EQ(address["properties"]["count"], 2);
  EXPECT_EQ(address["properties"]["destination"], "198.51.100.11:80/tcp");
  EXPECT_EQ(domain["properties"]["count"], 2);
  EXPECT_EQ(domain["properties"]["exe"], "/usr/bin/curl");
  // A new rule goes after the allow file's last line.
  for (const auto& result : results(sarif)) {
    EXPECT_EQ(location_of(result)["artifactLocation"]["uri"], "egress.txt");
    EXPECT_EQ(location_of(result)["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    EXPECT_EQ(location_of(result)["region"]["startLine"], 3);
  }
  std::string text = domain["message"]["text"];
  EXPECT_NE(text.find("/usr/bin/curl (pid 100)"), std::string::npos) << text;
  EXPECT_NE(text.find("evil.test"), std::string::npos) << text;
  EXPECT_NE(text.find("no rule allows this name"), std::string::npos) << text;
  EXPECT_NE(text.find("add the rule: evil.test:443"), std::string::npos) << text;
  EXPECT_NE(address["message"]["text"].get<std::string>().find("add the rule: 198.51.100.11:80"),
            std::string::npos);
  EXPECT_EQ(sarif["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"], "file://" + kData + "/");
}

TEST(Sarif, FingerprintsDoNotDependOnPidsOrTimes) {
  json first = report_with({dns_blocked("evil.test", "A", 100, "2026-11-21T13:00:00.000001Z"),
                            packet("blocked", "198.51.100.11", 80, 101)});
  json second = report_with({dns_blocked("evil.test", "A", 7777, "2027-01-01T00:00:00.000001Z"),
                             packet("blocked", "198.51.100.11", 80, 8888,
                                    "no rule allows this address", "2027-01-01T00:00:01.000001Z")});
  json a = make_sarif(first, data_context());
  json b = make_sarif(second, data_context());
  ASSERT_EQ(results(a).size(), 2u);
  ASSERT_EQ(results(b).size(), 2u);
  std::set<std::string> prints;
  for (std::size_t i = 0; i < 2; ++i) {
    const json& fa = results(a)[i]["partialFingerprints"];
    EXPECT_EQ(fa, results(b)[i]["partialFingerprints"]);
    ASSERT_TRUE(fa.contains("cgfwDestination/v1"));
    EXPECT_EQ(fa["cgfwDestination/v1"].get<std::string>().size(), 16u);
    prints.insert(fa["cgfwDestination/v1"].get<std::string>());
  }
  EXPECT_EQ(prints.size(), 2u) << "different destinations, different fingerprints";

  // Another executable is another result, with its own fingerprint.
  json other = first;
  other["events"][1]["process"]["exe"] = "/usr/bin/wget";
  json c = make_sarif(other, data_context());
  EXPECT_NE(results(c)[1]["partialFingerprints"], results(a)[1]["partialFingerprints"]);
}

TEST(Sarif, PortMismatchPointsAtTheRuleAndWidensIt) {
  json report = report_with({packet("blocked", "198.51.100.12", 80, 100,
                                    "a rule allows this address, but not port 80/tcp")});
  json sarif = make_sarif(report, data_context());
  EXPECT_EQ(sarif_schema_errors(sarif), "");
  ASSERT_EQ(results(sarif).size(), 1u);
  const json& result = results(sarif)[0];
  EXPECT_EQ(location_of(result)["region"]["startLine"], 3);
  EXPECT_EQ(result["properties"]["existingRule"]["text"], "198.51.100.12:443");
  EXPECT_EQ(result["properties"]["rulesToAdd"], json({"198.51.100.12:80,443"}));
  EXPECT_NE(result["message"]["text"].get<std::string>().find(
                "change the rule '198.51.100.12:443' at egress.txt:3:1 to: 198.51.100.12:80,443"),
            std::string::npos)
      << result["message"]["text"];

  // A learned name's port: the wildcard that allowed the name, line 2.
  json learned = packet("blocked", "198.51.100.11", 8080, 101,
                        "a rule allows this address, but not port 8080/tcp");
  learned["domain"] = "y.allowed.test";
  json sarif2 = make_sarif(report_with({learned}), data_context());
  const json& r2 = results(sarif2)[0];
  EXPECT_EQ(r2["ruleId"], "blocked-ip");
  EXPECT_EQ(location_of(r2)["region"]["startLine"], 2);
  EXPECT_EQ(r2["properties"]["rulesToAdd"], json({"*.allowed.test:80,8080"}));
  EXPECT_NE(r2["message"]["text"].get<std::string>().find("(y.allowed.test)"), std::string::npos)
      << "a blocked address with a known name says so";
}

TEST(Sarif, LocationsWithoutAnAllowFile) {
  json cli_rules = {{{"id", 0}, {"text", "198.51.100.12:443"}, {"location", "--allow #1:1:1"}}};
  json report = report_with({packet("blocked", "198.51.100.11", 80, 100),
                             packet("blocked", "198.51.100.12", 80, 100,
                                    "a rule allows this address, but not port 80/tcp")},
                            "block", {"--allow"}, cli_rules);
  // --allow rules are written in the workflow file.
  json sarif = make_sarif(report, data_context());
  EXPECT_EQ(sarif_schema_errors(sarif), "");
  for (const auto& result : results(sarif)) {
    EXPECT_EQ(location_of(result)["artifactLocation"]["uri"], ".github/workflows/ci.yml");
    EXPECT_EQ(location_of(result)["region"]["startLine"], 1);
  }
  // Neither an allow file nor a workflow: the allow file to create.
  SarifContext bare;
  json sarif2 = make_sarif(report, bare);
  EXPECT_EQ(sarif_schema_errors(sarif2), "");
  EXPECT_EQ(location_of(results(sarif2)[0])["artifactLocation"]["uri"], kSuggestedAllowFile);
  EXPECT_FALSE(sarif2["runs"][0].contains("originalUriBaseIds"));
}

TEST(Sarif, AllowFilePathsBecomeRelativeUris) {
  TempDir root;
  std::string file = root.write("policy dir.txt", "a.example\nb.example\n\n# end\n");
  json rules = {{{"id", 0}, {"text", "a.example"}, {"location", file + ":1:1"}}};
  json report = report_with({packet("blocked", "198.51.100.11", 80, 100)}, "block", {file}, rules);
  SarifContext context;
  context.source_root = root.path() + "/";
  json sarif = make_sarif(report, context);
  EXPECT_EQ(sarif_schema_errors(sarif), "");
  json where = location_of(results(sarif)[0]);
  EXPECT_EQ(where["artifactLocation"]["uri"], "policy%20dir.txt");
  EXPECT_EQ(where["artifactLocation"]["uriBaseId"], "%SRCROOT%");
  EXPECT_EQ(where["region"]["startLine"], 4) << "the file's last line";

  // Outside the source root: an absolute file: URI, no base.
  context.source_root = "/nonexistent-root";
  json outside = location_of(results(make_sarif(report, context))[0]);
  EXPECT_EQ(outside["artifactLocation"]["uri"], "file://" + root.path() + "/policy%20dir.txt");
  EXPECT_FALSE(outside["artifactLocation"].contains("uriBaseId"));

  // An allow file that cannot be read: the last line a rule came from.
  json gone_rules = {{{"id", 0}, {"text", "a.example"}, {"location", "gone.txt:7:3"}}};
  json gone =
      report_with({packet("blocked", "198.51.100.11", 80, 100)}, "block", {"gone.txt"}, gone_rules);
  EXPECT_EQ(location_of(results(make_sarif(gone, context))[0])["region"]["startLine"], 7);
}

// The allow file's name comes from the report, which may be edited: "/dev/zero" used to be read
// until memory ran out, a FIFO or "/dev/stdin" to block forever. Only a regular file's lines are
// counted; for anything else the location is the last line a rule of the report came from.
// (/dev/null and a directory stand in for them here: read, they gave line 1, not 5.)
TEST(Sarif, AllowFileThatIsNotARegularFileIsNotRead) {
  TempDir root;
  for (const std::string& file : {std::string("/dev/null"), root.path()}) {
    json rules = {{{"id", 0}, {"text", "198.51.100.12:443"}, {"location", file + ":5:1"}}};
    json report =
        report_with({packet("blocked", "198.51.100.11", 80, 100)}, "block", {file}, rules);
    SarifContext context;
    context.source_root = "/nonexistent-root";
    json where = location_of(results(make_sarif(report, context))[0]);
    EXPECT_EQ(where["artifactLocation"]["uri"], "file://" + file) << file;
    EXPECT_EQ(where["region"]["startLine"], 5) << file;
  }
}

TEST(Sarif, EveryKind) {
  json suspicious = {{"time", "2026-11-21T13:00:00.000001Z"},
                     {"decision", "allowed"},
                     {"would_block", false},
                     {"layer", "dns"},
                     {"protocol", "udp"},
                     {"ip", "10.255.255.53"},
                     {"port", 53},
                     {"domain", "aGVsbG8gd29ybGQgdGhpcyBpcyBzZWNyZXQ.allowed.test"},
                     {"qtype", "A"},
                     {"answers", json::array()},
                     {"suspicious", "label of 35 characters"},
                     {"rule", {{"text", "*.allowed.test:80"}, {"location", "egress.txt:2:1"}}},
                     {"count", 1},
                     {"process", process(200)}};
  json fronting =
      packet("blocked", "198.51.100.11", 443, 201,
             "TLS name api.allowed.test was not resolved to this address (domain fronting)");
  fronting["layer"] = "tls";
  fronting["domain"] = "api.allowed.test";
  json url = packet("blocked", "198.51.100.10", 443, 202, "no URL rule allows this request");
  url["layer"] = "http";
  url["domain"] = "x.allowed.test";
  url["url"] = "https://x.allowed.test/org/repo/archive.tar.gz?token=1";
  json literal = packet("blocked", "203.0.113.11", 80, 204, "no URL rule allows this request");
  literal["layer"] = "http";
  literal["domain"] = "203.0.113.11";
  literal["url"] = "http://203.0.113.11/a/b";
  json audit = packet("allowed", "203.0.113.10", 443, 203);
  audit["would_block"] = true;
  audit["reason"] = "no rule allows this address";
  audit["suggested_rule"] = "203.0.113.10:443";
  json report = report_with({suspicious, fronting, url, literal, audit});
  json sarif = make_sarif(report, data_context());
  EXPECT_EQ(sarif_schema_errors(sarif), "");
  std::map<std::string, json> by_rule;
  json by_address;
  for (const auto& result : results(sarif)) {
    if (result["properties"]["ip"] == "203.0.113.11")
      by_address = result;
    else
      by_rule[result["ruleId"]] = result;
  }
  ASSERT_EQ(by_rule.size(), 4u) << sarif.dump(2);
  EXPECT_EQ(by_address["ruleId"], "blocked-url");
  EXPECT_EQ(by_address["properties"]["rulesToAdd"], json({"203.0.113.11:80"}))
      << "a URL to an address is allowed by an address rule";
  EXPECT_FALSE(by_address["properties"].contains("domain"));
  EXPECT_EQ(by_rule["dns-exfiltration-shaped-name"]["level"], "warning") << "even when allowed";
  EXPECT_EQ(location_of(by_rule["dns-exfiltration-shaped-name"])["region"]["startLine"], 2)
      << "the wildcard that let it through";
  EXPECT_EQ(by_rule["dns-exfiltration-shaped-name"]["properties"]["destination"],
            "*.allowed.test:80");
  EXPECT_EQ(by_rule["domain-fronting"]["level"], "error");
  EXPECT_EQ(by_rule["domain-fronting"]["properties"]["rulesToAdd"], json::array());
  EXPECT_EQ(by_rule["blocked-url"]["properties"]["destination"],
            "https://x.allowed.test/org/repo/archive.tar.gz");
  EXPECT_EQ(by_rule["blocked-url"]["properties"]["rulesToAdd"],
            json({"https://x.allowed.test/org*"}));
  EXPECT_EQ(by_rule["audit-not-in-allow-list"]["level"], "note");
  EXPECT_EQ(by_rule["audit-not-in-allow-list"]["properties"]["rulesToAdd"],
            json({"203.0.113.10:443"}));
}

TEST(Sarif, UnixSocketAndDeviceResults) {
  json audited = packet("allowed", "198.51.100.11", 80, 100);
  audited["would_block"] = true;
  audited["reason"] = "no rule allows this address";
  audited["suggested_rule"] = "198.51.100.11:80";
  // Audit mode blocks unix sockets and devices all the same.
  json report =
      report_with({unix_socket_event("/run/docker.sock", 300),
                   unix_socket_event("/run/docker.sock", 301), tun_device_event(302), audited},
                  "audit");
  ASSERT_EQ(testing::schema_errors(report), "") << "a report as the runner writes it";
  json sarif = make_sarif(report, data_context());
  EXPECT_EQ(sarif_schema_errors(sarif), "");
  std::map<std::string, json> by_rule;
  for (const auto& result : results(sarif)) by_rule[result["ruleId"]] = result;
  ASSERT_EQ(by_rule.size(), 3u) << sarif.dump(2);

  const json& unix_socket = by_rule["blocked-unix-socket"];
  EXPECT_EQ(unix_socket["ruleIndex"], 6);
  EXPECT_EQ(unix_socket["level"], "error");
  EXPECT_EQ(unix_socket["properties"]["destination"], "/run/docker.sock");
  EXPECT_EQ(unix_socket["properties"]["path"], "/run/docker.sock");
  EXPECT_EQ(unix_socket["properties"]["layer"], "unix");
  EXPECT_EQ(unix_socket["properties"]["pids"], json({300, 301}));
  EXPECT_EQ(unix_socket["properties"]["count"], 2);
  EXPECT_TRUE(unix_socket["properties"]["ip"].is_null());
  EXPECT_TRUE(unix_socket["properties"]["port"].is_null());
  EXPECT_EQ(unix_socket["properties"]["rulesToAdd"], json::array()) << "an option, not a rule";
  EXPECT_EQ(unix_socket["properties"]["optionsToAdd"], json({"--allow-unix /run/docker.sock"}));
  EXPECT_EQ(unix_socket["message"]["text"],
            "cgfw blocked a connection from /usr/bin/docker (pids 300, 301) to the unix socket "
            "/run/docker.sock: unix socket of a daemon outside the sandbox (dockerd). To allow it, "
            "run cgfw-sandbox with --allow-unix /run/docker.sock (unix sockets are opened by this "
            "option, not by allow rules).");
  // The option is written where the cgfw-sandbox command is: the workflow file.
  EXPECT_EQ(location_of(unix_socket)["artifactLocation"]["uri"], ".github/workflows/ci.yml");
  EXPECT_EQ(location_of(unix_socket)["region"]["startLine"], 1);

  const json& device = by_rule["blocked-device"];
  EXPECT_EQ(device["ruleIndex"], 7);
  EXPECT_EQ(device["level"], "error");
  EXPECT_EQ(device["properties"]["destination"], "/dev/net/tun");
  EXPECT_EQ(device["properties"]["layer"], "device");
  EXPECT_EQ(device["properties"]["rulesToAdd"], json::array());
  EXPECT_FALSE(device["properties"].contains("optionsToAdd"));
  EXPECT_EQ(device["message"]["text"],
            "cgfw blocked /usr/sbin/openvpn (pid 302) from opening the device /dev/net/tun: "
            "TUN/TAP device: packets written to it bypass the sandbox's egress program. What to "
            "do: no rule or option allows it other than --allow-privileged, which turns every "
            "restriction of the sandbox off");

  EXPECT_EQ(by_rule["audit-not-in-allow-list"]["properties"]["rulesToAdd"],
            json({"198.51.100.11:80"}));

  // Without a workflow file: the allow file, like every other result.
  SarifContext bare;
  bare.source_root = kData;
  json sarif2 = make_sarif(report, bare);
  EXPECT_EQ(sarif_schema_errors(sarif2), "");
  for (const auto& result : results(sarif2))
    EXPECT_EQ(location_of(result)["artifactLocation"]["uri"], "egress.txt");

  // The fingerprint is the socket's: another run, other pids, same alert.
  json again = report_with({unix_socket_event("/run/docker.sock", 999)}, "block");
  EXPECT_EQ(results(make_sarif(again, data_context()))[0]["partialFingerprints"],
            unix_socket["partialFingerprints"]);
  json other = report_with({unix_socket_event("/run/containerd/containerd.sock", 300)}, "block");
  EXPECT_NE(results(make_sarif(other, data_context()))[0]["partialFingerprints"],
            unix_socket["partialFingerprints"]);
}

TEST(Sarif, ToolRunAndInvocation) {
  json report = report_with({packet("blocked", "198.51.100.11", 80, 100)});
  report["warnings"] = {"3 events lost"};
  json sarif = make_sarif(report, data_context());
  EXPECT_EQ(sarif["version"], "2.1.0");
  const json& run = sarif["runs"][0];
  const json& driver = run["tool"]["driver"];
  EXPECT_EQ(driver["name"], "cgfw");
  EXPECT_EQ(driver["version"], "0.1.0");
  EXPECT_EQ(driver["informationUri"], "https://github.com/cgfw/cgfw");
  std::vector<std::string> ids;
  for (const auto& rule : driver["rules"]) {
    ids.push_back(rule["id"]);
    EXPECT_TRUE(rule["properties"]["security-severity"].is_string());
    EXPECT_FALSE(rule["help"]["markdown"].get<std::string>().empty());
    EXPECT_FALSE(rule["help"]["text"].get<std::string>().empty());
    EXPECT_TRUE(rule["defaultConfiguration"].contains("level"));
    EXPECT_FALSE(rule["properties"]["tags"].empty());
  }
  std::string help = driver["rules"][0]["help"]["text"];
  EXPECT_NE(help.find("What happened: "), std::string::npos) << help;
  EXPECT_NE(help.find("*.example.com:443"), std::string::npos) << "wildcards keep their '*'";
  EXPECT_EQ(help.find('`'), std::string::npos) << help;
  EXPECT_EQ(ids, (std::vector<std::string>{"blocked-domain", "blocked-ip", "blocked-url",
                                           "domain-fronting", "dns-exfiltration-shaped-name",
                                           "audit-not-in-allow-list", "blocked-unix-socket",
                                           "blocked-device"}));
  // Unix sockets and devices are not allowed by rules: their help says what does.
  std::string unix_help = driver["rules"][6]["help"]["markdown"];
  EXPECT_NE(unix_help.find("`--allow-unix PATH`"), std::string::npos) << unix_help;
  EXPECT_EQ(unix_help.find("--allow-file"), std::string::npos) << unix_help;
  std::string device_help = driver["rules"][7]["help"]["markdown"];
  EXPECT_NE(device_help.find("`--allow-privileged`"), std::string::npos) << device_help;
  EXPECT_EQ(device_help.find("add the rule"), std::string::npos) << device_help;
  EXPECT_EQ(run["automationDetails"]["id"], "cgfw/block/");
  EXPECT_EQ(run["invocations"][0]["executionSuccessful"], true);
  EXPECT_EQ(run["invocations"][0]["exitCode"], 2);
  EXPECT_EQ(run["invocations"][0]["commandLine"], "make -j2");
  EXPECT_EQ(run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"],
            "3 events lost");
  SarifContext context = data_context();
  context.category = "build";
  EXPECT_EQ(make_sarif(report, context)["runs"][0]["automationDetails"]["id"], "cgfw/block/build/");
  report["cgfw_exit_status"] = 125;
  EXPECT_EQ(make_sarif(report, context)["runs"][0]["invocations"][0]["executionSuccessful"], false);
}

TEST(Sarif, WorkflowFileFromRef) {
  EXPECT_EQ(workflow_file("octo/repo/.github/workflows/ci.yml@refs/heads/main"),
            ".github/workflows/ci.yml");
  EXPECT_EQ(workflow_file("octo/repo/.github/workflows/release.yaml@refs/tags/v1.2"),
            ".github/workflows/release.yaml");
  EXPECT_EQ(workflow_file(""), "");
  EXPECT_EQ(workflow_file("octo/repo@refs/heads/main"), "");
}

TEST(Sarif, RealBlockReport) {
  json report = load(kData + "/report-block.json");
  ASSERT_EQ(testing::schema_errors(report), "") << "the saved report is a real one";
  ASSERT_EQ(testing::schema_errors(load(kData + "/report-audit.json")), "");
  json sarif = make_sarif(report, data_context());
  EXPECT_EQ(sarif_schema_errors(sarif), "");
  std::multiset<std::string> ids;
  for (const auto& result : results(sarif)) ids.insert(result["ruleId"]);
  EXPECT_EQ(ids, (std::multiset<std::string>{"blocked-domain", "blocked-ip", "blocked-ip",
                                             "blocked-ip"}));
  EXPECT_EQ(sarif["runs"][0]["invocations"][0]["executionSuccessful"], true);
  json audit = make_sarif(load(kData + "/report-audit.json"), data_context());
  EXPECT_EQ(sarif_schema_errors(audit), "");
  EXPECT_EQ(audit["runs"][0]["automationDetails"]["id"], "cgfw/audit/");
  for (const auto& result : results(audit)) EXPECT_EQ(result["ruleId"], "audit-not-in-allow-list");
}

#ifdef CGFW_TOOL_BINARY
TEST(CgfwTool, ReportSarifWritesAValidLog) {
  TempDir dir;
  std::string out = dir.file("out.sarif");
  auto result =
      run_command({CGFW_TOOL_BINARY, "report", "sarif", kData + "/report-block.json", "-o", out,
                   "--workflow-ref", "o/r/.github/workflows/ci.yml@refs/heads/main"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  json sarif = load(out);
  EXPECT_EQ(sarif_schema_errors(sarif), "");
  EXPECT_EQ(results(sarif).size(), 4u);

  std::string bad = dir.write("bad.json", "{\"mode\": ");
  auto refused = run_command({CGFW_TOOL_BINARY, "report", "sarif", bad});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find(bad + ": not valid JSON"), std::string::npos) << refused.err;
  auto missing = run_command({CGFW_TOOL_BINARY, "report", "sarif", dir.file("none.json")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("cannot read the report " + dir.file("none.json")), std::string::npos)
      << missing.err;
  std::string not_report = dir.write("array.json", "[1, 2]");
  auto wrong = run_command({CGFW_TOOL_BINARY, "report", "sarif", not_report});
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.err.find(not_report + ": not a cgfw report"), std::string::npos) << wrong.err;
}
#endif

}  // namespace
}  // namespace cgfw::reports
