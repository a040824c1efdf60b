// Runs the real cgfw-sandbox binary and collects what it did: exit status, output, report.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace cgfw::testing {

struct SandboxResult {
  int exit_status = -1;  // as a shell reports it: code, or 128+signal
  std::string out;
  std::string err;
  std::optional<nlohmann::json> report;  // parsed --report-json, when one was asked for
};

// A cgfw-sandbox started in the background (for signal, concurrency and crash tests).
class SandboxProcess {
 public:
  // `args` go between the binary and "--"; `command` after it. A report path is added when
  // `with_report` is set.
  SandboxProcess(const std::vector<std::string>& args, const std::vector<std::string>& command,
                 bool with_report = true);
  ~SandboxProcess();  // kills a still-running sandbox
  SandboxProcess(const SandboxProcess&) = delete;
  SandboxProcess& operator=(const SandboxProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Waits (bounded; the sandbox is SIGKILLed past the limit and the test fails) and collects.
  SandboxResult wait(std::chrono::seconds limit = std::chrono::seconds(120));
  // Reads what stderr said so far, waiting up to `limit` for `needle` to appear.
  bool wait_for_stderr(const std::string& needle, std::chrono::milliseconds limit);
  const std::string& report_path() const { return report_path_; }

 private:
  void drain(int timeout_ms);
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  std::string report_path_;
  bool finished_ = false;
};

// Runs to completion.
SandboxResult run_sandbox(const std::vector<std::string>& args,
                          const std::vector<std::string>& command);

// Host pids of running (not zombie) processes whose command line contains `needle`. The sandbox
// has its own PID namespace, so a pid printed inside ($$, $!) means nothing out here: tests find
// the processes they started by a marker in their arguments instead.
std::vector<pid_t> running_processes_with(const std::string& needle);

// The cgroup2 mount point, found as the runner finds it (the first cgroup2 line of /proc/mounts);
// "" when there is none.
std::string cgroup2_mount();

// Polls `done` every 20 ms for at most `limit`; true once it holds. For what a test must wait
// for (a process to go, a file to appear) without a fixed sleep.
template <typename Condition>
bool eventually(Condition done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Validates a JSON document against reports/schema/report.schema.json with python3-jsonschema;
// returns "" when valid, else the validator's message.
std::string schema_errors(const nlohmann::json& report);

// A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace cgfw::testing
