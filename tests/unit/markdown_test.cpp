// The Markdown summary: the verdict, the rows of each table, escaping, the suggested rules.
#include "reports/markdown.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"
#include "tests/unit/report_events.h"

namespace cgfw::reports {
namespace {

using nlohmann::json;
using testing::tun_device_event;
using testing::unix_socket_event;

const std::string kData = std::string(CGFW_SOURCE_DIR) + "/tests/unit/data";

json load(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

json event(const std::string& decision, const std::string& layer, const std::string& ip, int port,
           const std::string& exe = "/usr/bin/curl", int pid = 100) {
  return {{"time", "2026-11-21T13:00:00.000001Z"},
          {"decision", decision},
          {"would_block", false},
          {"layer", layer},
          {"protocol", layer == "dns" ? "udp" : "tcp"},
          {"ip", ip},
          {"port", port},
          {"count", 1},
          {"process",
           {{"pid", pid},
            {"exe", exe},
            {"cmdline", {"curl"}},
            {"comm", "curl"},
            {"ppid", 1},
            {"gone", false},
            {"ancestors", json::array()}}}};
}

json report_with(json events, const std::string& mode = "block") {
  return {
      {"version", 1},
      {"tool", {{"name", "cgfw"}, {"version", "0.1.0"}}},
      {"mode", mode},
      {"command", {"make", "test"}},
      {"exit_status", 0},
      {"signal", nullptr},
      {"cgfw_exit_status", 0},
      {"started_at", "2026-11-21T13:00:00.000000Z"},
      {"ended_at", "2026-11-21T13:00:01.000000Z"},
      {"policy",
       {{"sources", {"egress.txt"}},
        {"rules", {{{"id", 0}, {"text", "*.allowed.test:80"}, {"location", "egress.txt:2:1"}}}}}},
      {"events", events},
      {"summary",
       {{"events", events.size()},
        {"allowed", 1},
        {"blocked", 2},
        {"would_block", 0},
        {"destinations", json::array()},
        {"names", json::array()},
        {"kernel", json::object()}}},
      {"warnings", json::array()}};
}

json blocked_name(const std::string& name) {
  json e = event("blocked", "dns", "10.255.255.53", 53);
  e["domain"] = name;
  e["qtype"] = "A";
  e["answers"] = json::array();
  e["reason"] = "no rule allows this name";
  e["suggested_rule"] = name;
  return e;
}

json blocked_address(const std::string& ip, int port, const std::string& exe = "/usr/bin/curl") {
  json e = event("blocked", "packet", ip, port, exe);
  e["reason"] = "no rule allows this address";
  e["suggested_rule"] = ip + ":" + std::to_string(port);
  return e;
}

json allowed_by_rule(const std::string& name, const std::string& ip) {
  json e = event("allowed", "packet", ip, 80);
  e["domain"] = name;
  e["rule"] = {{"text", "*.allowed.test:80"}, {"location", "egress.txt:2:1"}};
  return e;
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(Markdown, BlockRunVerdictAndTables) {
  json report = report_with({blocked_name("evil.test"), blocked_name("evil.test"),
                             blocked_address("198.51.100.11", 80),
                             allowed_by_rule("x.allowed.test", "198.51.100.10")});
  report["events"][1]["qtype"] = "AAAA";
  std::string md = make_markdown(report);
  EXPECT_TRUE(md.starts_with("**cgfw: 2 destinations blocked** (block mode) — `make test`\n"))
      << md;
  EXPECT_TRUE(has_line(md, "### Blocked")) << md;
  EXPECT_TRUE(has_line(md, "| Destination | Port | Layer | Process | Count | Rule to add |")) << md;
  EXPECT_TRUE(has_line(md, "| evil.test | — | dns | /usr/bin/curl | 2 | `evil.test:443` |")) << md;
  EXPECT_TRUE(
      has_line(md, "| 198.51.100.11 | 80/tcp | packet | /usr/bin/curl | 1 | `198.51.100.11:80` |"))
      << md;
  EXPECT_TRUE(has_line(md, "### Allowed")) << md;
  EXPECT_TRUE(has_line(md,
                       "| x.allowed.test (198.51.100.10) | 80/tcp | packet | /usr/bin/curl | 1 | "
                       "`*.allowed.test:80` (egress.txt:2:1) |"))
      << md;
  // What to add, as a block to paste.
  EXPECT_TRUE(has_line(md, "### Rules to add")) << md;
  EXPECT_NE(md.find("```text\n# cgfw allow list"), std::string::npos) << md;
  EXPECT_TRUE(md.find("\nevil.test:443  # needed by /usr/bin/curl") != std::string::npos) << md;
  EXPECT_NE(md.find("4 events: 1 allowed, 2 blocked, 0 would block · policy: egress.txt"),
            std::string::npos)
      << md;
}

TEST(Markdown, NothingBlocked) {
  json report = report_with({allowed_by_rule("x.allowed.test", "198.51.100.10")});
  std::string md = make_markdown(report);
  EXPECT_TRUE(md.starts_with("**cgfw: no egress blocked** (block mode) — `make test`\n")) << md;
  EXPECT_EQ(md.find("### Blocked"), std::string::npos);
  EXPECT_EQ(md.find("```"), std::string::npos) << "nothing to suggest";
}

TEST(Markdown, AuditRunSuggestsTheAllowList) {
  json name = blocked_name("pypi.example.org");
  name["decision"] = "allowed";
  name["would_block"] = true;
  name["answers"] = {"203.0.113.10"};
  json connect = event("allowed", "packet", "203.0.113.10", 443);
  connect["would_block"] = true;
  connect["reason"] = "no rule allows this address";
  connect["suggested_rule"] = "203.0.113.10:443";
  json report = report_with({name, connect}, "audit");
  std::string md = make_markdown(report);
  EXPECT_TRUE(md.starts_with(
      "**cgfw: 1 destination not in the allow list** (audit mode: nothing was blocked)"))
      << md;
  EXPECT_TRUE(has_line(md, "### Would be blocked")) << md;
  EXPECT_TRUE(has_line(md,
                       "| pypi.example.org | 443/tcp | dns, packet | /usr/bin/curl | 2 | "
                       "`pypi.example.org:443` |"))
      << md;
  EXPECT_TRUE(has_line(md, "### Suggested allow list")) << md;
  auto block = md.find("```text\n");
  ASSERT_NE(block, std::string::npos) << md;
  EXPECT_NE(md.find("\npypi.example.org:443  # needed by /usr/bin/curl\n", block),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("\n```\n", block + 8), std::string::npos) << "the block is closed";
}

TEST(Markdown, BlockRunUnixSocketAndDeviceRows) {
  json report =
      report_with({unix_socket_event("/run/docker.sock"), unix_socket_event("/run/docker.sock"),
                   tun_device_event(), blocked_address("198.51.100.11", 80)});
  report["events"][1]["process"]["pid"] = 101;
  std::string md = make_markdown(report);
  EXPECT_TRUE(md.starts_with("**cgfw: 3 destinations blocked** (block mode) — `make test`\n"))
      << md;
  EXPECT_TRUE(
      has_line(md,
               "| /run/docker.sock | — | unix | /usr/bin/docker | 2 | run cgfw-sandbox with "
               "`--allow-unix /run/docker.sock` (an option: unix sockets are not allow "
               "rules) |"))
      << md;
  EXPECT_TRUE(has_line(md,
                       "| /dev/net/tun | — | device | /usr/sbin/openvpn | 1 | no rule or option "
                       "allows it other than --allow-privileged, which turns every restriction of "
                       "the sandbox off |"))
      << md;
  // The lines to paste: the address as a rule, the socket as a comment naming the option.
  auto block = md.find("```text\n");
  ASSERT_NE(block, std::string::npos) << md;
  EXPECT_NE(md.find("\n198.51.100.11:80  # needed by /usr/bin/curl\n", block), std::string::npos)
      << md;
  EXPECT_NE(md.find("\n# also run cgfw-sandbox with --allow-unix /run/docker.sock (unix sockets "
                    "are options, not rules); needed by /usr/bin/docker\n",
                    block),
            std::string::npos)
      << md;
  EXPECT_EQ(md.find("\n/run/docker.sock", block), std::string::npos) << "never a rule line";
}

// Audit mode opens no unix socket or device: those were blocked, and the summary says so rather
// than "nothing was blocked".
TEST(Markdown, AuditRunSaysUnixSocketsAndDevicesWereBlocked) {
  json connect = event("allowed", "packet", "203.0.113.10", 443);
  connect["would_block"] = true;
  connect["reason"] = "no rule allows this address";
  connect["suggested_rule"] = "203.0.113.10:443";
  json report =
      report_with({connect, unix_socket_event("/run/docker.sock"), tun_device_event()}, "audit");
  std::string md = make_markdown(report);
  EXPECT_TRUE(
      md.starts_with("**cgfw: 1 destination not in the allow list; 1 unix socket and 1 "
                     "device blocked** (audit mode: only unix sockets and devices were "
                     "blocked) — `make test`\n"))
      << md;
  auto blocked = md.find("\n### Blocked\n");
  auto would = md.find("\n### Would be blocked\n");
  ASSERT_NE(blocked, std::string::npos) << md;
  ASSERT_NE(would, std::string::npos) << md;
  EXPECT_LT(blocked, would);
  EXPECT_TRUE(has_line(md, "| Destination | Port | Layer | Process | Count | To allow it |")) << md;
  EXPECT_TRUE(
      has_line(md,
               "| /run/docker.sock | — | unix | /usr/bin/docker | 1 | run cgfw-sandbox with "
               "`--allow-unix /run/docker.sock` (an option: unix sockets are not allow "
               "rules) |"))
      << md;
  EXPECT_TRUE(has_line(md,
                       "| 203.0.113.10 | 443/tcp | packet | /usr/bin/curl | 1 | "
                       "`203.0.113.10:443` |"))
      << md;
  auto suggested = md.find("### Suggested allow list");
  ASSERT_NE(suggested, std::string::npos) << md;
  EXPECT_NE(md.find("# also run cgfw-sandbox with --allow-unix /run/docker.sock", suggested),
            std::string::npos)
      << md;

  // Only a unix socket: every destination was allowed, but not everything.
  std::string only = make_markdown(report_with({unix_socket_event("/run/docker.sock")}, "audit"));
  EXPECT_TRUE(
      only.starts_with("**cgfw: every destination was in the allow list; 1 unix socket "
                       "blocked** (audit mode: only unix sockets and devices were "
                       "blocked)"))
      << only;
  EXPECT_EQ(only.find("### Would be blocked"), std::string::npos) << only;
  EXPECT_NE(only.find("### Suggested allow list"), std::string::npos) << only;
}

TEST(Markdown, CellsEscapePipesAndBackticks) {
  json weird = blocked_address("198.51.100.11", 80, "/opt/a|b/`tool`\nx");
  std::string md = make_markdown(report_with({weird}));
  EXPECT_NE(md.find("| /opt/a\\|b/\\`tool\\`?x |"), std::string::npos) << md;
  EXPECT_EQ(markdown_cell("a|b`c"), "a\\|b\\`c");
  EXPECT_EQ(markdown_cell(""), "—");

  json report = report_with({weird});
  report["command"] = {"sh", "-c", "echo `date` | tee x"};
  std::string md2 = make_markdown(report);
  EXPECT_NE(md2.find("— `` sh -c 'echo `date` | tee x' ``\n"), std::string::npos) << md2;
}

TEST(Markdown, WarningsAndSuspiciousNames) {
  json name = blocked_name("aGVsbG8gd29ybGQgdGhpcyBpcyBzZWNyZXQ.allowed.test");
  name["decision"] = "allowed";
  name.erase("reason");
  name.erase("suggested_rule");
  name["suspicious"] = "label of 35 characters";
  name["rule"] = {{"text", "*.allowed.test:80"}, {"location", "egress.txt:2:1"}};
  json report = report_with({name});
  report["warnings"] = {"the ring buffer was full: 3 events lost"};
  std::string md = make_markdown(report);
  EXPECT_TRUE(has_line(md, "### Suspicious names")) << md;
  EXPECT_TRUE(has_line(md,
                       "| `*.allowed.test:80` | aGVsbG8gd29ybGQgdGhpcyBpcyBzZWNyZXQ.allowed.test | "
                       "/usr/bin/curl | 1 | label of 35 characters |"))
      << md;
  EXPECT_TRUE(has_line(md, "### Warnings")) << md;
  EXPECT_TRUE(has_line(md, "- the ring buffer was full: 3 events lost")) << md;
  EXPECT_TRUE(md.starts_with("**cgfw: no egress blocked**")) << "a suspicious name is not a block";
}

TEST(Markdown, RealReports) {
  std::string block = make_markdown(load(kData + "/report-block.json"));
  EXPECT_TRUE(block.starts_with("**cgfw: 4 destinations blocked** (block mode) — `sh -c "))
      << block;
  EXPECT_TRUE(has_line(block,
                       "| 198.51.100.12 | 80/tcp | packet | /usr/bin/curl | 1 | change "
                       "`198.51.100.12:443` (egress.txt:3:1) to `198.51.100.12:80,443` |"))
      << block;
  EXPECT_TRUE(has_line(block,
                       "| 198.51.100.11 (y.allowed.test) | 8080/tcp | packet | /usr/bin/curl | "
                       "1 | change `*.allowed.test:80` (egress.txt:2:1) to "
                       "`*.allowed.test:80,8080` |"))
      << block;
  std::string audit = make_markdown(load(kData + "/report-audit.json"));
  EXPECT_TRUE(audit.starts_with("**cgfw: 4 destinations not in the allow list** (audit mode"))
      << audit;
  EXPECT_TRUE(has_line(audit,
                       "| y.allowed.test | 80/tcp | dns, packet | /usr/bin/curl | 3 | "
                       "`y.allowed.test:80` |"))
      << audit;
}

#ifdef CGFW_TOOL_BINARY
TEST(CgfwTool, ReportShowPrintsTheMarkdown) {
  auto result =
      testing::run_command({CGFW_TOOL_BINARY, "report", "show", kData + "/report-block.json"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, make_markdown(load(kData + "/report-block.json")));

  auto missing = testing::run_command({CGFW_TOOL_BINARY, "report", "show", "/nonexistent/r.json"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(
      missing.err.find("cannot read the report /nonexistent/r.json: No such file or directory"),
      std::string::npos)
      << missing.err;
  auto usage = testing::run_command({CGFW_TOOL_BINARY, "report"});
  EXPECT_EQ(usage.exit_code, 2);
  auto help = testing::run_command({CGFW_TOOL_BINARY, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("policy"), std::string::npos) << help.out;
  auto version = testing::run_command({CGFW_TOOL_BINARY, "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out, std::string("cgfw ") + CGFW_VERSION + "\n");
}
#endif

}  // namespace
}  // namespace cgfw::reports
