// The exported egress filter (runner/egress_filter_export, docs/ipegressfilter.md) used the way
// systemd uses IPEgressFilterPath=: the pin opened with bpf_obj_get and attached with
// BPF_F_ALLOW_MULTI to a cgroup (here one the test makes), a process moved in, its connections to
// the fake internet judged by the IP rules alone.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "policy/parser.h"
#include "runner/egress_filter_export.h"
#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"

namespace cgfw::testing {
namespace {

using namespace std::chrono_literals;

std::string bpffs_mount() {
  std::ifstream mounts("/proc/mounts");
  std::string device, point, type, rest;
  while (mounts >> device >> point >> type && std::getline(mounts, rest))
    if (type == "bpf") return point;
  return "";
}

policy::Policy parse(const std::string& text) {
  auto parsed = policy::parse_rules(text, "egress.txt");
  EXPECT_TRUE(parsed.errors.empty()) << parsed.errors.at(0).to_string();
  policy::Policy policy;
  policy::append_rules(policy, std::move(parsed.rules));
  return policy;
}

// One attempt from a child process moved into the cgroup first: a TCP connect (bounded; a
// dropped SYN is only retried, so "refused" may mean "no answer within 2 s") or one UDP datagram.
// Returns 0 on success, else the errno of the failed step.
int attempt_from(int cgroup_fd, int protocol, const std::string& ip, int port) {
  sockaddr_storage address{};
  socklen_t length;
  if (ip.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<std::uint16_t>(port));
    EXPECT_EQ(::inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr), 1);
    length = sizeof(*in6);
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&address);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<std::uint16_t>(port));
    EXPECT_EQ(::inet_pton(AF_INET, ip.c_str(), &in4->sin_addr), 1);
    length = sizeof(*in4);
  }
  int result_pipe[2];
  if (::pipe(result_pipe) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(result_pipe[0]);
    int result = 0;
    int procs = ::openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (procs < 0 || ::write(procs, "0", 1) != 1) {
      result = -2;
    } else if (protocol == IPPROTO_UDP) {
      int fd = ::socket(address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      const char datagram[] = "cgfw export test";
      if (::sendto(fd, datagram, sizeof(datagram) - 1, 0, reinterpret_cast<sockaddr*>(&address),
                   length) < 0)
        result = errno;
    } else {
      int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
        result = errno;
        if (errno == EINPROGRESS) {
          pollfd ready{fd, POLLOUT, 0};
          socklen_t size = sizeof(result);
          if (::poll(&ready, 1, 2000) != 1)
            result = ETIMEDOUT;
          else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &result, &size) != 0)
            result = errno;
        }
      }
    }
    if (::write(result_pipe[1], &result, sizeof(result)) != sizeof(result)) ::_exit(98);
    ::_exit(0);
  }
  ::close(result_pipe[1]);
  int result = -3;
  if (pid < 0 || ::read(result_pipe[0], &result, sizeof(result)) != sizeof(result)) result = -3;
  ::close(result_pipe[0]);
  if (pid > 0) ::waitpid(pid, nullptr, 0);
  return result;
}

std::string describe(int result) {
  if (result > 0) return std::strerror(result);
  return result == 0 ? "OK" : "test harness failure " + std::to_string(result);
}

// A directory of pins of our own under the bpffs mount, that does not exist yet (the export
// creates it), removed whatever happened.
class EgressFilterPins : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: integration tests need root";
    std::string bpffs = bpffs_mount();
    ASSERT_FALSE(bpffs.empty()) << "no bpffs in /proc/mounts";
    pin_dir_ = bpffs + "/cgfwtest-" + std::to_string(::getpid());
    pin_ = pin_dir_ + "/egress";
  }
  void TearDown() override {
    if (pin_dir_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(pin_dir_, ignored);  // bpffs: unlink and rmdir work
  }

  std::string pin_dir_;
  std::string pin_;
};

