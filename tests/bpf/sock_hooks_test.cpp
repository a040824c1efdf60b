// The socket hooks attached for real to a throwaway cgroup, exercised by a process moved into
// it: the sockops port map, the original-destination map, connect-time refusal, raw sockets.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "policy/parser.h"
#include "runner/cgroup.h"
#include "runner/data_plane.h"
#include "tests/support/root.h"

namespace cgfw::runner {
namespace {

// What the process inside the cgroup reports back through a pipe.
struct Report {
  int error = 0;  // errno of the operation under test, 0 on success
  std::uint16_t local_port = 0;
  std::uint64_t cookie = 0;
};

class SockHooks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) return;
    auto mount = find_cgroup2_mount();
    ASSERT_TRUE(mount.ok()) << mount.error().message;
    auto cgroup = TransientCgroup::make(*mount);
    ASSERT_TRUE(cgroup.ok()) << cgroup.error().message;
    cgroup_ = std::move(*cgroup);
    auto parsed = policy::parse_rule("198.51.100.10", "test");
    policy::append_rules(policy_, parsed.rules);
    auto table = build_ip_allow_table(policy_);
    ASSERT_TRUE(table.ok());
    auto plane = DataPlane::make(
        {.audit_mode = false, .police_loopback = false, .ip_entries = table->size()});
    ASSERT_TRUE(plane.ok()) << plane.error().message;
    plane_ = std::move(*plane);
    ASSERT_TRUE(plane_->fill_ip_allow(*table).ok());
    ASSERT_TRUE(plane_->attach(cgroup_->fd()).ok());
  }

  // Runs `body` in a child process inside the cgroup; `body` writes one Report to the pipe and
  // then waits for the parent to close `hold` (so its sockets stay open while we look).
  Report run_inside(const std::function<Report()>& body, const std::function<void(Report)>& look) {
    int report_pipe[2];
    int hold_pipe[2];
    EXPECT_EQ(::pipe(report_pipe), 0);
    EXPECT_EQ(::pipe(hold_pipe), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(report_pipe[0]);
      ::close(hold_pipe[1]);
      int procs = ::openat(cgroup_->fd(), "cgroup.procs", O_WRONLY);
      if (procs < 0 || ::write(procs, "0", 1) != 1) ::_exit(99);
      Report report = body();
      if (::write(report_pipe[1], &report, sizeof(report)) != sizeof(report)) ::_exit(98);
      char byte;
      ssize_t ignored = ::read(hold_pipe[0], &byte, 1);
      (void)ignored;
      ::_exit(0);
    }
    ::close(report_pipe[1]);
    ::close(hold_pipe[0]);
    Report report;
    EXPECT_EQ(::read(report_pipe[0], &report, sizeof(report)),
              static_cast<ssize_t>(sizeof(report)));
    child_pid_ = pid;
    look(report);
    ::close(hold_pipe[1]);
    ::close(report_pipe[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    return report;
  }

  policy::Policy policy_;
  std::unique_ptr<TransientCgroup> cgroup_;
  std::unique_ptr<DataPlane> plane_;
  pid_t child_pid_ = 0;
};

// A listener outside the cgroup on 127.0.0.1, port chosen by the kernel.
struct Listener {
  int fd = -1;
  std::uint16_t port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~Listener() { ::close(fd); }
};

Report connect_to(const char* ip, std::uint16_t port) {
  Report report;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip, &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    report.error = errno;
    return report;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  report.local_port = ntohs(addr.sin_port);
  len = sizeof(report.cookie);
  ::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &report.cookie, &len);
  return report;  // fd stays open until the process exits
}

