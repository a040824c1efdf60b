// Attach mode (--attach-pid), what the GitHub Action's job mode runs on the runner's worker: a
// process that is already running, here a "worker" loop that connects every 100 ms to an allowed
// and to a blocked destination, is policed from the moment cgfw is ready, with every child it
// starts; stopping cgfw returns it unharmed and unpoliced; killing cgfw locks it down.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "tests/support/connect_worker.h"
#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"
#include "tests/support/test_cgroup.h"

namespace cgfw::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The next three attempts at each destination after line `mark`: the blocked one refused at
// connect(), the allowed one through.
void expect_policed_after(Worker& worker, std::size_t mark) {
  for (const auto& line : worker.next("blocked", mark, 3))
    EXPECT_EQ(line.rfind("blocked REFUSED connect EPERM", 0), 0u) << line;
  for (const auto& line : worker.next("allowed", mark, 3))
    EXPECT_EQ(line.rfind("allowed OK", 0), 0u) << line;
}

// After cgfw is SIGKILLed, the watchdog locks egress down once it wakes to the runner's closed
// pipe. Until then the rules still hold: the blocked destination stays refused, the allowed one
// may pass. Waits (bounded) for the allowed destination's first refusal and returns the mark
// after it, checking that nothing blocked passed meanwhile.
std::size_t mark_after_lockdown(Worker& worker) {
  std::size_t from = worker.mark();
  std::size_t after = from;
  bool locked = eventually(
      [&] {
        auto lines = worker.lines();
        for (std::size_t i = from; i < lines.size(); ++i)
          if (lines[i].rfind("allowed REFUSED connect", 0) == 0) {
            after = i + 1;
            return true;
          }
        return false;
      },
      20s);
  EXPECT_TRUE(locked) << "egress was never locked down after the death of cgfw";
  auto lines = worker.lines();
  for (std::size_t i = from; i < after; ++i) {
    if (lines[i].rfind("blocked ", 0) == 0) {
      EXPECT_EQ(lines[i].rfind("blocked REFUSED connect", 0), 0u) << lines[i];
    }
  }
  return after;
}

class Attach : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: integration tests need root";
    net_ = FakeInternet::up();
  }

  // Starts cgfw attached to `worker` and waits for its ready file.
  std::unique_ptr<SandboxProcess> attach(const Worker& worker, std::vector<std::string> more = {}) {
    std::vector<std::string> args{"--attach-pid", std::to_string(worker.pid()),
                                  "--ready-file", ready_,
                                  "-a",           "198.51.100.10:9000"};
    args.insert(args.end(), more.begin(), more.end());
    auto sandbox = std::make_unique<SandboxProcess>(args, std::vector<std::string>{});
    eventually([&] { return std::filesystem::exists(ready_); }, 20s);
    return sandbox;
  }

  std::unique_ptr<FakeInternet> net_;
  TempDir dir_;
  std::string ready_ = dir_.file("ready.json");
};

TEST_F(Attach, PolicedFromReadyUntilStoppedThenReturnedUnharmed) {
  Worker worker(dir_.file("worker.log"));
  ASSERT_EQ(worker.next("blocked", 0, 1).at(0).rfind("blocked OK", 0), 0u)
      << "before the attach, both destinations are reachable";
  std::string original_cgroup = worker.cgroup();

  auto sandbox = attach(worker);
  ASSERT_TRUE(std::filesystem::exists(ready_)) << "no ready file";
  json ready = json::parse(std::ifstream(ready_));
  EXPECT_EQ(ready["pid"], sandbox->pid());
  EXPECT_NE(worker.cgroup(), original_cgroup);
  EXPECT_NE(worker.cgroup().find(
                std::filesystem::path(ready["cgroup"].get<std::string>()).filename().string()),
            std::string::npos)
      << worker.cgroup();

  // From now on: every new child of the worker is policed.
  std::size_t mark = worker.mark();
  expect_policed_after(worker, mark);

  ASSERT_EQ(::kill(sandbox->pid(), SIGTERM), 0);
  auto result = sandbox->wait(30s);
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_TRUE(worker.alive()) << "cgfw never harms the process it attached to";
  EXPECT_EQ(worker.cgroup(), original_cgroup) << "returned to its own cgroup";
  mark = worker.mark();
  EXPECT_EQ(worker.next("blocked", mark, 1).at(0).rfind("blocked OK", 0), 0u)
      << "unpoliced again after the stop";

  ASSERT_TRUE(result.report);
  EXPECT_EQ(schema_errors(*result.report), "");
  bool reported = false;
  for (const auto& event : (*result.report)["events"])
    reported |= event["decision"] == "blocked" && event["ip"] == "198.51.100.11" &&
                event["process"]["comm"] == "cgfw_escape_pro";
  EXPECT_TRUE(reported) << result.report->dump(2);
  EXPECT_EQ((*result.report)["command"].at(0), "sh");
  EXPECT_EQ((*result.report)["exit_status"], nullptr);
  std::string warnings = (*result.report)["warnings"].dump();
  EXPECT_NE(warnings.find("attach mode"), std::string::npos) << warnings;
}

