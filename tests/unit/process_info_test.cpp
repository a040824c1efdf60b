#include "runner/process_info.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

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

std::string comm_of(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(file, comm);
  return comm;
}

// What is remembered of a pid is never served for another program: not after an exec (whose
// event may come later than the connection's), not after the process has gone.
TEST(ProcessAttributor, ForgetsAProcessThatExecsOrExits) {
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::dup2(gate[0], STDIN_FILENO);
    ::close(gate[1]);
    ::execl("/bin/sh", "sh", "-c", "read line; exec sleep 30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(gate[0]);
  ASSERT_TRUE(
      testing::eventually([&] { return comm_of(child) == "sh"; }, std::chrono::seconds(10)));
  ProcessAttributor processes(/*stop_at=*/1);
  auto before = processes.describe(child, "sh");
  ASSERT_FALSE(before.cmdline.empty());
  EXPECT_EQ(before.cmdline[0], "sh");
  EXPECT_EQ(processes.describe(child, "sh").cmdline, before.cmdline) << "a repeat is the same";

  ASSERT_EQ(::write(gate[1], "go\n", 3), 3);
  ASSERT_TRUE(
      testing::eventually([&] { return comm_of(child) == "sleep"; }, std::chrono::seconds(10)));
  auto after = processes.describe(child, "sleep");
  EXPECT_EQ(after.cmdline, (std::vector<std::string>{"sleep", "30"}));
  EXPECT_FALSE(after.gone);

  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(gate[1]);
  auto gone = processes.describe(child, "sleep");
  EXPECT_TRUE(gone.gone);
  EXPECT_TRUE(gone.cmdline.empty()) << "no exec record: nothing may be guessed";
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

// Caught mid-exit: its stat and exe were read, then its memory went and the command line read
// empty. What its exec recorded fills the gap; nothing is guessed.
TEST(ProcessAttributor, AProcessExitingBetweenReadsKeepsItsExecRecord) {
  testing::TempDir proc;
  std::filesystem::create_directories(proc.file("78"));
  proc.write("78/stat", "78 (curl) S 1 78 78 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0");
  proc.write("78/cmdline", "");
  std::filesystem::create_symlink("/usr/bin/curl", proc.file("78/exe"));
  ProcessAttributor processes(1, proc.path());
  processes.on_exec({.tgid = 78,
                     .ppid = 1,
                     .comm = "curl",
                     .filename = "/usr/bin/curl",
                     .argv = {"curl", "https://example.org/"}});
  auto record = processes.describe(78, "curl");
  EXPECT_EQ(record.exe, "/usr/bin/curl");
  EXPECT_EQ(record.cmdline, (std::vector<std::string>{"curl", "https://example.org/"}));

  ProcessAttributor unrecorded(1, proc.path());
  EXPECT_TRUE(unrecorded.describe(78, "curl").cmdline.empty()) << "no exec record: no guess";
}

}  // namespace
}  // namespace cgfw::runner