TEST_F(SockHooks, SockopsMapsTheClientPortToItsSocketCookie) {
  CGFW_REQUIRE_ROOT();
  Listener listener;
  run_inside([&] { return connect_to("127.0.0.1", listener.port); },
             [&](Report report) {
               ASSERT_EQ(report.error, 0) << std::strerror(report.error);
               ASSERT_NE(report.cookie, 0u);
               cgfw_local_endpoint key{};
               key.family = AF_INET;
               key.protocol = IPPROTO_TCP;
               key.port = report.local_port;
               inet_pton(AF_INET, "127.0.0.1", key.addr);
               std::uint64_t cookie = 0;
               ASSERT_EQ(bpf_map_lookup_elem(plane_->client_sockets_map_fd(), &key, &cookie), 0)
                   << "no sockops entry for local port " << report.local_port;
               EXPECT_EQ(cookie, report.cookie);

               cgfw_original_dest dest{};
               ASSERT_EQ(
                   bpf_map_lookup_elem(plane_->original_dests_map_fd(), &report.cookie, &dest), 0);
               EXPECT_EQ(dest.family, AF_INET);
               EXPECT_EQ(dest.port, listener.port);
               EXPECT_EQ(dest.protocol, IPPROTO_TCP);
               EXPECT_EQ(static_cast<pid_t>(dest.tgid), child_pid_);
             });
}

TEST_F(SockHooks, SockopsEntryIsRemovedWhenTheSocketCloses) {
  CGFW_REQUIRE_ROOT();
  Listener listener;
  Report closed = run_inside(
      [&] {
        Report report = connect_to("127.0.0.1", listener.port);
        // Close and wait until the kernel has moved the socket out of ESTABLISHED.
        for (int fd = 3; fd < 64; ++fd) {
          int type = 0;
          socklen_t len = sizeof(type);
          if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM) {
            sockaddr_in local{};
            len = sizeof(local);
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
            if (ntohs(local.sin_port) == report.local_port) {
              linger hard{1, 0};  // RST: straight to CLOSE
              ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
              ::close(fd);
            }
          }
        }
        return report;
      },
      [](Report) {});
  cgfw_local_endpoint key{};
  key.family = AF_INET;
  key.protocol = IPPROTO_TCP;
  key.port = closed.local_port;
  inet_pton(AF_INET, "127.0.0.1", key.addr);
  std::uint64_t cookie = 0;
  EXPECT_NE(bpf_map_lookup_elem(plane_->client_sockets_map_fd(), &key, &cookie), 0);
}

TEST_F(SockHooks, ConnectToABlockedAddressFailsAtOnceWithEperm) {
  CGFW_REQUIRE_ROOT();
  run_inside([] { return connect_to("198.51.100.99", 80); },
             [](Report report) { EXPECT_EQ(report.error, EPERM) << std::strerror(report.error); });
  EXPECT_GE(plane_->counters()[CGFW_COUNTER_PACKETS_BLOCKED], 1u);
}

// The refusal names the cgroup the process was in, and the runner can find that cgroup's path
// from the id alone after the process has exited (how a container's short-lived process is
// still attributed to its container).
TEST_F(SockHooks, ARefusalCarriesTheCgroupIdWhichLeadsBackToTheCgroup) {
  CGFW_REQUIRE_ROOT();
  std::vector<cgfw_flow_event> events;
  ASSERT_TRUE(
      plane_->open_events([&](const cgfw_flow_event& event) { events.push_back(event); }).ok());
  run_inside([] { return connect_to("198.51.100.99", 80); },
             [](Report report) { EXPECT_EQ(report.error, EPERM); });
  plane_->consume_events();
  ASSERT_FALSE(events.empty()) << "the refusal was not reported";
  EXPECT_EQ(events.back().cgroup_id, cgroup_->id());
  auto mount = find_cgroup2_mount();
  ASSERT_TRUE(mount.ok());
  auto path = cgroup_path_of_id(*mount, events.back().cgroup_id);
  ASSERT_TRUE(path.ok()) << path.error().message;
  EXPECT_EQ(*path, cgroup_->path());
  EXPECT_FALSE(cgroup_path_of_id(*mount, 1ull << 62).ok()) << "an id no cgroup has";
}

TEST_F(SockHooks, RawSocketsAreRefused) {
  CGFW_REQUIRE_ROOT();
  run_inside(
      [] {
        Report report;
        int fd = ::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
        report.error = fd < 0 ? errno : 0;
        int fd6 = ::socket(AF_INET6, SOCK_RAW, IPPROTO_RAW);
        if (fd6 >= 0) report.error = 0;
        return report;
      },
      [](Report report) { EXPECT_EQ(report.error, EPERM); });
  EXPECT_EQ(plane_->counters()[CGFW_COUNTER_RAW_REFUSED], 2u);
}

}  // namespace
}  // namespace cgfw::runner