// cgfw is SIGKILLed: the watchdog must not kill a process cgfw did not start, so it locks egress
// down instead (allowed destinations too: no proxy, no record) and holds the programs until the
// cgroup is empty; then the cgroup goes.
TEST_F(Attach, KilledCgfwLeavesTheProcessAliveWithoutNetwork) {
  Worker worker(dir_.file("worker.log"));
  worker.next("allowed", 0, 1);
  auto sandbox = attach(worker);
  ASSERT_TRUE(std::filesystem::exists(ready_));
  std::string sandbox_cgroup = json::parse(std::ifstream(ready_))["cgroup"];
  ::kill(sandbox->pid(), SIGKILL);
  sandbox->wait(30s);

  std::size_t mark = mark_after_lockdown(worker);
  for (const auto& line : worker.next("allowed", mark, 3))
    EXPECT_EQ(line.rfind("allowed REFUSED connect", 0), 0u) << line;
  for (const auto& line : worker.next("blocked", mark, 3))
    EXPECT_EQ(line.rfind("blocked REFUSED connect", 0), 0u) << line;
  EXPECT_TRUE(worker.alive());

  // A run started meanwhile leaves the held cgroup alone (its watchdog still guards it).
  auto next = run_sandbox({"-a", "198.51.100.10:9000"},
                          {CGFW_ESCAPE_PROBE, "tcp-connect", "198.51.100.10", "9000"});
  EXPECT_EQ(next.out.rfind("OK connected", 0), 0u) << next.out << next.err;
  EXPECT_TRUE(worker.alive()) << "another run swept the held cgroup and killed the worker";
  EXPECT_TRUE(std::filesystem::exists(sandbox_cgroup));

  ::kill(worker.pid(), SIGKILL);
  EXPECT_TRUE(eventually([&] { return !std::filesystem::exists(sandbox_cgroup); }, 20s))
      << "the watchdog removes it once empty";
}

TEST_F(Attach, OptionsThatNeedACommandAreRefused) {
  auto both = run_sandbox({"--attach-pid", "1"}, {"true"});
  EXPECT_EQ(both.exit_status, 125);
  EXPECT_NE(both.err.find("--attach-pid polices processes that are already running"),
            std::string::npos)
      << both.err;
  auto ready_alone = run_sandbox({"--ready-file", "/tmp/x"}, {"true"});
  EXPECT_EQ(ready_alone.exit_status, 125);
  EXPECT_NE(ready_alone.err.find("--ready-file needs an attach mode"), std::string::npos);
  auto no_such = run_sandbox({"--attach-pid", "999999999"}, {});
  EXPECT_EQ(no_such.exit_status, 125);
  EXPECT_NE(no_such.err.find("cannot attach to process 999999999"), std::string::npos)
      << no_such.err;
}

// `cgfw attach`: a cgroup that exists already (a service's), policed as it is. The test makes
// the cgroup; the worker is moved into it before cgfw starts.
class AttachCgroup : public Attach {
 protected:
  void SetUp() override {
    Attach::SetUp();
    if (IsSkipped()) return;
    target_.emplace("");
    cgroup_ = target_->path();
    ASSERT_FALSE(cgroup_.empty()) << "no cgroup2 mount";
  }
  std::unique_ptr<SandboxProcess> attach_to(std::vector<std::string> how,
                                            std::vector<std::string> more = {}) {
    how.insert(how.end(), {"--ready-file", ready_, "-a", "198.51.100.10:9000"});
    how.insert(how.end(), more.begin(), more.end());
    auto sandbox = std::make_unique<SandboxProcess>(how, std::vector<std::string>{});
    eventually([&] { return std::filesystem::exists(ready_); }, 20s);
    return sandbox;
  }
  std::optional<TestCgroup> target_;
  std::string cgroup_;
};

