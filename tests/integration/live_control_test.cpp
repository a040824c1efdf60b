// `cgfw ctl` against a real attached run: a worker loop in a cgroup connects every 100 ms to
// 198.51.100.10:9000 (allowed) and 198.51.100.11:9000 (not); the operator opens and closes the
// second, switches to audit and back, and stops the run, which leaves the worker unpoliced. A
// root process inside the policed cgroup may not use the control socket.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "tests/support/connect_worker.h"
#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"
#include "tests/support/test_cgroup.h"

namespace cgfw::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class LiveControl : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: integration tests need root";
    net_ = FakeInternet::up();
    target_.emplace("live-");
    cgroup_ = target_->path();
    ASSERT_FALSE(cgroup_.empty()) << "no cgroup2 mount";
  }

  // cgfw attached to the test cgroup; the control socket from its ready file.
  std::unique_ptr<SandboxProcess> attach(std::vector<std::string> rules) {
    std::vector<std::string> args{"--attach-cgroup", cgroup_, "--ready-file", ready_};
    args.insert(args.end(), rules.begin(), rules.end());
    auto sandbox = std::make_unique<SandboxProcess>(args, std::vector<std::string>{});
    EXPECT_TRUE(eventually([&] { return std::filesystem::exists(ready_); }, 20s));
    if (std::filesystem::exists(ready_))
      socket_ = json::parse(std::ifstream(ready_))["control_socket"].get<std::string>();
    return sandbox;
  }

  CommandResult ctl(std::vector<std::string> words) {
    std::vector<std::string> argv{CGFW_TOOL_BINARY, "ctl", "--socket", socket_};
    argv.insert(argv.end(), words.begin(), words.end());
    return run_command(argv);
  }

  // The next `count` attempts at `target` after line `mark` all start with `prefix`.
  static void expect_next(Worker& worker, const std::string& target, const std::string& prefix,
                          std::size_t count = 3) {
    std::size_t mark = worker.mark();
    for (const auto& line : worker.next(target, mark, count))
      EXPECT_EQ(line.rfind(target + " " + prefix, 0), 0u) << line;
  }

  std::unique_ptr<FakeInternet> net_;
  TempDir dir_;
  std::string ready_ = dir_.file("ready.json");
  std::optional<TestCgroup> target_;
  std::string cgroup_;
  std::string socket_;
};

