// The slice guard and its follower (--containers-slice) attached for real to a throwaway "slice"
// cgroup with child cgroups made here, as systemd makes a service's or a container's scope. A
// process in each child sends UDP to a listener on loopback (policed loopback: only the port a
// rule allows passes cgfw's own programs): a child there before the start passes untouched, a
// container scope is dropped until it is followed and then judged by cgfw's programs, and a
// followed scope whose own links are gone is still dropped once egress is locked down.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <asio/io_context.hpp>

#include <cerrno>
#include <chrono>
#include <string>

#include "policy/parser.h"
#include "runner/cgroup.h"
#include "runner/container_slice.h"
#include "runner/data_plane.h"
#include "tests/support/root.h"

namespace cgfw::runner {
namespace {

// A UDP listener on 127.0.0.1.
struct UdpListener {
  int fd = -1;
  std::uint16_t port = 0;
  UdpListener() {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~UdpListener() { ::close(fd); }
  // Waits (bounded) for one datagram.
  bool received() const {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) return false;
    char byte;
    return ::recv(fd, &byte, 1, 0) == 1;
  }
};

class SliceGuard : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) return;
    auto mount = find_cgroup2_mount();
    ASSERT_TRUE(mount.ok()) << mount.error().message;
    mount_ = *mount;
    auto slice = TransientCgroup::make(mount_);
    ASSERT_TRUE(slice.ok()) << slice.error().message;
    slice_ = std::move(*slice);
    ASSERT_EQ(::mkdirat(slice_->fd(), "before.service", 0755), 0);
    // Loopback policed: only the allowed listener's port passes cgfw's own programs.
    auto parsed = policy::parse_rule("127.0.0.1:" + std::to_string(allowed_.port) + "/udp", "t");
    ASSERT_TRUE(parsed.errors.empty());
    policy::append_rules(policy_, parsed.rules);
    auto table = build_ip_allow_table(policy_);
    ASSERT_TRUE(table.ok());
    auto plane = DataPlane::make({.police_loopback = true,
                                  .ip_entries = table->size(),
                                  .slice_child_level = cgroup_level(mount_, slice_->path()) + 1});
    ASSERT_TRUE(plane.ok()) << plane.error().message;
    plane_ = std::move(*plane);
    ASSERT_TRUE(plane_->fill_ip_allow(*table).ok());
  }
  void TearDown() override {
    follower_.reset();
    if (plane_) plane_->detach();
    if (slice_)
      for (const char* child : {"before.service", "docker-c1.scope", "later.service"})
        ::unlinkat(slice_->fd(), child, AT_REMOVEDIR);
  }

  // errno of a sendto() from a process in the slice's child `child` (0: sent).
  int send_from(const std::string& child, const UdpListener& to) {
    int report[2];
    EXPECT_EQ(::pipe(report), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      std::string procs = slice_->path() + "/" + child + "/cgroup.procs";
      int fd = ::open(procs.c_str(), O_WRONLY);
      if (fd < 0 || ::write(fd, "0", 1) != 1) ::_exit(99);
      int sock = ::socket(AF_INET, SOCK_DGRAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(to.port);
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      int error = ::sendto(sock, "x", 1, 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 1
                      ? 0
                      : errno;
      if (::write(report[1], &error, sizeof(error)) != sizeof(error)) ::_exit(98);
      ::_exit(0);
    }
    ::close(report[1]);
    int error = -1;
    EXPECT_EQ(::read(report[0], &error, sizeof(error)), static_cast<ssize_t>(sizeof(error)));
    ::close(report[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    return error;
  }

  // Runs the follower's inotify handling until `done` (bounded).
  template <typename Done>
  bool poll_until(Done done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(10));
    }
    return done();
  }

  std::string mount_;
  std::unique_ptr<TransientCgroup> slice_;
  policy::Policy policy_;
  UdpListener allowed_;
  UdpListener other_;
  asio::io_context io_;
  std::unique_ptr<DataPlane> plane_;
  std::unique_ptr<SliceFollower> follower_;
  std::vector<std::string> warnings_;
};

TEST_F(SliceGuard, ContainerScopesAreDroppedUntilFollowedThenPolicedOthersLeftAlone) {
  CGFW_REQUIRE_ROOT();
  auto follower = SliceFollower::start(io_, slice_->path(), *plane_,
                                       [&](const std::string& text) { warnings_.push_back(text); });
  ASSERT_TRUE(follower.ok()) << follower.error().message;
  follower_ = std::move(*follower);

  // There before the start: exempt, whatever the rules say.
  EXPECT_EQ(send_from("before.service", other_), 0);
  EXPECT_TRUE(other_.received());

  // A container's scope: dropped by the guard until the follower has seen it.
  ASSERT_EQ(::mkdirat(slice_->fd(), "docker-c1.scope", 0755), 0);
  EXPECT_EQ(send_from("docker-c1.scope", allowed_), EPERM) << "unclassified: dropped";
  EXPECT_EQ(plane_->counters()[CGFW_COUNTER_SLICE_UNCLASSIFIED_DROPPED], 1u);
  ASSERT_TRUE(poll_until([&] { return follower_->followed("docker-c1.scope"); }));
  // Followed: cgfw's programs judge it, by the rules.
  EXPECT_EQ(send_from("docker-c1.scope", allowed_), 0);
  EXPECT_TRUE(allowed_.received());
  EXPECT_EQ(send_from("docker-c1.scope", other_), EPERM) << "refused by the rules";

  // Any other child created meanwhile: exempt once classified.
  ASSERT_EQ(::mkdirat(slice_->fd(), "later.service", 0755), 0);
  ASSERT_TRUE(poll_until([&] {
    __u64 id = 0;
    struct stat st {};
    if (::fstatat(slice_->fd(), "later.service", &st, 0) == 0) id = st.st_ino;
    __u8 kind = 0;
    return bpf_map_lookup_elem(plane_->slice_children_map_fd(), &id, &kind) == 0 &&
           kind == CGFW_SLICE_EXEMPT;
  }));
  EXPECT_EQ(send_from("later.service", other_), 0);
  EXPECT_TRUE(other_.received());
  EXPECT_TRUE(warnings_.empty()) << warnings_.at(0);

  // A scope removed: forgotten, its map entry with it.
  struct stat scope {};
  ASSERT_EQ(::fstatat(slice_->fd(), "docker-c1.scope", &scope, 0), 0);
  __u64 scope_id = scope.st_ino;
  ASSERT_EQ(::unlinkat(slice_->fd(), "docker-c1.scope", AT_REMOVEDIR), 0);
  ASSERT_TRUE(poll_until([&] { return !follower_->followed("docker-c1.scope"); }));
  __u8 kind = 0;
  EXPECT_NE(bpf_map_lookup_elem(plane_->slice_children_map_fd(), &scope_id, &kind), 0);
}

// The runner's death: a followed scope's own links were the runner's and are gone; the guard,
// whose link the watchdog holds, still judges the scope's packets by the rules, and drops them
// all from the lockdown on.
TEST_F(SliceGuard, AFollowedScopeWithoutItsLinksIsJudgedByTheGuardThenLockedDown) {
  CGFW_REQUIRE_ROOT();
  ASSERT_EQ(::mkdirat(slice_->fd(), "docker-c1.scope", 0755), 0);
  struct stat scope {};
  ASSERT_EQ(::fstatat(slice_->fd(), "docker-c1.scope", &scope, 0), 0);
  ASSERT_TRUE(plane_->mark_slice_child(scope.st_ino, CGFW_SLICE_FOLLOWED).ok());
  struct stat before {};
  ASSERT_EQ(::fstatat(slice_->fd(), "before.service", &before, 0), 0);
  ASSERT_TRUE(plane_->mark_slice_child(before.st_ino, CGFW_SLICE_EXEMPT).ok());
  ASSERT_TRUE(plane_->attach_slice_guard(slice_->fd()).ok());
  EXPECT_EQ(send_from("docker-c1.scope", allowed_), 0) << "followed: the rules allow it";
  EXPECT_TRUE(allowed_.received());
  EXPECT_EQ(send_from("docker-c1.scope", other_), EPERM) << "followed: the rules refuse it";
  plane_->lock_down();
  EXPECT_EQ(send_from("docker-c1.scope", allowed_), EPERM);
  EXPECT_EQ(plane_->counters()[CGFW_COUNTER_LOCKDOWN_DROPPED], 1u);
  EXPECT_EQ(send_from("before.service", other_), 0) << "not cgfw's: never locked down";
  EXPECT_TRUE(other_.received());
}

TEST(SliceNames, ContainerScopesOfEachRuntimesSystemdDriver) {
  for (const char* name : {"docker-0123abcd.scope", "libpod-0123abcd.scope",
                           "cri-containerd-0123abcd.scope", "crio-0123abcd.scope"})
    EXPECT_TRUE(is_container_scope_name(name)) << name;
  for (const char* name :
       {"docker.service", "containerd.service", "docker-.slice", "docker-x.scope.d", "ssh.service"})
    EXPECT_FALSE(is_container_scope_name(name)) << name;
}

TEST(SliceNames, LevelCountsComponentsBelowTheMount) {
  EXPECT_EQ(cgroup_level("/sys/fs/cgroup", "/sys/fs/cgroup"), 0u);
  EXPECT_EQ(cgroup_level("/sys/fs/cgroup", "/sys/fs/cgroup/system.slice"), 1u);
  EXPECT_EQ(cgroup_level("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified/a.slice/b.slice"), 2u);
}

}  // namespace
}  // namespace cgfw::runner
