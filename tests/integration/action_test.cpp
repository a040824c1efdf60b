// The GitHub Action end to end: the committed bundles (dist/main.js, dist/post.js) driven by a
// simulated runner worker (data/fake_runner.py: file commands, state, exported variables, later
// steps as the worker's children) against the real cgfw-sandbox and the fake internet.
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"

namespace cgfw::testing {
namespace {

using nlohmann::json;

class Action : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: integration tests need root";
    net_ = FakeInternet::up();
    std::filesystem::create_directories(workspace_);
    std::filesystem::create_directories(temp_);
  }

  // Runs main, each of `steps`, then post, as the fake worker's children; returns its account.
  json run_job(const std::vector<std::string>& inputs, const std::vector<std::string>& steps) {
    std::string build = std::filesystem::path(CGFW_SANDBOX_BINARY).parent_path();
    std::vector<std::string> argv{
        "env",         "PATH=" + build + ":" + std::getenv("PATH"),
        "python3",     std::string(CGFW_SOURCE_DIR) + "/tests/integration/data/fake_runner.py",
        "--dist",      std::string(CGFW_SOURCE_DIR) + "/dist",
        "--workspace", workspace_,
        "--temp",      temp_};
    for (const auto& input : inputs) argv.insert(argv.end(), {"--input", input});
    for (const auto& step : steps) argv.insert(argv.end(), {"--step", step});
    auto ran = run_command(argv);
    EXPECT_EQ(ran.exit_code, 0) << ran.err;
    return json::parse(ran.out);
  }

  static std::string probe(const std::string& ip) {
    return std::string(CGFW_ESCAPE_PROBE) + " tcp-connect " + ip + " 9000";
  }

  std::unique_ptr<FakeInternet> net_;
  TempDir dir_;
  std::string workspace_ = dir_.file("workspace");
  std::string temp_ = dir_.file("runner-temp");
};

// Job mode: main moves the worker into the sandbox, so the later step it starts is policed;
// post stops cgfw and publishes outputs, annotations, summary and reports.
TEST_F(Action, JobModePolicesLaterStepsUntilPost) {
  auto job = run_job({"allow=198.51.100.10:9000", "dns-upstream=198.51.100.53"},
                     {probe("198.51.100.11") + "; " + probe("198.51.100.10")});
  const auto& main = job["main"];
  ASSERT_EQ(main["exit"], 0) << main.dump(2);

  const auto& step = job["steps"][0];
  EXPECT_EQ(step["stdout"].get<std::string>().rfind(
                "REFUSED connect EPERM Operation not permitted\nOK connected", 0),
            0u)
      << step.dump(2);

  const auto& post = job["post"];
  EXPECT_EQ(post["exit"], 0) << post.dump(2);
  EXPECT_EQ(post["outputs"]["blocked-count"], "1") << post.dump(2);
  EXPECT_EQ(post["outputs"]["exit-code"], "0");
  std::string annotations = post["stdout"];
  EXPECT_NE(annotations.find("::error"), std::string::npos) << annotations;
  EXPECT_NE(annotations.find("198.51.100.11:9000"), std::string::npos) << annotations;
  EXPECT_NE(post["summary"].get<std::string>().find("198.51.100.11"), std::string::npos)
      << post["summary"];
  EXPECT_NE(post["outputs"]["suggested-policy"].get<std::string>().find("198.51.100.11:9000"),
            std::string::npos)
      << post["outputs"].dump(2);

  // The reports: the blocked attempt by the later step's process, valid against our schema.
  json report = json::parse(std::ifstream(post["outputs"]["report"].get<std::string>()));
  EXPECT_EQ(schema_errors(report), "");
  bool blocked = false;
  for (const auto& event : report["events"])
    blocked |= event["decision"] == "blocked" && event["ip"] == "198.51.100.11" &&
               event["process"]["comm"] == "cgfw_escape_pro";
  EXPECT_TRUE(blocked) << report.dump(2);
  json sarif = json::parse(std::ifstream(post["outputs"]["sarif"].get<std::string>()));
  EXPECT_EQ(sarif["version"], "2.1.0");
  EXPECT_FALSE(sarif["runs"][0]["results"].empty());

  // Nothing of the blocked attempt arrived; the allowed one did.
  EXPECT_TRUE(net_->hits("198.51.100.11", 9000).empty());
  EXPECT_TRUE(net_->wait_for_hits("198.51.100.10", 9000, 1, std::chrono::seconds(10)));
}

// Job mode, the daemon dies (SIGKILL, as a crash or the OOM killer would): its watchdog locks
// egress down, so later steps lose the network, allowed destinations too (fail closed); the
// worker survives, and the post step fails loudly. (The oldest process whose command line
// starts with cgfw-sandbox is the daemon; its watchdog is a younger fork.)
TEST_F(Action, JobModeDaemonKilledLocksDownAndPostFailsLoudly) {
  // The watchdog locks down once it wakes to the dead daemon's pipe: the step waits for that
  // (bounded) on port 9002, allowed but closed: refused by the namespace (ECONNREFUSED) until the
  // lockdown, by cgfw after it. Nothing there ever reaches the sink.
  std::string locked_down =
      "for i in $(seq 200); do " + std::string(CGFW_ESCAPE_PROBE) +
      " tcp-connect 198.51.100.10 9002 | grep -q '^REFUSED connect E[^C]' && exit 0; sleep 0.1; "
      "done; exit 1";
  auto job = run_job(
      {"allow=198.51.100.10:9000,9002", "dns-upstream=198.51.100.53"},
      {"kill -KILL $(pgrep -o -f \"^[^ ]*cgfw-sandbox --attach-pid $PPID \"); " + locked_down,
       probe("198.51.100.10")});
  ASSERT_EQ(job["main"]["exit"], 0) << job["main"].dump(2);
  EXPECT_EQ(job["steps"][0]["exit"], 0) << job["steps"][0].dump(2);
  EXPECT_EQ(job["steps"][1]["stdout"].get<std::string>().rfind("REFUSED connect", 0), 0u)
      << job["steps"][1].dump(2);
  const auto& post = job["post"];
  EXPECT_NE(post["exit"], 0);
  EXPECT_NE(post["stdout"].get<std::string>().find("daemon died"), std::string::npos)
      << post.dump(2);
  EXPECT_TRUE(net_->hits("198.51.100.10", 9000).empty());
}

// Wrap mode: one command in the sandbox; its exit status (3 with fail-on-block) fails the step.
TEST_F(Action, WrapModeRunsOneCommandAndFailsOnBlock) {
  auto job = run_job({"allow=198.51.100.10:9000", "dns-upstream=198.51.100.53",
                      "fail-on-block=true", "run=" + probe("198.51.100.11")},
                     {});
  const auto& main = job["main"];
  EXPECT_NE(main["exit"], 0) << main.dump(2);
  EXPECT_EQ(main["outputs"]["exit-code"], "3") << main.dump(2);
  EXPECT_EQ(main["outputs"]["blocked-count"], "1");
  EXPECT_NE(main["stdout"].get<std::string>().find("REFUSED connect EPERM"), std::string::npos)
      << main["stdout"];
  EXPECT_NE(main["summary"].get<std::string>().find("198.51.100.11"), std::string::npos);
  EXPECT_EQ(job["post"]["exit"], 0) << "post has nothing to do in wrap mode";
  EXPECT_TRUE(net_->hits("198.51.100.11", 9000).empty());
}

}  // namespace
}  // namespace cgfw::testing