TEST_F(AttachCgroup, PolicedUntilStoppedThenLeftRunningInPlace) {
  Worker worker(dir_.file("worker.log"));
  ASSERT_TRUE(worker.move_to(cgroup_));
  std::string in_target = worker.cgroup();
  ASSERT_NE(in_target.find("cgfwtest-"), std::string::npos) << in_target;
  std::size_t mark = worker.mark();
  ASSERT_EQ(worker.next("blocked", mark, 1).at(0).rfind("blocked OK", 0), 0u);

  auto sandbox = attach_to({"--attach-cgroup", cgroup_});
  ASSERT_TRUE(std::filesystem::exists(ready_)) << "no ready file";
  EXPECT_EQ(json::parse(std::ifstream(ready_))["cgroup"], cgroup_);
  EXPECT_EQ(worker.cgroup(), in_target) << "attaching moves nothing";
  mark = worker.mark();
  expect_policed_after(worker, mark);

  ASSERT_EQ(::kill(sandbox->pid(), SIGTERM), 0);
  auto result = sandbox->wait(30s);
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_TRUE(worker.alive());
  EXPECT_EQ(worker.cgroup(), in_target) << "left where it was";
  EXPECT_TRUE(std::filesystem::exists(cgroup_)) << "a cgroup cgfw did not make is never removed";
  mark = worker.mark();
  EXPECT_EQ(worker.next("blocked", mark, 1).at(0).rfind("blocked OK", 0), 0u)
      << "unpoliced again after the stop";

  ASSERT_TRUE(result.report);
  EXPECT_EQ(schema_errors(*result.report), "");
  EXPECT_EQ((*result.report)["command"], json::array({"cgfw attach", cgroup_}));
  bool reported = false;
  for (const auto& event : (*result.report)["events"])
    reported |= event["decision"] == "blocked" && event["ip"] == "198.51.100.11" &&
                event["process"]["comm"] == "cgfw_escape_pro";
  EXPECT_TRUE(reported) << result.report->dump(2);
}

// The same cgroup found from a process in it, and from its unit name (PID 1 is not systemd on
// this machine: the hierarchy is searched for the unit's directory).
TEST_F(AttachCgroup, FoundByPidAndByUnitName) {
  Worker worker(dir_.file("worker.log"));
  ASSERT_TRUE(worker.move_to(cgroup_));
  for (std::vector<std::string> how :
       {std::vector<std::string>{"--attach-cgroup-of", std::to_string(worker.pid())},
        std::vector<std::string>{"--attach-unit", "cgfwtest-" + std::to_string(::getpid())}}) {
    std::filesystem::remove(ready_);
    auto sandbox = attach_to(how);
    ASSERT_TRUE(std::filesystem::exists(ready_)) << how[0];
    EXPECT_EQ(json::parse(std::ifstream(ready_))["cgroup"], cgroup_) << how[0];
    std::size_t mark = worker.mark();
    EXPECT_EQ(worker.next("blocked", mark, 1).at(0).rfind("blocked REFUSED", 0), 0u) << how[0];
    ::kill(sandbox->pid(), SIGTERM);
    EXPECT_EQ(sandbox->wait(30s).exit_status, 0) << how[0];
  }
  auto unknown = run_sandbox({"--attach-unit", "no-such-unit-here"}, {});
  EXPECT_EQ(unknown.exit_status, 125);
  EXPECT_NE(unknown.err.find("no cgroup named no-such-unit-here.service"), std::string::npos)
      << unknown.err;
  auto bad = run_sandbox({"--attach-unit", "../etc"}, {});
  EXPECT_NE(bad.err.find("bad unit name"), std::string::npos) << bad.err;
  auto root = run_sandbox({"--attach-cgroup", cgroup2_mount()}, {});
  EXPECT_NE(root.err.find("refusing to police the root cgroup"), std::string::npos) << root.err;
}

