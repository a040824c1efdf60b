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
#include <sstream>
#include <thread>

#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"

extern char** environ;

namespace cgfw::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A shell loop, started outside any sandbox, that tries both destinations every 100 ms (at most
// 60 s) and logs one line per attempt: "allowed OK ..." / "blocked REFUSED ...".
class Worker {
 public:
  explicit Worker(const std::string& log) : log_(log) {
    std::string probe = CGFW_ESCAPE_PROBE;
    std::string script =
        "for i in $(seq 600); do for target in allowed:198.51.100.10 "
        "blocked:198.51.100.11; do printf '%s ' ${target%%:*}; " +
        probe + " tcp-connect ${target#*:} 9000; done; sleep 0.1; done >" + log;
    const char* argv[] = {"sh", "-c", script.c_str(), nullptr};
    if (::posix_spawnp(&pid_, "sh", nullptr, nullptr, const_cast<char**>(argv), environ) != 0)
      throw std::runtime_error("cannot start the worker");
  }
  ~Worker() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  bool alive() const { return ::kill(pid_, 0) == 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  // Complete lines only: the last one may still be being written.
  std::vector<std::string> lines() const {
    std::ifstream in(log_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line) && !in.eof();) out.push_back(line);
    return out;
  }
  // Waits (bounded) until `count` more attempts at `target` were logged after line `from`;
  // returns them.
  std::vector<std::string> next(const std::string& target, std::size_t from, std::size_t count) {
    std::vector<std::string> found;
    eventually(
        [&] {
          found.clear();
          auto all = lines();
          for (std::size_t i = from; i < all.size(); ++i)
            if (all[i].rfind(target + " ", 0) == 0) found.push_back(all[i]);
          return found.size() >= count;
        },
        20s);
    return found;
  }
  std::string cgroup() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/cgroup");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("0::", 0) == 0) return line;
    return "";
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
};

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
  std::size_t mark = worker.lines().size();
  for (const auto& line : worker.next("blocked", mark, 3))
    EXPECT_EQ(line.rfind("blocked REFUSED connect EPERM", 0), 0u) << line;
  for (const auto& line : worker.next("allowed", mark, 3))
    EXPECT_EQ(line.rfind("allowed OK", 0), 0u) << line;

  ASSERT_EQ(::kill(sandbox->pid(), SIGTERM), 0);
  auto result = sandbox->wait(30s);
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_TRUE(worker.alive()) << "cgfw never harms the process it attached to";
  EXPECT_EQ(worker.cgroup(), original_cgroup) << "returned to its own cgroup";
  mark = worker.lines().size();
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

  std::size_t mark = worker.lines().size();
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
  EXPECT_NE(both.err.find("--attach-pid polices a process that is already running"),
            std::string::npos)
      << both.err;
  auto ready_alone = run_sandbox({"--ready-file", "/tmp/x"}, {"true"});
  EXPECT_EQ(ready_alone.exit_status, 125);
  EXPECT_NE(ready_alone.err.find("--ready-file needs --attach-pid"), std::string::npos);
  auto no_such = run_sandbox({"--attach-pid", "999999999"}, {});
  EXPECT_EQ(no_such.exit_status, 125);
  EXPECT_NE(no_such.err.find("cannot attach to process 999999999"), std::string::npos)
      << no_such.err;
}

}  // namespace
}  // namespace cgfw::testing
