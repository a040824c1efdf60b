#include "tests/support/fake_internet.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#ifndef CGFW_SOURCE_DIR
#error "CGFW_SOURCE_DIR must be defined as a string literal holding the repository root"
#endif

namespace cgfw::testing {
namespace {

// Owns one fd; only what this file needs, not a general-purpose handle.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

// Anonymous in-memory files instead of pipes: the child can write any amount to both without
// us having to drain two pipes concurrently to avoid a deadlock.
int make_capture_file(const char* label) {
  const int fd = ::memfd_create(label, MFD_CLOEXEC);
  if (fd < 0) throw std::runtime_error(std::string("memfd_create: ") + std::strerror(errno));
  return fd;
}

std::string read_all(int fd) {
  std::string text;
  if (::lseek(fd, 0, SEEK_SET) < 0) return text;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  return text;
}

std::vector<char*> to_exec_argv(const std::vector<std::string>& argv) {
  std::vector<char*> result;
  result.reserve(argv.size() + 1);
  for (const auto& arg : argv) result.push_back(const_cast<char*>(arg.c_str()));
  result.push_back(nullptr);
  return result;
}

int wait_for_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Spawns argv with the given file actions and waits for it; -1 and a message if it never ran.
int spawn_and_wait(const std::vector<std::string>& argv, const posix_spawn_file_actions_t* actions,
                   std::string* spawn_error) {
  if (argv.empty()) {
    if (spawn_error) *spawn_error = "empty argv";
    return -1;
  }
  auto exec_argv = to_exec_argv(argv);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, exec_argv[0], actions, nullptr, exec_argv.data(), environ);
  if (rc != 0) {
    if (spawn_error) *spawn_error = "cannot run " + argv[0] + ": " + std::strerror(rc);
    return -1;
  }
  return wait_for_exit(pid);
}

// A test runner's PATH may lack sbin, where Debian keeps ip.
std::string ip_binary() {
  for (const char* candidate : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(candidate, X_OK) == 0) return candidate;
  }
  return "ip";
}

CommandResult run_script(const std::string& verb, const std::string& name) {
  return run_command({"/bin/bash", fixture_script_path(), verb, name});
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv) {
  CommandResult result;
  Fd out(make_capture_file("cgfw-test-stdout"));
  Fd err(make_capture_file("cgfw-test-stderr"));

  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  // No stdin: a command waiting for input would hang the test instead of failing it.
  ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, out.get(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, err.get(), STDERR_FILENO);
  std::string spawn_error;
  result.exit_code = spawn_and_wait(argv, &actions, &spawn_error);
  ::posix_spawn_file_actions_destroy(&actions);

  result.out = read_all(out.get());
  result.err = read_all(err.get());
  if (!spawn_error.empty()) result.err += spawn_error;
  return result;
}

std::string fixture_script_path() {
  return std::string(CGFW_SOURCE_DIR) + "/tests/fixtures/fake-internet.sh";
}

FakeInternet::FakeInternet(std::string name) : name_(std::move(name)) {}

std::unique_ptr<FakeInternet> FakeInternet::up(std::string name) {
  CommandResult result = run_script("up", name);
  if (result.exit_code != 0) {
    throw std::runtime_error("fake-internet.sh up " + name + " failed (exit " +
                             std::to_string(result.exit_code) + "): " + result.err);
  }
  return std::unique_ptr<FakeInternet>(new FakeInternet(std::move(name)));
}

FakeInternet::~FakeInternet() {
  try {
    run_script("down", name_);
  } catch (...) {
    // A failed teardown is cleaned up by the next `up`, which always runs `down` first.
  }
}

std::vector<nlohmann::json> FakeInternet::sink_log() const { return read_log("sink.jsonl"); }

std::vector<nlohmann::json> FakeInternet::dns_log() const { return read_log("dns.jsonl"); }

std::vector<nlohmann::json> FakeInternet::dns_queries_for(const std::string& name) const {
  std::vector<nlohmann::json> matching;
  for (auto& entry : dns_log()) {
    if (!entry["name"].is_string()) continue;
    std::string asked = entry["name"];
    for (auto& c : asked) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (asked == name) matching.push_back(std::move(entry));
  }
  return matching;
}

std::vector<nlohmann::json> FakeInternet::read_log(const std::string& file_name) const {
  std::vector<nlohmann::json> entries;
  std::ifstream file(state_dir() + "/" + file_name, std::ios::binary);
  if (!file) return entries;
  std::stringstream buffer;
  buffer << file.rdbuf();
  const std::string text = buffer.str();

  size_t start = 0;
  for (size_t end = text.find('\n'); end != std::string::npos; end = text.find('\n', start)) {
    auto entry = nlohmann::json::parse(text.begin() + static_cast<std::ptrdiff_t>(start),
                                       text.begin() + static_cast<std::ptrdiff_t>(end), nullptr,
                                       /*allow_exceptions=*/false);
    if (!entry.is_discarded()) entries.push_back(std::move(entry));
    start = end + 1;
  }
  // Whatever follows the last newline is a line the server has not finished writing.
  return entries;
}

std::vector<nlohmann::json> FakeInternet::hits(const std::string& ip, int port,
                                               const std::string& proto) const {
  std::vector<nlohmann::json> matching;
  for (auto& entry : sink_log()) {
    if (entry.value("local_ip", "") != ip) continue;
    if (port != 0 && entry.value("local_port", 0) != port) continue;
    if (!proto.empty() && entry.value("proto", "") != proto) continue;
    matching.push_back(std::move(entry));
  }
  return matching;
}

bool FakeInternet::wait_for_hits(const std::string& ip, int port, std::size_t count,
                                 std::chrono::milliseconds limit) const {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (hits(ip, port).size() >= count) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void FakeInternet::clear_log() {
  // The server appends with O_APPEND, so after truncation its next line starts at offset 0.
  const std::string path = state_dir() + "/sink.jsonl";
  if (::truncate(path.c_str(), 0) != 0) {
    throw std::runtime_error("truncate " + path + ": " + std::strerror(errno));
  }
}

const std::string& FakeInternet::name() const { return name_; }

std::string FakeInternet::state_dir() const { return "/run/cgfw-test/" + name_; }

int FakeInternet::exec_in_namespace(const std::vector<std::string>& argv) const {
  std::vector<std::string> full{ip_binary(), "netns", "exec", name_};
  full.insert(full.end(), argv.begin(), argv.end());
  return spawn_and_wait(full, nullptr, nullptr);
}

}  // namespace cgfw::testing
