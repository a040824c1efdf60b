// `cgfw policy suggest`: names with the ports they were used on, addresses, URL groups, wildcard
// folding (never over a public suffix), comments, and output that parses back as rules.
#include "reports/policy_suggest.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "policy/parser.h"
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

json process(int pid, const std::string& exe) {
  return {{"pid", pid}, {"exe", exe},    {"cmdline", {exe}},          {"comm", "x"},
          {"ppid", 1},  {"gone", false}, {"ancestors", json::array()}};
}

// Audit mode: a name looked up (would be blocked), with the addresses of its answer.
json lookup(const std::string& name, std::vector<std::string> answers, int pid = 100,
            const std::string& exe = "/usr/bin/curl") {
  return {{"time", "2026-11-21T13:00:00.000001Z"},
          {"decision", "allowed"},
          {"would_block", true},
          {"layer", "dns"},
          {"protocol", "udp"},
          {"ip", "10.255.255.53"},
          {"port", 53},
          {"domain", name},
          {"qtype", "A"},
          {"answers", answers},
          {"reason", "no rule allows this name"},
          {"suggested_rule", name},
          {"count", 1},
          {"process", process(pid, exe)}};
}

// Audit mode: a connection (would be blocked).
json connect(const std::string& ip, int port, int pid = 100,
             const std::string& exe = "/usr/bin/curl", const std::string& protocol = "tcp") {
  return {{"time", "2026-11-21T13:00:00.000002Z"},
          {"decision", "allowed"},
          {"would_block", true},
          {"layer", "packet"},
          {"protocol", protocol},
          {"ip", ip},
          {"port", port},
          {"reason", "no rule allows this address"},
          {"suggested_rule", ip + ":" + std::to_string(port) + (protocol == "udp" ? "/udp" : "")},
          {"count", 1},
          {"process", process(pid, exe)}};
}

json report_with(json events, const std::string& mode = "audit", json rules = json::array()) {
  return {{"version", 1},        {"mode", mode},
          {"command", {"make"}}, {"policy", {{"sources", {"egress.txt"}}, {"rules", rules}}},
          {"events", events},    {"warnings", json::array()}};
}

