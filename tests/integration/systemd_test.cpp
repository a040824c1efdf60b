// The systemd recipe for real (docs/systemd.md): a unit with the drop-in, started by systemd,
// is policed from its first instruction; cgfw@ stops with it and writes the report; a restart
// attaches a new cgfw to the unit's new cgroup. Only where systemd is PID 1 (GitHub's runners,
// real hosts). Loopback only: the unit connects to two ports of 127.0.0.1 where this test
// listens, one allowed, with --no-loopback so that loopback is policed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"

namespace cgfw::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

bool systemd_is_pid1() {
  std::ifstream comm("/proc/1/comm");
  std::string name;
  std::getline(comm, name);
  return name == "systemd" && std::filesystem::is_directory("/run/systemd/system");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// Every occurrence of `from` in `text` replaced; how many there were.
int replace_all(std::string& text, const std::string& from, const std::string& to) {
  int count = 0;
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
    ++count;
  }
  return count;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Listens on 127.0.0.1 (an ephemeral port) and accepts and closes whatever connects.
class LoopbackListener {
 public:
  LoopbackListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(fd_, 512) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1");
    port_ = ntohs(address.sin_port);
    accepter_ = std::thread([this] {
      while (!stop_) {
        int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client >= 0) ::close(client);
      }
    });
  }
  ~LoopbackListener() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
    accepter_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accepter_;
};

// What the test installs, removed (units stopped first) whatever happens.
class InstalledRecipe {
 public:
  std::vector<std::string> units;  // stopped, then reset-failed
  std::vector<std::string> paths;  // removed, in reverse order
  ~InstalledRecipe() {
    for (const auto& unit : units) {
      run_command({"systemctl", "stop", unit});
      run_command({"systemctl", "reset-failed", unit});
    }
    for (auto it = paths.rbegin(); it != paths.rend(); ++it) {
      std::error_code ignored;
      std::filesystem::remove_all(*it, ignored);
    }
    run_command({"systemctl", "daemon-reload"});
  }
};

std::string property(const std::string& unit, const std::string& name) {
  return trimmed(run_command({"systemctl", "show", "-P", name, unit}).out);
}