TEST_F(LiveControl, AllowAddRemoveModeAndStopApplyToTheRunningJob) {
  Worker worker(dir_.file("worker.log"));
  ASSERT_TRUE(worker.move_to(cgroup_));
  auto sandbox = attach({"-a", "198.51.100.10:9000"});
  ASSERT_FALSE(socket_.empty());
  expect_next(worker, "blocked", "REFUSED connect EPERM");

  // Opened at once: the very next attempts after the command returns get through.
  auto added = ctl({"allow", "add", "198.51.100.11:9000"});
  EXPECT_EQ(added.exit_code, 0) << added.err;
  EXPECT_NE(added.out.find("allow rule '198.51.100.11:9000' added"), std::string::npos)
      << added.out;
  expect_next(worker, "blocked", "OK");

  auto removed = ctl({"allow", "remove", "198.51.100.11:9000"});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  expect_next(worker, "blocked", "REFUSED connect EPERM");

  auto status = ctl({"--json", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  json answer = json::parse(status.out);
  EXPECT_EQ(answer["mode"], "block");
  EXPECT_EQ(answer["target"], cgroup_);
  EXPECT_EQ(answer["rules"].size(), 1u) << answer.dump(2);
  EXPECT_GT(answer["kernel"]["packets_blocked"].get<int>(), 0);
  bool top_blocked = false;
  for (const auto& top : answer["top_destinations"])
    top_blocked |= top["destination"] == "198.51.100.11:9000" && top["decision"] == "blocked";
  EXPECT_TRUE(top_blocked) << answer.dump(2);

  EXPECT_EQ(ctl({"mode", "audit"}).exit_code, 0);
  expect_next(worker, "blocked", "OK");
  EXPECT_EQ(ctl({"mode", "block"}).exit_code, 0);
  expect_next(worker, "blocked", "REFUSED connect EPERM");

  auto bad = ctl({"allow", "remove", "never.example"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("no allow rule 'never.example' is in force"), std::string::npos)
      << bad.err;
  auto malformed = ctl({"allow", "add", "exa*mple.com"});
  EXPECT_EQ(malformed.exit_code, 1);
  EXPECT_NE(malformed.err.find("'exa*mple.com'"), std::string::npos) << malformed.err;

  auto stopped = run_command({CGFW_TOOL_BINARY, "stop", "--socket", socket_});
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  auto result = sandbox->wait(30s);
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_TRUE(worker.alive());
  expect_next(worker, "blocked", "OK", 1);  // `cgfw stop` leaves the cgroup open

  ASSERT_TRUE(result.report);
  EXPECT_EQ(schema_errors(*result.report), "");
  std::vector<std::string> actions;
  for (const auto& change : (*result.report)["timeline"])
    actions.push_back(change["action"].get<std::string>() +
                      (change["applied"] ? "" : " (refused)"));
  EXPECT_EQ(actions,
            (std::vector<std::string>{"allow add", "allow remove", "mode", "mode",
                                      "allow remove (refused)", "allow add (refused)", "stop"}));
  EXPECT_NE((*result.report)["timeline"][0]["by"].get<std::string>().find("uid 0"),
            std::string::npos);
  bool removed_in_report = false;
  for (const auto& rule : (*result.report)["policy"]["rules"])
    removed_in_report |= rule["text"] == "198.51.100.11:9000" && rule.value("removed", false);
  EXPECT_TRUE(removed_in_report) << (*result.report)["policy"].dump(2);
  bool audited = false;
  for (const auto& event : (*result.report)["events"])
    audited |= event["ip"] == "198.51.100.11" && event.value("would_block", false);
  EXPECT_TRUE(audited) << "the audit interval is in the report";
  EXPECT_NE(result.err.find("cgfw ctl (uid 0"), std::string::npos) << "announced: " << result.err;
}

// Deny rules only: everything else is allowed; `deny add` closes a destination live, `deny
// remove` reopens it, and `allow add` is refused as meaningless.
TEST_F(LiveControl, DenyListRunChangesLive) {
  Worker worker(dir_.file("worker.log"));
  ASSERT_TRUE(worker.move_to(cgroup_));
  auto sandbox = attach({"--deny", "198.51.100.11"});
  ASSERT_FALSE(socket_.empty());
  expect_next(worker, "allowed", "OK");
  expect_next(worker, "blocked", "REFUSED connect EPERM");

  EXPECT_EQ(ctl({"deny", "add", "198.51.100.10:9000"}).exit_code, 0);
  expect_next(worker, "allowed", "REFUSED connect EPERM");
  EXPECT_EQ(ctl({"deny", "remove", "198.51.100.11"}).exit_code, 0);
  expect_next(worker, "blocked", "OK");
  auto meaningless = ctl({"allow", "add", "198.51.100.10:9000"});
  EXPECT_EQ(meaningless.exit_code, 1);
  EXPECT_NE(meaningless.err.find("an allow rule would change nothing"), std::string::npos)
      << meaningless.err;

  ::kill(sandbox->pid(), SIGTERM);
  auto result = sandbox->wait(30s);
  EXPECT_EQ(result.exit_status, 0) << result.err;
  ASSERT_TRUE(result.report);
  EXPECT_EQ((*result.report)["policy"]["default"], "allow");
  bool denied = false;
  for (const auto& event : (*result.report)["events"])
    denied |= event["ip"] == "198.51.100.10" && event["decision"] == "blocked" &&
              event.value("reason", "").find("denied by the deny rule '198.51.100.10:9000'") == 0;
  EXPECT_TRUE(denied) << (*result.report)["events"].dump(2);
}

// A root process of the policed cgroup cannot reach the control socket's commands (it would
// allow itself anything); `cgfw ctl` without --socket finds the one run going on.
TEST_F(LiveControl, ProcessesOfThePolicedCgroupAreRefused) {
  Worker worker(dir_.file("worker.log"));
  ASSERT_TRUE(worker.move_to(cgroup_));
  auto sandbox = attach({"-a", "198.51.100.10:9000"});
  ASSERT_FALSE(socket_.empty());
  auto inside = run_command({"sh", "-c",
                             "echo $$ > " + cgroup_ + "/cgroup.procs && exec " +
                                 std::string(CGFW_TOOL_BINARY) + " ctl --socket " + socket_ +
                                 " allow add 198.51.100.11:9000"});
  EXPECT_EQ(inside.exit_code, 1) << inside.out << inside.err;
  EXPECT_NE(inside.err.find("a process of the policed cgroup may not control"), std::string::npos)
      << inside.err;
  expect_next(worker, "blocked", "REFUSED connect EPERM");

  auto found = run_command({CGFW_TOOL_BINARY, "ctl", "status"});
  EXPECT_EQ(found.exit_code, 0) << found.err;
  EXPECT_NE(found.out.find("policing " + cgroup_), std::string::npos) << found.out;
  EXPECT_NE(found.out.find("allow 198.51.100.10:9000"), std::string::npos) << found.out;

  ::kill(sandbox->pid(), SIGTERM);
  auto result = sandbox->wait(30s);
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_FALSE(std::filesystem::exists(socket_)) << "the socket goes with the run";
  ASSERT_TRUE(result.report);
  bool attempt_kept = false;  // an escape attempt: in the report, not only on stderr
  for (const auto& change : (*result.report)["timeline"])
    attempt_kept |=
        change["action"] == "connect" && change["applied"] == false &&
        change["message"].get<std::string>().find("policed cgroup") != std::string::npos;
  EXPECT_TRUE(attempt_kept) << (*result.report)["timeline"].dump(2);
}

// cgfw started inside the cgroup it is to police (a unit's ExecStartPre=) moves itself out
// first, then polices the cgroup as usual.
TEST_F(LiveControl, CgfwStartedInsideItsTargetMovesOut) {
  Worker worker(dir_.file("worker.log"));
  ASSERT_TRUE(worker.move_to(cgroup_));
  std::string report = dir_.file("report.json");
  std::string script = "echo $$ > " + cgroup_ + "/cgroup.procs && exec " +
                       std::string(CGFW_SANDBOX_BINARY) + " --attach-cgroup " + cgroup_ +
                       " --ready-file " + ready_ + " -a 198.51.100.10:9000 --report-json " + report;
  CommandResult ran;
  // timeout: a backstop only; the test stops cgfw itself once it has looked.
  std::thread runner([&] {
    ran = run_command({"timeout", "-s", "TERM", "120", "sh", "-c", script});
  });
  bool ready = eventually([&] { return std::filesystem::exists(ready_); }, 20s);
  EXPECT_TRUE(ready) << "no ready file";
  if (ready) {
    int cgfw_pid = json::parse(std::ifstream(ready_))["pid"];
    std::ifstream own("/proc/" + std::to_string(cgfw_pid) + "/cgroup");
    std::string line;
    std::getline(own, line);
    EXPECT_EQ(line.find("cgfwtest-live-"), std::string::npos) << "cgfw is still inside: " << line;
    expect_next(worker, "blocked", "REFUSED connect EPERM");
    expect_next(worker, "allowed", "OK");
    ::kill(cgfw_pid, SIGTERM);
  }
  runner.join();
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  EXPECT_TRUE(worker.alive());
}

}  // namespace
}  // namespace cgfw::testing
