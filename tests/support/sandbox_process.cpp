#include "tests/support/sandbox_process.h"

#include "tests/support/fake_internet.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

extern char** environ;

namespace cgfw::testing {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

SandboxProcess::SandboxProcess(const std::vector<std::string>& args,
                               const std::vector<std::string>& command, bool with_report) {
  std::vector<std::string> argv{CGFW_SANDBOX_BINARY};
  if (with_report) {
    char name[] = "/tmp/cgfw-test-report-XXXXXX";
    int fd = ::mkstemp(name);
    if (fd >= 0) ::close(fd);
    report_path_ = name;
    argv.push_back("--report-json");
    argv.push_back(report_path_);
  }
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());

  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<char*> raw;
  for (const auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
  raw.push_back(nullptr);
  int rc = posix_spawn(&pid_, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  out_fd_ = out[0];
  err_fd_ = err[0];
}

SandboxProcess::~SandboxProcess() {
  if (!finished_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
  if (!report_path_.empty()) ::unlink(report_path_.c_str());
}

void SandboxProcess::drain(int timeout_ms) {
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  if (::poll(fds, 2, timeout_ms) <= 0) return;
  char buffer[8192];
  for (auto& p : fds) {
    if (p.fd < 0 || !(p.revents & (POLLIN | POLLHUP))) continue;
    ssize_t n = ::read(p.fd, buffer, sizeof(buffer));
    if (n > 0) (p.fd == out_fd_ ? out_ : err_).append(buffer, n);
    if (n == 0) {
      ::close(p.fd);
      (p.fd == out_fd_ ? out_fd_ : err_fd_) = -1;
    }
  }
}

bool SandboxProcess::wait_for_stderr(const std::string& needle, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (err_.find(needle) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline || (out_fd_ < 0 && err_fd_ < 0)) break;
    drain(20);
  }
  return err_.find(needle) != std::string::npos;
}

SandboxResult SandboxProcess::wait(std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (out_fd_ >= 0 || err_fd_ >= 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "cgfw-sandbox did not finish within " << limit.count() << " s; killed";
      ::kill(pid_, SIGKILL);
      break;
    }
    drain(50);
  }
  int status = 0;
  ::waitpid(pid_, &status, 0);
  finished_ = true;
  SandboxResult result;
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = out_;
  result.err = err_;
  if (!report_path_.empty()) {
    std::string text = read_all(report_path_);
    if (!text.empty()) result.report = nlohmann::json::parse(text, nullptr, false);
    if (result.report && result.report->is_discarded()) result.report.reset();
  }
  return result;
}

SandboxResult run_sandbox(const std::vector<std::string>& args,
                          const std::vector<std::string>& command) {
  SandboxProcess process(args, command);
  return process.wait();
}

std::string schema_errors(const nlohmann::json& report) {
  TempDir dir;
  std::string report_path = dir.write("report.json", report.dump());
  std::string schema = std::string(CGFW_SOURCE_DIR) + "/reports/schema/report.schema.json";
  auto result = run_command(
      {"/usr/bin/python3", "-c",
       "import json,sys,jsonschema\n"
       "schema=json.load(open(sys.argv[1]))\n"
       "jsonschema.Draft202012Validator.check_schema(schema)\n"
       "jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[2])))\n",
       schema, report_path});
  std::string output = result.out + result.err;
  return result.exit_code == 0 ? "" : output.empty() ? "validator failed" : output;
}

TempDir::TempDir() {
  char name[] = "/tmp/cgfw-test-XXXXXX";
  if (!::mkdtemp(name)) throw std::runtime_error("mkdtemp");
  path_ = name;
  ::chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  std::string path = file(name);
  std::ofstream(path) << content;
  return path;
}

}  // namespace cgfw::testing

namespace cgfw::testing {

std::vector<pid_t> running_processes_with(const std::string& needle) {
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    std::replace(args.begin(), args.end(), '\0', ' ');
    if (args.find(needle) == std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    if (close == std::string::npos || text.compare(close, 4, ") Z ") == 0) continue;
    found.push_back(static_cast<pid_t>(std::stoi(name)));
  }
  return found;
}

std::string cgroup2_mount() {
  std::ifstream mounts("/proc/mounts");
  std::string device, point, type, rest;
  while (mounts >> device >> point >> type && std::getline(mounts, rest))
    if (type == "cgroup2") return point;
  return "";
}

}  // namespace cgfw::testing
