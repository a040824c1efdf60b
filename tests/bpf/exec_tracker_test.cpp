// The exec tracker attached for real: an exec inside the cgroup is recorded with its filename and
// argv; an exec outside it is not.
#include "runner/exec_tracker.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "bpf/cgfw_shared.h"
#include "runner/cgroup.h"
#include "tests/support/root.h"

namespace cgfw::runner {
namespace {

pid_t exec_child(int cgroup_fd, std::vector<const char*> argv) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (cgroup_fd >= 0) {
      int procs = ::openat(cgroup_fd, "cgroup.procs", O_WRONLY);
      if (procs < 0 || ::write(procs, "0", 1) != 1) ::_exit(99);
    }
    argv.push_back(nullptr);
    ::execv(argv[0], const_cast<char* const*>(argv.data()));
    ::_exit(98);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return pid;
}

// The job's cgroup and a followed runtime cgroup (a container's processes) are both tracked.
TEST(ExecTracker, RecordsExecsInsideItsCgroupsOnly) {
  CGFW_REQUIRE_ROOT();
  auto mount = find_cgroup2_mount();
  ASSERT_TRUE(mount.ok());
  auto cgroup = TransientCgroup::make(*mount);
  ASSERT_TRUE(cgroup.ok()) << cgroup.error().message;
  auto followed = TransientCgroup::make(*mount);
  ASSERT_TRUE(followed.ok()) << followed.error().message;
  std::vector<ExecRecord> records;
  auto tracker = ExecTracker::make({(*cgroup)->fd(), (*followed)->fd()},
                                   [&](const ExecRecord& r) { records.push_back(r); });
  ASSERT_TRUE(tracker.ok()) << tracker.error().message;

  pid_t outside = exec_child(-1, {"/bin/true", "outside"});
  pid_t inside = exec_child((*cgroup)->fd(), {"/bin/true", "first arg", "second"});
  pid_t in_followed = exec_child((*followed)->fd(), {"/bin/true", "in a container"});
  (*tracker)->consume();

  bool saw_followed = false;
  for (const auto& r : records)
    if (r.tgid == in_followed)
      saw_followed = r.argv == std::vector<std::string>{"/bin/true", "in a container"};
  EXPECT_TRUE(saw_followed);
  bool saw_inside = false;
  for (const auto& r : records) {
    EXPECT_NE(r.tgid, outside) << "an exec outside the sandbox was recorded";
    if (r.tgid != inside) continue;
    saw_inside = true;
    EXPECT_EQ(r.filename, "/bin/true");
    EXPECT_EQ(r.argv, (std::vector<std::string>{"/bin/true", "first arg", "second"}));
    EXPECT_FALSE(r.argv_truncated);
    EXPECT_EQ(r.ppid, ::getpid());
    EXPECT_EQ(r.comm, "true");
  }
  EXPECT_TRUE(saw_inside);
  EXPECT_EQ((*tracker)->lost(), 0u);
}

TEST(ExecTracker, LongArgvIsCutAndSaysSo) {
  CGFW_REQUIRE_ROOT();
  auto mount = find_cgroup2_mount();
  auto cgroup = TransientCgroup::make(*mount);
  ASSERT_TRUE(cgroup.ok());
  std::vector<ExecRecord> records;
  auto tracker =
      ExecTracker::make({(*cgroup)->fd()}, [&](const ExecRecord& r) { records.push_back(r); });
  ASSERT_TRUE(tracker.ok());
  std::string long_arg(2000, 'x');
  exec_child((*cgroup)->fd(), {"/bin/true", long_arg.c_str()});
  (*tracker)->consume();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].argv_truncated);
  ASSERT_EQ(records[0].argv.size(), 2u);
  EXPECT_EQ(records[0].argv[1], std::string(CGFW_EXEC_ARGS_LEN - 10, 'x'));
}

TEST(ExecTracker, RefusesMoreCgroupsThanItHasSlotsFor) {
  auto tracker =
      ExecTracker::make(std::vector<int>(kExecTrackerMaxCgroups + 1, 0), [](const ExecRecord&) {});
  ASSERT_FALSE(tracker.ok());
  EXPECT_NE(tracker.error().message.find("at most 16 cgroups"), std::string::npos)
      << tracker.error().message;
}

}  // namespace
}  // namespace cgfw::runner
