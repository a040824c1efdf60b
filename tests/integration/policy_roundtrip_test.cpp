// Audit -> `cgfw policy suggest` -> block: the suggested allow list lets the same workload run
// without a single block, and taking one line out blocks exactly that destination.
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"

namespace cgfw::testing {
namespace {

using nlohmann::json;

// Names under allowed.test and other.test, one on another port, and one bare address: each curl
// prints "hello from IP:PORT" when it gets through.
const std::vector<std::string> kWorkload = {
    "sh", "-c",
    "for url in http://x.allowed.test/ http://y.allowed.test:8080/ http://deep.sub.allowed.test/ "
    "http://other.test:9000/ http://203.0.113.11/; do curl -sS --max-time 5 \"$url\"; done; true"};
constexpr int kDestinations = 5;

int hellos(const std::string& out) {
  int n = 0;
  for (std::size_t at = out.find("hello from"); at != std::string::npos;
       at = out.find("hello from", at + 1))
    ++n;
  return n;
}

// The non-comment lines of an allow file.
std::vector<std::string> rule_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::string rule = line.substr(0, line.find('#'));
    while (!rule.empty() && rule.back() == ' ') rule.pop_back();
    if (!rule.empty()) out.push_back(rule);
  }
  return out;
}

std::vector<json> blocked_events(const json& report) {
  std::vector<json> out;
  for (const auto& event : report["events"])
    if (event["decision"] == "blocked") out.push_back(event);
  return out;
}

class PolicyRoundtrip : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef CGFW_TOOL_BINARY
    GTEST_SKIP() << "SKIPPED LOUDLY: the cgfw tool is not built";
#endif
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: integration tests need root";
    net_ = FakeInternet::up();
  }

  SandboxResult run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--dns-upstream", FakeInternet::kDnsV4});
    return run_sandbox(args, kWorkload);
  }

  std::unique_ptr<FakeInternet> net_;
  TempDir dir_;
};

TEST_F(PolicyRoundtrip, SuggestionFromAuditRunsTheBlockRunClean) {
#ifdef CGFW_TOOL_BINARY
  auto audit = run({"--audit"});
  ASSERT_EQ(audit.exit_status, 0) << audit.err;
  ASSERT_EQ(hellos(audit.out), kDestinations) << audit.out << audit.err;
  ASSERT_TRUE(audit.report);
  std::string report_path = dir_.write("audit.json", audit.report->dump());

  auto suggested = run_command({CGFW_TOOL_BINARY, "policy", "suggest", report_path});
  ASSERT_EQ(suggested.exit_code, 0) << suggested.err;
  const std::string& policy = suggested.out;
  std::string policy_path = dir_.write("egress.txt", policy);
  auto check = run_command({CGFW_TOOL_BINARY, "policy", "check", policy_path});
  EXPECT_EQ(check.exit_code, 0) << check.err << policy;
  EXPECT_EQ(check.out, "ok: " + std::to_string(kDestinations) + " rules\n") << policy;
  // One line per destination: a name rule with the port its curl used (a URL rule instead where
  // the web proxy saw the request), and the bare address as an address.
  auto rules = rule_lines(policy);
  for (const char* destination : {"x.allowed.test", "y.allowed.test:8080", "deep.sub.allowed.test",
                                  "other.test:9000", "203.0.113.11:80"})
    EXPECT_EQ(std::count_if(rules.begin(), rules.end(),
                            [&](const std::string& rule) {
                              return rule.find(destination) != std::string::npos;
                            }),
              1)
        << destination << " in:\n"
        << policy;

  auto block = run({"--allow-file", policy_path});
  EXPECT_EQ(block.exit_status, 0) << block.err;
  EXPECT_EQ(hellos(block.out), kDestinations) << block.out << block.err;
  ASSERT_TRUE(block.report);
  EXPECT_EQ((*block.report)["summary"]["blocked"], 0) << block.report->dump(2);
  EXPECT_EQ(block.err, "") << "nothing blocked, nothing announced";

  // Without y.allowed.test's line, that name and nothing else is blocked.
  std::istringstream lines(policy);
  std::string without_y;
  for (std::string line; std::getline(lines, line);)
    if (line.find("y.allowed.test") == std::string::npos || line.starts_with("#"))
      without_y += line + "\n";
  ASSERT_EQ(rule_lines(without_y).size(), rules.size() - 1);
  std::string smaller_path = dir_.write("smaller.txt", without_y);
  auto smaller = run({"--allow-file", smaller_path});
  EXPECT_EQ(hellos(smaller.out), kDestinations - 1) << smaller.out << smaller.err;
  ASSERT_TRUE(smaller.report);
  auto blocked = blocked_events(*smaller.report);
  ASSERT_FALSE(blocked.empty()) << smaller.report->dump(2);
  std::set<std::string> names;
  for (const auto& event : blocked) names.insert(event.value("domain", ""));
  EXPECT_EQ(names, std::set<std::string>{"y.allowed.test"}) << smaller.report->dump(2);
  EXPECT_NE(smaller.err.find("y.allowed.test"), std::string::npos) << smaller.err;

  // The blocked run's own suggestion puts the line back.
  std::string smaller_report = dir_.write("smaller.json", smaller.report->dump());
  auto again =
      run_command({CGFW_TOOL_BINARY, "policy", "suggest", "--include-blocked", smaller_report});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(rule_lines(again.out), std::vector<std::string>{"y.allowed.test:443"})
      << "a name that never resolved is suggested with the default port\n"
      << again.out;
#endif
}

}  // namespace
}  // namespace cgfw::testing
