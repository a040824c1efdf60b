// The reports a CI engineer reads, from real runs: SARIF that GitHub accepts, the Markdown step
// summary, and --fail-on-block.
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"

namespace cgfw::testing {
namespace {

using nlohmann::json;

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "" when `document` validates against the official SARIF 2.1.0 schema (draft-07).
std::string sarif_errors(const std::string& path) {
  auto result =
      run_command({"/usr/bin/python3", "-c",
                   "import json, sys, jsonschema\n"
                   "schema = json.load(open(sys.argv[1]))\n"
                   "jsonschema.Draft7Validator(schema).validate(json.load(open(sys.argv[2])))\n",
                   std::string(CGFW_SOURCE_DIR) + "/reports/schema/sarif-schema-2.1.0.json", path});
  return result.exit_code == 0 ? "" : result.out + result.err;
}

class Reports : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: integration tests need root";
    net_ = FakeInternet::up();
  }
  std::unique_ptr<FakeInternet> net_;
};

// The "done means": two blocked destinations -> two SARIF results pointing at the allow
// file, a summary that shows them, and exit 3 with --fail-on-block.
TEST_F(Reports, BlockedRunGivesSarifSummaryAndExitStatus) {
  TempDir dir;
  auto allow = dir.write("egress.txt", "# the job's egress\n*.allowed.test\n198.51.100.10:80\n");
  auto sarif = dir.file("cgfw.sarif");
  auto markdown = dir.file("summary.md");
  auto step_summary = dir.write("step-summary.md", "earlier step\n");
  ::setenv("GITHUB_STEP_SUMMARY", step_summary.c_str(), 1);
  auto result = run_sandbox(
      {"--dns-upstream", FakeInternet::kDnsV4, "-f", allow, "--report-sarif", sarif, "--report-md",
       markdown, "--fail-on-block"},
      {"sh", "-c",
       "curl -sS --max-time 5 http://x.allowed.test/; curl -sS --max-time 5 http://evil.test/; "
       "curl -sS --max-time 5 http://198.51.100.11/; true"});
  ::unsetenv("GITHUB_STEP_SUMMARY");
  EXPECT_EQ(result.exit_status, 3) << result.err;

  EXPECT_EQ(sarif_errors(sarif), "");
  json document = json::parse(read(sarif));
  const auto& results = document["runs"][0]["results"];
  ASSERT_EQ(results.size(), 2u) << document.dump(2);
  std::set<std::string> kinds;
  for (const auto& r : results) {
    kinds.insert(r["ruleId"].get<std::string>());
    auto location = r["locations"][0]["physicalLocation"];
    EXPECT_NE(location["artifactLocation"]["uri"].get<std::string>().find("egress.txt"),
              std::string::npos)
        << r.dump(2);
    EXPECT_EQ(location["region"]["startLine"], 3) << "a new rule goes after the last line";
    EXPECT_FALSE(r["partialFingerprints"].empty());
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"blocked-domain", "blocked-ip"}));

  std::string summary = read(markdown);
  EXPECT_NE(summary.find("| evil.test |"), std::string::npos) << summary;
  EXPECT_NE(summary.find("| 198.51.100.11 | 80/tcp | packet | /usr/bin/curl |"), std::string::npos)
      << summary;
  EXPECT_NE(summary.find("`198.51.100.11:80`"), std::string::npos) << summary;
  EXPECT_EQ(read(step_summary), "earlier step\n" + summary + "\n") << "appended, not replaced";
}

TEST_F(Reports, CleanRunIsQuietAndExitsWithTheCommandsStatus) {
  TempDir dir;
  auto markdown = dir.file("summary.md");
  auto result = run_sandbox({"--dns-upstream", FakeInternet::kDnsV4, "-a", "*.allowed.test",
                             "--report-md", markdown, "--fail-on-block"},
                            {"curl", "-sS", "--max-time", "5", "http://x.allowed.test/"});
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_EQ(result.err, "");
  EXPECT_NE(read(markdown).find("**cgfw: no egress blocked**"), std::string::npos)
      << read(markdown);
}

}  // namespace
}  // namespace cgfw::testing