TEST(Systemd, ProtectsAUnitStartedBySystemd) {
  if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: integration tests need root";
  if (!systemd_is_pid1())
    GTEST_SKIP() << "SKIPPED LOUDLY: PID 1 is not systemd on this machine: the systemd recipe is "
                    "checked by SystemdUnits.* and the cgroup lookup through /proc by "
                    "AttachCgroup.*; run on a systemd host to exercise it";
  std::string mount = cgroup2_mount();
  ASSERT_FALSE(mount.empty());

  // The shipped files, under names of this test's own (an installed cgfw@.service is left alone)
  // and with the built binary for the installed one.
  std::string tag = std::to_string(::getpid());
  std::string unit = "cgfwtest-" + tag + ".service";
  std::string template_name = "cgfwtest-fw-" + tag + "@.service";
  std::string instance = "cgfwtest-fw-" + tag + "@" + unit + ".service";
  std::string packaging = std::string(CGFW_SOURCE_DIR) + "/packaging/systemd/";
  std::string template_text = read_file(packaging + "cgfw@.service");
  ASSERT_EQ(replace_all(template_text, "ExecStart=/usr/local/bin/cgfw ",
                        std::string("ExecStart=") + CGFW_TOOL_BINARY + " "),
            1);
  std::string drop_in = read_file(packaging + "cgfw-protect.conf");
  ASSERT_GE(replace_all(drop_in, "cgfw@%n.service", "cgfwtest-fw-" + tag + "@%n.service"), 2);

  TempDir dir;
  LoopbackListener allowed;
  LoopbackListener blocked;
  std::string report = dir.file("report.json");
  InstalledRecipe installed;
  installed.units = {unit, instance};
  const std::string units = "/run/systemd/system/";
  installed.paths.push_back(units + template_name);
  write_file(units + template_name, template_text);
  installed.paths.push_back(units + unit);
  installed.paths.push_back(units + unit + ".d");
  std::filesystem::create_directories(units + unit + ".d");
  write_file(units + unit + ".d/cgfw.conf", drop_in);
  // The unit: from its first instruction, both ports every 100 ms, one line per attempt, into a
  // log named after its pid (a restart starts a new one).
  std::string probe = CGFW_ESCAPE_PROBE;
  write_file(units + unit, "[Service]\nExecStart=/bin/sh -c 'exec >" + dir.path() +
                               "/log.$$$$ 2>&1; for i in $$(seq 600); do for target in allowed:" +
                               std::to_string(allowed.port()) +
                               " blocked:" + std::to_string(blocked.port()) +
                               "; do printf \"%%s \" $${target%%%%:*}; " + probe +
                               " tcp-connect 127.0.0.1 $${target#*:}; done; sleep 0.1; done'\n");
  // Its configuration, where the recipe puts it.
  if (!std::filesystem::exists("/etc/cgfw")) {
    std::filesystem::create_directory("/etc/cgfw");
    installed.paths.insert(installed.paths.begin(), "/etc/cgfw");
  }
  installed.paths.push_back("/etc/cgfw/" + unit + ".env");
  write_file("/etc/cgfw/" + unit + ".env",
             "CGFW_OPTIONS=\"--no-loopback -a 127.0.0.1:" + std::to_string(allowed.port()) +
                 " --report-json " + report + "\"\n");
  ASSERT_EQ(run_command({"systemctl", "daemon-reload"}).exit_code, 0);

  auto journal = [&] {
    return run_command({"journalctl", "--no-pager", "-n", "60", "-u", unit, "-u", instance}).out;
  };
  // The unit's attempts, in order, from the log of its main process `pid`.
  auto attempts = [&](const std::string& pid, std::size_t count) {
    std::vector<std::string> lines;
    eventually(
        [&] {
          lines.clear();
          std::istringstream log(read_file(dir.file("log." + pid)));
          for (std::string line; std::getline(log, line) && !log.eof();) lines.push_back(line);
          return lines.size() >= count;
        },
        20s);
    return lines;
  };
  // Policed from its first attempt: ExecStart= ran only once cgfw was ready.
  auto expect_policed_from_the_start = [&](const std::string& pid) {
    auto lines = attempts(pid, 6);
    ASSERT_GE(lines.size(), 6u) << journal();
    for (const auto& line : lines)
      if (line.rfind("blocked ", 0) == 0)
        EXPECT_EQ(line.rfind("blocked REFUSED connect", 0), 0u) << line;
      else
        EXPECT_EQ(line.rfind("allowed OK", 0), 0u) << line;
  };
  auto expect_programs_attached = [&](const std::string& what) {
    std::string cgroup = mount + property(unit, "ControlGroup");
    auto shown = run_command({"bpftool", "cgroup", "show", cgroup});
    EXPECT_EQ(shown.exit_code, 0) << shown.err;
    EXPECT_NE(shown.out.find("cgfw_egress"), std::string::npos) << what << ": " << shown.out;
    EXPECT_NE(shown.out.find("cgfw_connect4"), std::string::npos) << what << ": " << shown.out;
  };

  // Bounded by the units' own start timeouts: a deadlock would fail them.
  auto started = run_command({"timeout", "150", "systemctl", "start", unit});
  ASSERT_EQ(started.exit_code, 0) << started.err << journal();
  EXPECT_EQ(property(instance, "ActiveState"), "active") << journal();
  expect_programs_attached("after the start");
  std::string first_pid = property(unit, "MainPID");
  expect_policed_from_the_start(first_pid);

  // A restart: the unit gets a new cgroup, and a new cgfw polices it from the start again.
  std::string first_cgfw = property(instance, "MainPID");
  auto restarted = run_command({"timeout", "150", "systemctl", "restart", unit});
  ASSERT_EQ(restarted.exit_code, 0) << restarted.err << journal();
  std::string second_pid = property(unit, "MainPID");
  ASSERT_NE(second_pid, first_pid);
  EXPECT_TRUE(eventually([&] { return property(instance, "ActiveState") == "active"; }, 30s))
      << journal();
  EXPECT_NE(property(instance, "MainPID"), first_cgfw) << "a new cgfw for the new cgroup";
  expect_programs_attached("after a restart");
  expect_policed_from_the_start(second_pid);

  // Stopping the unit stops cgfw (after it: Before=), which writes its report.
  auto stopped = run_command({"timeout", "150", "systemctl", "stop", unit});
  ASSERT_EQ(stopped.exit_code, 0) << stopped.err << journal();
  EXPECT_TRUE(eventually([&] { return property(instance, "ActiveState") == "inactive"; }, 30s))
      << property(instance, "ActiveState") << journal();
  ASSERT_TRUE(std::filesystem::exists(report)) << journal();
  json document = json::parse(std::ifstream(report));
  EXPECT_EQ(document["cgfw_exit_status"], 0) << document.dump(2);
  bool reported = false;
  for (const auto& event : document["events"])
    reported |= event["decision"] == "blocked" && event["ip"] == "127.0.0.1" &&
                event["port"] == blocked.port();
  EXPECT_TRUE(reported) << document.dump(2);
}

}  // namespace
}  // namespace cgfw::testing