// And a cgroup standing for a unit's, and the fake internet.
class EgressFilterExport : public EgressFilterPins {
 protected:
  void SetUp() override {
    EgressFilterPins::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::string mount = cgroup2_mount();
    ASSERT_FALSE(mount.empty());
    cgroup_ = mount + "/cgfwtest-export-" + std::to_string(::getpid()) + ".service";
    ASSERT_TRUE(std::filesystem::create_directory(cgroup_)) << cgroup_;
    cgroup_fd_ = ::open(cgroup_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(cgroup_fd_, 0);
    net_ = FakeInternet::up();
  }

  // Whatever happened: programs detached, cgroup emptied and removed, pins gone.
  void TearDown() override {
    for (int prog : attached_) {
      bpf_prog_detach2(prog, cgroup_fd_, BPF_CGROUP_INET_EGRESS);
      ::close(prog);
    }
    if (cgroup_fd_ >= 0) ::close(cgroup_fd_);
    if (!cgroup_.empty()) {
      std::ofstream(cgroup_ + "/cgroup.kill") << "1" << std::endl;
      EXPECT_TRUE(eventually([&] { return ::rmdir(cgroup_.c_str()) == 0 || errno == ENOENT; }, 10s))
          << "cannot remove " << cgroup_;
    }
    EgressFilterPins::TearDown();
  }

  // What systemd does for IPEgressFilterPath=: open the pin, attach it with BPF_F_ALLOW_MULTI.
  // Returns the program fd (detached by TearDown), or -errno.
  int attach_pin(const std::string& pin) {
    int prog = bpf_obj_get(pin.c_str());
    if (prog < 0) return -errno;
    if (int err = bpf_prog_attach(prog, cgroup_fd_, BPF_CGROUP_INET_EGRESS, BPF_F_ALLOW_MULTI)) {
      ::close(prog);
      return err;
    }
    attached_.push_back(prog);
    return prog;
  }
  void detach(int prog) {
    EXPECT_EQ(bpf_prog_detach2(prog, cgroup_fd_, BPF_CGROUP_INET_EGRESS), 0);
    std::erase(attached_, prog);
    ::close(prog);
  }

  int tcp(const std::string& ip, int port) { return attempt_from(cgroup_fd_, 0, ip, port); }
  int udp(const std::string& ip, int port) {
    return attempt_from(cgroup_fd_, IPPROTO_UDP, ip, port);
  }

  std::unique_ptr<FakeInternet> net_;
  std::string cgroup_;
  int cgroup_fd_ = -1;
  std::vector<int> attached_;
};

TEST_F(EgressFilterExport, PinnedFilterAllowsOnlyTheIpRulesInAUnitCgroup) {
  const std::string v4 = FakeInternet::kServerV4;    // 198.51.100.10
  const std::string v4b = FakeInternet::kServerV4b;  // 198.51.100.11
  const std::string v6 = FakeInternet::kServerV6;    // 2001:db8::10
  const std::string v6b = FakeInternet::kServerV6b;  // 2001:db8::11
  ASSERT_EQ(tcp(v4b, 9000), 0) << "before anything is attached, everything is reachable";
  ASSERT_TRUE(net_->wait_for_hits(v4b, 9000, 1, 5s));

  // Through the command line, as an operator exports it.
  auto exported = run_command({CGFW_SANDBOX_BINARY, "--export-egress-filter", pin_, "-a",
                               v4 + ":9000", "-a", v4 + ":9999/udp", "-a", "[" + v6 + "]:9000"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.err.find("IPEgressFilterPath=" + pin_), std::string::npos) << exported.err;
  ASSERT_TRUE(std::filesystem::exists(pin_));
  int prog = attach_pin(pin_);
  ASSERT_GE(prog, 0) << std::strerror(-prog);

  // A local listener: loopback is always allowed.
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t local_length = sizeof(local);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&local), &local_length), 0);

  net_->clear_log();
  EXPECT_EQ(describe(tcp(v4, 9000)), "OK") << "allowed by " << v4 << ":9000";
  EXPECT_EQ(describe(tcp(v6, 9000)), "OK") << "allowed by [" << v6 << "]:9000";
  EXPECT_EQ(describe(udp(v4, 9999)), "OK") << "allowed by " << v4 << ":9999/udp";
  EXPECT_EQ(describe(tcp("127.0.0.1", ntohs(local.sin_port))), "OK") << "loopback";
  ::close(listener);
  EXPECT_NE(tcp(v4b, 9000), 0) << "another address";
  EXPECT_NE(tcp(v4, 9001), 0) << "another port of the allowed address";
  EXPECT_NE(tcp(v6b, 9000), 0) << "another IPv6 address";
  EXPECT_NE(udp(v4, 9000), 0) << "UDP to a port allowed for TCP only";
  EXPECT_NE(udp(v4b, 9999), 0) << "UDP to another address";

  EXPECT_TRUE(net_->wait_for_hits(v4, 9000, 1, 5s));
  EXPECT_TRUE(net_->wait_for_hits(v6, 9000, 1, 5s));
  EXPECT_TRUE(net_->wait_for_hits(v4, 9999, 1, 5s));
  EXPECT_TRUE(net_->hits(v4b).empty()) << "nothing refused reached the fake internet";
  EXPECT_TRUE(net_->hits(v6b).empty());
  EXPECT_TRUE(net_->hits(v4, 9001).empty());

  // Detached (systemd: the unit stopped), the cgroup is unpoliced again.
  detach(prog);
  EXPECT_EQ(describe(tcp(v4b, 9000)), "OK");
}

