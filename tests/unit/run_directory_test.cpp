#include "runner/run_directory.h"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/sandbox_process.h"

namespace cgfw::runner {
namespace {

// A pid that certainly names no process: a child that has exited and been reaped.
pid_t dead_pid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

TEST(RunDirectory, SweepRemovesOnlyDirectoriesOfRunnersThatAreGone) {
  testing::TempDir base;
  auto dead = base.file("run-" + std::to_string(dead_pid()) + "-abc123");
  auto alive = base.file("run-" + std::to_string(::getpid()) + "-def456");
  auto other = base.file("not-a-run");
  for (const auto& dir : {dead, alive, other}) {
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/ca-bundle.pem") << "x";
  }
  EXPECT_EQ(RunDirectory::sweep_stale(base.path()), 1);
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(alive));
  EXPECT_TRUE(std::filesystem::exists(other));
  EXPECT_EQ(RunDirectory::sweep_stale(base.path() + "/missing"), 0);
}

}  // namespace
}  // namespace cgfw::runner
