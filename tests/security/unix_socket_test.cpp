// Unix sockets that lead out of the sandbox: a daemon outside (dockerd, containerd, systemd,
// resolved, nscd) would act for the caller from its own cgroup. Inside, each such socket is
// covered by cgfw's trap in the sandbox's mount namespace, which closes the connection and
// reports who made it; --allow-unix opts one back in.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <filesystem>
#include <regex>
#include <thread>

#include "runner/isolation.h"
#include "tests/security/escape_fixture.h"

namespace cgfw::testing {
namespace {

// A listening unix socket at one of the denied paths that does not exist on this machine (a
// real daemon's socket is never touched), counting the connections it accepts.
class FakeDaemonSocket {
 public:
  FakeDaemonSocket() {
    for (const auto& candidate : runner::kDeniedUnixSockets) {
      std::string path = candidate.path;
      if (path.find('*') != std::string::npos || std::filesystem::exists(path)) continue;
      if (path.rfind("/var/run/", 0) == 0) continue;  // a symlink to /run on most systems
      path_ = path;
      break;
    }
    if (path_.empty()) throw std::runtime_error("every denied socket path exists here");
    auto parent = std::filesystem::path(path_).parent_path();
    created_dir_ = !std::filesystem::exists(parent);
    std::filesystem::create_directories(parent);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path_.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(fd_, 16) != 0)
      throw std::runtime_error("cannot listen on " + path_);
    ::chmod(path_.c_str(), 0666);
  }
  ~FakeDaemonSocket() {
    ::close(fd_);
    std::filesystem::remove(path_);
    if (created_dir_) std::filesystem::remove(std::filesystem::path(path_).parent_path());
  }
  const std::string& path() const { return path_; }
  // Connections accepted so far (non-blocking: what is queued now).
  int accepted() {
    while (true) {
      int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return count_;
      ::close(client);
      ++count_;
    }
  }

 private:
  std::string path_;
  bool created_dir_ = false;
  int fd_ = -1;
  int count_ = 0;
};

TEST_F(Escape, DaemonSocketsAreHiddenUnlessAllowed) {
  FakeDaemonSocket daemon;
  const std::string link = "/tmp/cgfw-unix-escape-" + std::to_string(::getpid());
  auto attempts = [&] {
    std::string p = CGFW_ESCAPE_PROBE;
    return std::vector<std::string>{
        "sh", "-c",
        p + " connect-unix " + daemon.path() + "; ln -sf " + daemon.path() + " " + link + "; " + p +
            " connect-unix " + link + "; ln " + daemon.path() + " " + link +
            ".hard 2>/dev/null && echo hardlinked || echo 'no hardlink'; rm -f " + link + " " +
            link + ".hard"};
  };
  auto hidden = run_sandbox({}, attempts());
  // Connected to the trap, which closes at once (or closed before the request was sent).
  EXPECT_TRUE(std::regex_match(
      hidden.out,
      std::regex("(REFUSED (read|send) (EOF|ECONNRESET|EPIPE)[^\n]*\n){2}no hardlink\n")))
      << daemon.path() << ": " << hidden.err;
  EXPECT_EQ(daemon.accepted(), 0) << "a connection reached the daemon's socket";
  ASSERT_TRUE(hidden.report);
  int attempts_reported = 0;
  for (const auto& event : (*hidden.report)["events"]) {
    if (event["layer"] != "unix") continue;
    EXPECT_EQ(event["decision"], "blocked");
    EXPECT_EQ(event["path"], daemon.path());
    EXPECT_EQ(event["suggested_rule"], "--allow-unix " + daemon.path());
    EXPECT_EQ(event["process"]["comm"], "cgfw_escape_pro") << "the probe, by SO_PEERCRED";
    attempts_reported += event["count"].get<int>();
  }
  EXPECT_EQ(attempts_reported, 2) << "by its name and through the symlink: "
                                  << hidden.report->dump(2);
  EXPECT_NE(hidden.err.find("-> " + daemon.path() + " (unix socket)"), std::string::npos)
      << "announced as it happens: " << hidden.err;

  // Opted in: the same path works, directly and through a link.
  auto allowed = run_sandbox({"--allow-unix", daemon.path()}, attempts());
  EXPECT_EQ(allowed.out.rfind("OK connected\nOK connected\n", 0), 0u) << allowed.err;
  EXPECT_EQ(daemon.accepted(), 2);
}

}  // namespace
}  // namespace cgfw::testing