// Fail closed: cgfw SIGKILLed, the watchdog locks the cgroup's egress down and holds it while
// anything runs there, and never removes the cgroup. --fail-open: egress opens instead.
TEST_F(AttachCgroup, KilledCgfwLocksDownUnlessFailOpen) {
  Worker worker(dir_.file("worker.log"));
  ASSERT_TRUE(worker.move_to(cgroup_));
  auto sandbox = attach_to({"--attach-cgroup", cgroup_});
  ASSERT_TRUE(std::filesystem::exists(ready_));
  ::kill(sandbox->pid(), SIGKILL);
  sandbox->wait(30s);
  std::size_t mark = mark_after_lockdown(worker);
  for (const auto& line : worker.next("allowed", mark, 3))
    EXPECT_EQ(line.rfind("allowed REFUSED connect", 0), 0u) << line;
  EXPECT_TRUE(worker.alive());

  Worker second(dir_.file("second.log"));
  std::string open_cgroup = cgroup_ + "-open";
  std::filesystem::create_directory(open_cgroup);
  ASSERT_TRUE(second.move_to(open_cgroup));
  std::filesystem::remove(ready_);
  auto failing_open = attach_to({"--attach-cgroup", open_cgroup, "--fail-open"});
  ASSERT_TRUE(std::filesystem::exists(ready_));
  EXPECT_TRUE(failing_open->wait_for_stderr("--fail-open", 5s)) << "said loudly";
  mark = second.mark();
  EXPECT_EQ(second.next("blocked", mark, 1).at(0).rfind("blocked REFUSED", 0), 0u);
  ::kill(failing_open->pid(), SIGKILL);
  failing_open->wait(30s);
  mark = second.mark();
  // Bounded: the watchdog's exit closes the links at once.
  EXPECT_TRUE(eventually(
      [&] {
        auto lines = second.lines();
        for (std::size_t i = mark; i < lines.size(); ++i)
          if (lines[i].rfind("blocked OK", 0) == 0) return true;
        return false;
      },
      10s))
      << "egress opened after the death of cgfw with --fail-open";
  ::kill(second.pid(), SIGKILL);
  std::ofstream(open_cgroup + "/cgroup.kill") << "1" << std::endl;
  eventually([&] { return ::rmdir(open_cgroup.c_str()) == 0; }, 10s);

  ::kill(worker.pid(), SIGKILL);
  ::waitpid(worker.pid(), nullptr, 0);
  // The watchdog lets go once the cgroup is empty, and leaves the directory.
  EXPECT_TRUE(eventually(
      [&] {
        std::ifstream events(cgroup_ + "/cgroup.events");
        std::string text((std::istreambuf_iterator<char>(events)), {});
        return text.find("populated 0") != std::string::npos;
      },
      10s));
  EXPECT_TRUE(std::filesystem::exists(cgroup_));
}

// The operator's spelling: `cgfw attach --pid PID` runs the same runner (stopped here by
// SIGTERM, as an operator's Ctrl-C or systemd's stop would).
TEST_F(AttachCgroup, CgfwAttachCommandRunsTheRunner) {
  Worker worker(dir_.file("worker.log"));
  ASSERT_TRUE(worker.move_to(cgroup_));
  std::string report = dir_.file("report.json");
  CommandResult ran;
  // timeout: a backstop only; the test stops cgfw once the worker was refused.
  std::thread runner([&] {
    ran = run_command({"timeout", "-s", "TERM", "120", CGFW_TOOL_BINARY, "attach", "--pid",
                       std::to_string(worker.pid()), "-a", "198.51.100.10:9000", "--report-json",
                       report, "--ready-file", ready_});
  });
  bool ready = eventually([&] { return std::filesystem::exists(ready_); }, 20s);
  EXPECT_TRUE(ready) << "no ready file";
  if (ready) {
    for (const auto& line : worker.next("blocked", worker.mark(), 1))
      EXPECT_EQ(line.rfind("blocked REFUSED", 0), 0u) << line;
    ::kill(json::parse(std::ifstream(ready_))["pid"].get<int>(), SIGTERM);
  }
  runner.join();
  EXPECT_EQ(ran.exit_code, 0) << ran.err << "(cgfw ran until stopped)";
  EXPECT_TRUE(worker.alive());
  json document = json::parse(std::ifstream(report));
  EXPECT_EQ(document["command"], json::array({"cgfw attach", cgroup_}));
  bool blocked = false;
  for (const auto& event : document["events"])
    blocked |= event["decision"] == "blocked" && event["ip"] == "198.51.100.11";
  EXPECT_TRUE(blocked) << document.dump(2);

  auto no_target = run_command({CGFW_TOOL_BINARY, "attach", "-a", "example.com"});
  EXPECT_EQ(no_target.exit_code, 2);
  EXPECT_NE(no_target.err.find("what to police is missing"), std::string::npos) << no_target.err;
  auto two = run_command({CGFW_TOOL_BINARY, "attach", "--pid", "1", "--cgroup=/x"});
  EXPECT_NE(two.err.find("give one target only"), std::string::npos) << two.err;
  auto command = run_command({CGFW_TOOL_BINARY, "attach", "--pid", "1", "--", "make"});
  EXPECT_NE(command.err.find("takes no command"), std::string::npos) << command.err;
}

}  // namespace
}  // namespace cgfw::testing