// The rule lines of a suggestion, checked to parse exactly as the runner would read the file.
std::vector<std::string> rules_of(const std::string& text) {
  auto parsed = policy::parse_rules(text, "suggested.txt");
  std::string errors;
  for (const auto& error : parsed.errors) errors += error.to_string() + "\n";
  EXPECT_EQ(errors, "") << text;
  std::vector<std::string> out;
  for (const auto& rule : parsed.rules) out.push_back(rule.text);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

using Rules = std::vector<std::string>;

TEST(PolicySuggest, NamesGetThePortsTheirProcessUsed) {
  // curl resolved y.example.org and connected on 80 and 8080; another process connected to the
  // same address by its literal: that one needs an address rule.
  json report = report_with({lookup("y.example.org", {"198.51.100.11"}),
                             connect("198.51.100.11", 80), connect("198.51.100.11", 8080),
                             connect("198.51.100.11", 80, 200, "/usr/bin/wget")});
  std::string text = suggest_policy({report});
  EXPECT_EQ(rules_of(text), (Rules{"y.example.org:80,8080", "198.51.100.11:80"})) << text;
  EXPECT_TRUE(has_line(text, "y.example.org:80,8080  # needed by /usr/bin/curl")) << text;
  EXPECT_TRUE(has_line(text, "198.51.100.11:80  # needed by /usr/bin/wget")) << text;
  EXPECT_TRUE(
      text.starts_with("# cgfw allow list suggested by 'cgfw policy suggest' from 1 report "
                       "(audit mode)\n"))
      << text;
}

TEST(PolicySuggest, NameOnlyLookedUpGetsTheDefaultPort) {
  std::string text = suggest_policy({report_with({lookup("only.example.org", {"203.0.113.5"})})});
  EXPECT_EQ(rules_of(text), (Rules{"only.example.org:443"}));
  EXPECT_NE(text.find("only.example.org:443  # needed by /usr/bin/curl; only looked up, no "
                      "connection seen: port 443 assumed"),
            std::string::npos)
      << text;
}

TEST(PolicySuggest, CommentsNameEveryProcess) {
  json report = report_with({lookup("github.com", {"140.82.112.3"}, 1, "/usr/bin/git"),
                             connect("140.82.112.3", 443, 1, "/usr/bin/git"),
                             lookup("github.com", {"140.82.112.3"}, 2, "/usr/bin/curl"),
                             connect("140.82.112.3", 443, 2, "/usr/bin/curl")});
  std::string text = suggest_policy({report});
  EXPECT_TRUE(has_line(text, "github.com:443  # needed by /usr/bin/curl, /usr/bin/git")) << text;
  EXPECT_EQ(rules_of(text), (Rules{"github.com:443"}));
}

TEST(PolicySuggest, SiblingsFoldIntoAWildcardAtTheThreshold) {
  json three = report_with(
      {lookup("a.example.org", {}), lookup("b.example.org", {}), lookup("c.example.org", {})});
  EXPECT_EQ(rules_of(suggest_policy({three})),
            (Rules{"a.example.org:443", "b.example.org:443", "c.example.org:443"}));

  json four = three;
  four["events"].push_back(lookup("d.example.org", {"198.51.100.20"}));
  four["events"].push_back(connect("198.51.100.20", 8443));
  four["events"].push_back(lookup("example.org", {}));  // the apex is not below itself
  std::string text = suggest_policy({four});
  EXPECT_EQ(rules_of(text), (Rules{"example.org:443", "*.example.org:443,8443"})) << text;
  EXPECT_NE(text.find("*.example.org:443,8443  # needed by /usr/bin/curl; covers a.example.org, "
                      "b.example.org, c.example.org, d.example.org"),
            std::string::npos)
      << text;

  SuggestOptions never;
  never.collapse_threshold = 0;
  EXPECT_EQ(rules_of(suggest_policy({four}, never)).size(), 5u);
  SuggestOptions five;
  five.collapse_threshold = 5;
  EXPECT_EQ(rules_of(suggest_policy({four}, five)).size(), 5u);
}

TEST(PolicySuggest, FoldingGoesUpLevelByLevelAndCoversDeeperNames) {
  json report = report_with({});
  for (std::string sub : {"a", "b", "c", "d"})
    for (std::string host : {"h1", "h2", "h3", "h4"})
      report["events"].push_back(lookup(host + "." + sub + ".cdn.example.net", {}));
  report["events"].push_back(lookup("x.y.z.a.cdn.example.net", {}));
  // Four wildcards below cdn.example.net fold into one.
  EXPECT_EQ(rules_of(suggest_policy({report})), (Rules{"*.cdn.example.net:443"}));
}

TEST(PolicySuggest, NeverAWildcardOverAPublicSuffix) {
  json report = report_with({});
  for (std::string name : {"a.github.io", "b.github.io", "c.github.io", "d.github.io",  // private
                           "a.co.uk", "b.co.uk", "c.co.uk", "d.co.uk",                  // ICANN
                           "one.com", "two.com", "three.com", "four.com",               // TLD
                           "a.corp", "b.corp", "c.corp", "d.corp"})                     // one label
    report["events"].push_back(lookup(name, {}));
  for (std::string name :
       {"api.github.com", "raw.github.com", "codeload.github.com", "uploads.github.com"})
    report["events"].push_back(lookup(name, {}));
  Rules rules = rules_of(suggest_policy({report}));
  EXPECT_EQ(rules.size(), 17u) << "16 exact names and one wildcard";
  EXPECT_EQ(rules.back(), "*.github.com:443") << "below a registrable domain is fine";
  for (const auto& rule : rules) {
    EXPECT_NE(rule, "*.github.io:443");
    EXPECT_NE(rule, "*.co.uk:443");
    EXPECT_NE(rule, "*.com:443");
    EXPECT_NE(rule, "*.corp:443");
  }
}

TEST(PolicySuggest, UdpAndTcpForOneName) {
  json report =
      report_with({lookup("media.example.org", {"198.51.100.30"}), connect("198.51.100.30", 443),
                   connect("198.51.100.30", 3478, 100, "/usr/bin/curl", "udp"),
                   lookup("stun.example.org", {"198.51.100.31"}),
                   connect("198.51.100.31", 3478, 100, "/usr/bin/curl", "udp"),
                   connect("2001:db8::31", 5353, 300, "/usr/bin/dig", "udp"),
                   connect("2001:db8::31", 443, 300, "/usr/bin/dig")});
  std::string text = suggest_policy({report});
  EXPECT_EQ(rules_of(text),
            (Rules{"media.example.org:443", "stun.example.org:3478/udp", "198.51.100.30:3478/udp",
                   "[2001:db8::31]:443", "[2001:db8::31]:5353/udp"}))
      << text;
  EXPECT_TRUE(has_line(text,
                       "198.51.100.30:3478/udp  # needed by /usr/bin/curl; UDP to "
                       "media.example.org"))
      << text;
}

TEST(PolicySuggest, UrlRulesGroupedByFirstSegment) {
  auto request = [](const std::string& url) {
    json event = connect("198.51.100.10", 443);
    event["layer"] = "tls";
    event["domain"] = "files.example.org";
    event["url"] = url;
    return event;
  };
  json report = report_with({lookup("files.example.org", {"198.51.100.10"}),
                             request("https://files.example.org/org/repo/a.tar.gz?x=1"),
                             request("https://files.example.org/org/other"),
                             request("https://files.example.org/"),
                             request("https://Files.Example.org:8443/v2/"),
                             request("http://files.example.org/simple/pkg/")});
  std::string text = suggest_policy({report});
  EXPECT_EQ(rules_of(text),
            (Rules{"http://files.example.org/simple*", "https://files.example.org/",
                   "https://files.example.org/org*", "https://files.example.org:8443/v2*"}))
      << text;
  EXPECT_EQ(text.find("\nfiles.example.org:"), std::string::npos)
      << "the URL rules cover the host; a name rule would undo them\n"
      << text;
}

TEST(PolicySuggest, UrlToAnAddressIsAllowedByAddress) {
  // A URL rule's host must be a name the address was resolved for; an address host is not.
  json request = connect("203.0.113.11", 80);
  request["layer"] = "http";
  request["domain"] = "203.0.113.11";
  request["url"] = "http://203.0.113.11/index.html";
  json v6 = connect("2001:db8::11", 443, 100);
  v6["layer"] = "tls";
  v6["domain"] = "2001:db8::11";
  v6["url"] = "https://[2001:db8::11]/x";
  std::string text = suggest_policy({report_with({request, v6})});
  EXPECT_EQ(rules_of(text), (Rules{"203.0.113.11:80", "[2001:db8::11]:443"})) << text;
}

TEST(PolicySuggest, BlockedEventsOnlyWhenAsked) {
  json blocked_name = lookup("evil.example.org", {});
  blocked_name["decision"] = "blocked";
  blocked_name["would_block"] = false;
  json blocked_address = connect("203.0.113.9", 22);
  blocked_address["decision"] = "blocked";
  blocked_address["would_block"] = false;
  json mismatch = connect("198.51.100.12", 80);
  mismatch["decision"] = "blocked";
  mismatch["would_block"] = false;
  mismatch["reason"] = "a rule allows this address, but not port 80/tcp";
  json rules = {{{"id", 0}, {"text", "198.51.100.12:443"}, {"location", "egress.txt:3:1"}}};
  json report = report_with({blocked_name, blocked_address, mismatch}, "block", rules);

  std::string text = suggest_policy({report});
  EXPECT_EQ(rules_of(text), Rules{});
  EXPECT_NE(text.find("# Nothing to add"), std::string::npos) << text;

  SuggestOptions options;
  options.include_blocked = true;
  std::string with_blocked = suggest_policy({report}, options);
  EXPECT_EQ(rules_of(with_blocked),
            (Rules{"evil.example.org:443", "203.0.113.9:22", "198.51.100.12:80,443"}))
      << with_blocked;
  EXPECT_TRUE(has_line(with_blocked,
                       "198.51.100.12:80,443  # replaces egress.txt:3:1 "
                       "'198.51.100.12:443'; needed by /usr/bin/curl"))
      << with_blocked;
  EXPECT_TRUE(with_blocked.starts_with(
      "# cgfw allow list suggested by 'cgfw policy suggest' from 1 report (block mode)\n"));
}

TEST(PolicySuggest, WhatNoRuleShouldAllowIsOnlyMentioned) {
  json fronting = connect("198.51.100.11", 443);
  fronting["layer"] = "tls";
  fronting["domain"] = "allowed.example.org";
  fronting["reason"] = "domain fronting: the address was not resolved for allowed.example.org";
  json ping = connect("198.51.100.1", 0);
  ping["protocol"] = "icmp";
  ping["reason"] = "icmp is never allowed: rules allow TCP and UDP ports only";
  ping.erase("suggested_rule");
  json srv = lookup("_ldap._tcp.example.org", {});
  std::string text = suggest_policy({report_with({fronting, ping, srv})});
  EXPECT_EQ(rules_of(text), Rules{}) << text;
  EXPECT_NE(text.find("# Not suggested"), std::string::npos) << text;
  EXPECT_NE(text.find("#   allowed.example.org at 198.51.100.11:443/tcp (/usr/bin/curl): domain "
                      "fronting"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("#   198.51.100.1/icmp (/usr/bin/curl): icmp is never allowed"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("#   _ldap._tcp.example.org: "), std::string::npos) << text;
}

// A report may be edited: an address or port no rule can name is mentioned, never written as a
// rule line. A refused port outside 1-65535 on an address a rule names used to fall back to the
// address rule "198.51.100.12:70000", and "ip": "not an address" gave "not an address:443".
TEST(PolicySuggest, EndpointsNoRuleCanNameAreOnlyMentioned) {
  json rules = {{{"id", 0}, {"text", "198.51.100.12:443"}, {"location", "egress.txt:3:1"}}};
  json refused = connect("198.51.100.12", 70000);
  refused["reason"] = "a rule allows this address, but not port 70000/tcp";
  json negative = connect("198.51.100.12", 80);
  negative["port"] = -1;
  negative["reason"] = "a rule allows this address, but not port 80/tcp";
  json huge = connect("198.51.100.13", 80);
  huge["port"] = 18446744073709551615ull;  // -1 once read as a signed 64-bit number
  json named = connect("not an address", 443);
  std::string text = suggest_policy({report_with(
      {refused, negative, huge, connect("198.51.100.14", 65536), named}, "audit", rules)});
  EXPECT_EQ(rules_of(text), Rules{}) << text;
  EXPECT_NE(text.find("#   198.51.100.12:70000/tcp (/usr/bin/curl): a rule allows this address"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("#   not an address:443/tcp (/usr/bin/curl): "), std::string::npos) << text;
  // The same refusal on a port that exists still widens the rule.
  json ok = connect("198.51.100.12", 8080);
  ok["reason"] = "a rule allows this address, but not port 8080/tcp";
  EXPECT_EQ(rules_of(suggest_policy({report_with({ok}, "audit", rules)})),
            Rules{"198.51.100.12:443,8080"});
}

// A unix socket is opened by the cgfw-sandbox option --allow-unix: the suggestion names it in a
// comment, never as a rule line. A device has no option to suggest: it is only mentioned.
TEST(PolicySuggest, UnixSocketsAreOptionsAndDevicesAreOnlyMentioned) {
  json report =
      report_with({connect("198.51.100.11", 443), unix_socket_event("/run/docker.sock"),
                   unix_socket_event("/run/docker.sock", 301, "/usr/bin/curl"),
                   unix_socket_event("/run/containerd/containerd.sock"), tun_device_event()});
  std::string text = suggest_policy({report});
  EXPECT_EQ(rules_of(text), (Rules{"198.51.100.11:443"})) << text;
  EXPECT_TRUE(has_line(text,
                       "# Unix sockets (cgfw-sandbox options, not rules: no allow file line opens "
                       "them)"))
      << text;
  EXPECT_TRUE(has_line(text,
                       "# also run cgfw-sandbox with --allow-unix /run/containerd/containerd.sock "
                       "(unix sockets are options, not rules); needed by /usr/bin/docker"))
      << text;
  EXPECT_TRUE(has_line(text,
                       "# also run cgfw-sandbox with --allow-unix /run/docker.sock (unix sockets "
                       "are options, not rules); needed by /usr/bin/curl, /usr/bin/docker"))
      << text;
  EXPECT_TRUE(has_line(text,
                       "#   /dev/net/tun (/usr/sbin/openvpn): TUN/TAP device: packets written to "
                       "it bypass the sandbox's egress program; no rule or option allows it other "
                       "than --allow-privileged, which turns every restriction of the sandbox off"))
      << text;
  EXPECT_EQ(text.find("\n/run/"), std::string::npos) << text;

  // Only a unix socket: no rule to add, but not "nothing".
  std::string only = suggest_policy({report_with({unix_socket_event("/run/docker.sock")})});
  EXPECT_EQ(rules_of(only), Rules{}) << only;
  EXPECT_NE(only.find("# No rule to add: what these runs needed is an option (below).\n"),
            std::string::npos)
      << only;
  EXPECT_EQ(only.find("Nothing to add"), std::string::npos) << only;
}

// Audit mode blocks unix sockets and devices, so an audit run needed them; a block run's blocked
// events count only with --include-blocked, these as any other.
TEST(PolicySuggest, BlockRunsMentionUnixSocketsOnlyWithIncludeBlocked) {
  json report = report_with({unix_socket_event("/run/docker.sock"), tun_device_event()}, "block");
  std::string text = suggest_policy({report});
  EXPECT_EQ(text.find("--allow-unix"), std::string::npos) << text;
  EXPECT_EQ(text.find("/dev/net/tun"), std::string::npos) << text;
  EXPECT_NE(text.find("# Nothing to add"), std::string::npos) << text;
  SuggestOptions options;
  options.include_blocked = true;
  std::string with_blocked = suggest_policy({report}, options);
  EXPECT_EQ(rules_of(with_blocked), Rules{}) << with_blocked;
  EXPECT_NE(with_blocked.find("# also run cgfw-sandbox with --allow-unix /run/docker.sock"),
            std::string::npos)
      << with_blocked;
  EXPECT_NE(with_blocked.find("#   /dev/net/tun (/usr/sbin/openvpn): "), std::string::npos)
      << with_blocked;
}

// The path comes from the report, which may be edited: it stays one comment line, and the
// option one shell word.
TEST(PolicySuggest, SocketPathsCannotBreakTheFile) {
  json report = report_with({unix_socket_event("/tmp/x\ny.example.org\n#.sock"),
                             unix_socket_event("/tmp/my agent.sock"),
                             unix_socket_event("relative.sock"), unix_socket_event("")});
  report["events"][3].erase("path");
  std::string text = suggest_policy({report});
  EXPECT_EQ(rules_of(text), Rules{}) << text;
  EXPECT_NE(text.find("--allow-unix '/tmp/x?y.example.org?#.sock' (unix sockets"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("--allow-unix '/tmp/my agent.sock' (unix sockets"), std::string::npos)
      << text;
  EXPECT_NE(text.find("#   a unix socket the report does not name (/usr/bin/docker)"),
            std::string::npos)
      << text;
}

TEST(PolicySuggest, ProcessNamesCannotBreakTheFile) {
  json evil = lookup("a.example.org", {}, 100, "/tmp/x\ny.example.org\n#");
  std::string text = suggest_policy({report_with({evil})});
  EXPECT_EQ(rules_of(text), (Rules{"a.example.org:443"})) << text;
  json unknown = lookup("b.example.org", {}, 100, "");
  unknown["process"]["exe"] = nullptr;
  EXPECT_NE(suggest_policy({report_with({unknown})}).find("needed by x (executable unknown)"),
            std::string::npos);
}

TEST(PolicySuggest, MergesReportsStablyAndDedupes) {
  json one = report_with({lookup("a.example.org", {"198.51.100.40"}), connect("198.51.100.40", 443),
                          connect("203.0.113.7", 80, 5, "/usr/bin/wget")});
  json two = report_with({lookup("a.example.org", {"198.51.100.41"}, 9, "/usr/bin/git"),
                          connect("198.51.100.41", 443, 9, "/usr/bin/git"),
                          connect("203.0.113.7", 80, 5, "/usr/bin/wget")});
  std::string ab = suggest_policy({one, two});
  EXPECT_EQ(ab, suggest_policy({two, one}));
  EXPECT_EQ(rules_of(ab), (Rules{"a.example.org:443", "203.0.113.7:80"}));
  EXPECT_TRUE(has_line(ab, "a.example.org:443  # needed by /usr/bin/curl, /usr/bin/git")) << ab;
  EXPECT_TRUE(
      ab.starts_with("# cgfw allow list suggested by 'cgfw policy suggest' from 2 reports"));
}

TEST(PolicySuggest, RealAuditReport) {
  std::string text = suggest_policy({load(kData + "/report-audit.json")});
  EXPECT_EQ(rules_of(text), (Rules{"deep.sub.allowed.test:443", "y.allowed.test:80",
                                   "other.test:8080", "198.51.100.11:80"}))
      << text;
}

#ifdef CGFW_TOOL_BINARY
TEST(CgfwTool, PolicySuggestAndCheck) {
  testing::TempDir dir;
  auto suggested =
      testing::run_command({CGFW_TOOL_BINARY, "policy", "suggest", kData + "/report-audit.json",
                            kData + "/report-block.json", "--include-blocked"});
  ASSERT_EQ(suggested.exit_code, 0) << suggested.err;
  EXPECT_EQ(suggested.out,
            suggest_policy({load(kData + "/report-audit.json"), load(kData + "/report-block.json")},
                           SuggestOptions{.include_blocked = true}));
  std::string file = dir.write("suggested.txt", suggested.out);
  auto ok =
      testing::run_command({CGFW_TOOL_BINARY, "policy", "check", file, kData + "/egress.txt"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "ok: " + std::to_string(rules_of(suggested.out).size() + 2) + " rules\n");

  std::string bad = dir.write("bad.txt", "# fine\ngithub.com:443\n  exa*mple.com *.com\n");
  auto refused = testing::run_command({CGFW_TOOL_BINARY, "policy", "check", bad, file});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find(bad + ":3:3: 'exa*mple.com': '*' is only allowed as the whole first "
                                   "label"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find(bad + ":3:16: '*.com': "), std::string::npos) << refused.err;
  auto missing = testing::run_command({CGFW_TOOL_BINARY, "policy", "check", dir.file("none.txt")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("none.txt: cannot read the file"), std::string::npos) << missing.err;

  std::string not_json = dir.write("r.json", "not json");
  auto invalid = testing::run_command({CGFW_TOOL_BINARY, "policy", "suggest", not_json});
  EXPECT_EQ(invalid.exit_code, 2);
  EXPECT_NE(invalid.err.find(not_json + ": not valid JSON"), std::string::npos) << invalid.err;
}
#endif

}  // namespace
}  // namespace cgfw::reports
