#include "runner/process_info.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/sandbox_process.h"

namespace cgfw::runner {
namespace {

TEST(ProcessAttributor, ReadsALiveProcess) {
  ProcessAttributor processes(/*stop_at=*/1);
  auto record = processes.describe(::getpid(), "");
  EXPECT_FALSE(record.gone);
  EXPECT_EQ(record.pid, ::getpid());
  EXPECT_EQ(record.ppid, ::getppid());
  EXPECT_NE(record.exe.find("cgfw_unit_tests"), std::string::npos) << record.exe;
  ASSERT_FALSE(record.cmdline.empty());
  EXPECT_FALSE(record.ancestors.empty());
  EXPECT_EQ(record.ancestors[0].pid, ::getppid());
}

TEST(ProcessAttributor, AncestorsStopAtCgfw) {
  ProcessAttributor processes(/*stop_at=*/::getppid());
  auto record = processes.describe(::getpid(), "");
  EXPECT_TRUE(record.ancestors.empty());
}

TEST(ProcessAttributor, GoneProcessIsNeverGuessed) {
  testing::TempDir proc;  // an empty /proc: every process is gone
  ProcessAttributor processes(1, proc.path());
  auto record = processes.describe(4242, "curl");
  EXPECT_TRUE(record.gone);
  EXPECT_EQ(record.exe, "");
  EXPECT_TRUE(record.cmdline.empty());
  EXPECT_EQ(record.comm, "curl");
}

TEST(ProcessAttributor, GoneProcessFallsBackToItsExecRecord) {
  testing::TempDir proc;
  ProcessAttributor processes(1, proc.path());
  processes.on_exec({.tgid = 4242,
                     .ppid = 4000,
                     .comm = "curl",
                     .filename = "/usr/bin/curl",
                     .argv = {"curl", "http://198.51.100.11/"},
                     .argv_truncated = false});
  auto record = processes.describe(4242, "curl");
  EXPECT_TRUE(record.gone);
  EXPECT_EQ(record.exe, "/usr/bin/curl");
  EXPECT_EQ(record.cmdline, (std::vector<std::string>{"curl", "http://198.51.100.11/"}));
  EXPECT_EQ(record.ppid, 4000);
  EXPECT_EQ(processes.describe(4243, "x").exe, "") << "another pid has no record";
}

TEST(ProcessAttributor, ReadsAFakeProcEntry) {
  testing::TempDir proc;
  std::filesystem::create_directories(proc.file("77"));
  // comm with ") " inside, as a hostile process could name itself.
  proc.write("77/stat", "77 (evil) S 9) S 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0");
  proc.write("77/cmdline", std::string("make\0-j2\0", 9));
  ProcessAttributor processes(1, proc.path());
  auto record = processes.describe(77, "");
  EXPECT_EQ(record.comm, "evil) S 9");
  EXPECT_EQ(record.ppid, 1);
  EXPECT_EQ(record.cmdline, (std::vector<std::string>{"make", "-j2"}));
  EXPECT_FALSE(record.gone);
}

}  // namespace
}  // namespace cgfw::runner