// Re-exported with replace: a program already attached keeps the rules it had (a running unit,
// until it restarts); the pin now holds the new rules for the next attach (the next start).
TEST_F(EgressFilterExport, ReplaceTakesEffectOnTheNextAttachOnly) {
  const std::string v4 = FakeInternet::kServerV4;
  const std::string v4b = FakeInternet::kServerV4b;
  ASSERT_TRUE(runner::export_egress_filter(parse(v4 + ":9000"), pin_).ok());
  int old_prog = attach_pin(pin_);
  ASSERT_GE(old_prog, 0);

  auto again = runner::export_egress_filter(parse(v4b + ":9000"), pin_);
  ASSERT_FALSE(again.ok()) << "an existing pin is not replaced unless asked";
  EXPECT_NE(again.error().message.find("exists already"), std::string::npos)
      << again.error().message;
  auto replaced = runner::export_egress_filter(parse(v4b + ":9000"), pin_, /*replace=*/true);
  ASSERT_TRUE(replaced.ok()) << replaced.error().message;
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(pin_dir_),
                          std::filesystem::directory_iterator()),
            1)
      << "the pin alone: nothing left over from the replacement";

  EXPECT_EQ(describe(tcp(v4, 9000)), "OK") << "the attached program keeps its rules";
  EXPECT_NE(tcp(v4b, 9000), 0);

  detach(old_prog);
  int new_prog = attach_pin(pin_);
  ASSERT_GE(new_prog, 0);
  EXPECT_EQ(describe(tcp(v4b, 9000)), "OK") << "the replacement's rules";
  EXPECT_NE(tcp(v4, 9000), 0);

  ASSERT_TRUE(runner::unexport_egress_filter(pin_).ok());
  EXPECT_FALSE(std::filesystem::exists(pin_));
  EXPECT_EQ(describe(tcp(v4b, 9000)), "OK") << "removing the pin detaches nothing";
  auto twice = runner::unexport_egress_filter(pin_);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("no egress filter is pinned at " + pin_), std::string::npos)
      << twice.error().message;
}

TEST_F(EgressFilterPins, RefusesNamesUrlsPathsOutsideBpffsAndForeignPins) {
  for (const auto& [text, named] : std::vector<std::pair<std::string, std::string>>{
           {"198.51.100.10:9000\n\n  example.com:443\n", "'example.com:443' (egress.txt:3:3)"},
           {"198.51.100.10 *.example.com", "'*.example.com' (egress.txt:1:15)"},
           {"https://example.com/x/*", "'https://example.com/x/*' (egress.txt:1:1)"}}) {
    auto refused = runner::export_egress_filter(parse(text), pin_);
    ASSERT_FALSE(refused.ok()) << text;
    EXPECT_NE(refused.error().message.find(named), std::string::npos) << refused.error().message;
    EXPECT_NE(refused.error().message.find("IP rules only"), std::string::npos)
        << refused.error().message;
  }
  EXPECT_FALSE(std::filesystem::exists(pin_dir_)) << "a refused policy creates nothing";

  TempDir outside;
  std::string elsewhere = outside.file("sub/egress");
  auto off_bpffs = runner::export_egress_filter(parse("198.51.100.10:9000"), elsewhere);
  ASSERT_FALSE(off_bpffs.ok());
  EXPECT_NE(off_bpffs.error().message.find(elsewhere + " is not on a bpffs mount"),
            std::string::npos)
      << off_bpffs.error().message;
  EXPECT_FALSE(std::filesystem::exists(outside.file("sub")));
  auto dotdot = runner::export_egress_filter(parse("198.51.100.10:9000"), pin_dir_ + "/../../x");
  EXPECT_FALSE(dotdot.ok()) << "normalized before the check";
  auto dotted = runner::export_egress_filter(parse("198.51.100.10:9000"), pin_dir_ + "/a.service");
  ASSERT_FALSE(dotted.ok());
  EXPECT_NE(dotted.error().message.find("bpffs refuses '.'"), std::string::npos)
      << dotted.error().message;

  // Something else pinned there: neither replaced nor removed.
  std::filesystem::create_directory(pin_dir_);
  std::string foreign = pin_dir_ + "/foreign";
  int map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "cgfwtest", 4, 4, 1, nullptr);
  ASSERT_GE(map, 0);
  ASSERT_EQ(bpf_obj_pin(map, foreign.c_str()), 0);
  ::close(map);
  auto replaced = runner::export_egress_filter(parse("198.51.100.10:9000"), foreign, true);
  ASSERT_FALSE(replaced.ok());
  EXPECT_NE(replaced.error().message.find("is not a cgfw egress filter"), std::string::npos)
      << replaced.error().message;
  auto removed = runner::unexport_egress_filter(foreign);
  ASSERT_FALSE(removed.ok());
  EXPECT_NE(removed.error().message.find("is not a cgfw egress filter"), std::string::npos)
      << removed.error().message;
  EXPECT_TRUE(std::filesystem::exists(foreign));
}

}  // namespace
}  // namespace cgfw::testing
