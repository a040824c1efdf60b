// Escapes through cgroups, processes and files: root inside the sandbox (the test runs the
// command as root, as `sudo` inside a build would) tries to leave the sandbox cgroup, to see or
// reach processes outside it, and to change what cgfw reads or writes.
#include <fstream>
#include <sstream>

#include "tests/security/escape_fixture.h"

namespace cgfw::testing {
namespace {

// Every cgroup.procs reachable through every cgroup2 mount (and /proc/1/root) gets the probe's
// pid; it must end in the cgroup it started in. The kernel refuses moves out of a cgroup
// namespace's root; the fresh cgroup2 mount shows nothing else to try.
TEST_F(Escape, RootCannotMoveItselfOutOfTheSandboxCgroup) {
  auto result = run_sandbox({}, probe({"cgroup-escape"}));
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(result.out.rfind("REFUSED cgroup-escape still=0::/ ", 0), 0u) << result.out;
  EXPECT_NE(result.out.find("written="), std::string::npos) << result.out;

  // The same from a new user namespace, where the probe is root with every capability.
  auto userns = run_sandbox({}, {"unshare", "--user", "--map-root-user", "--mount", "--cgroup",
                                 CGFW_ESCAPE_PROBE, "cgroup-escape"});
  ASSERT_EQ(userns.exit_status, 0) << userns.err;
  EXPECT_EQ(userns.out.rfind("REFUSED cgroup-escape", 0), 0u) << userns.out;
}

TEST_F(Escape, TheCgroupFilesystemAndProcShowOnlyTheSandbox) {
  auto result =
      run_sandbox({}, {"sh", "-c",
                       "cat /proc/self/cgroup | grep '^0::'; "
                       "mount=$(awk '$3 == \"cgroup2\" {print $2; exit}' /proc/mounts); "
                       "ls \"$mount\" | grep -c '^cgfw-' ; "
                       "ls /proc | grep -c '^[0-9]' ; cat /proc/1/cmdline | tr '\\0' ' '; echo"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  std::istringstream lines(result.out);
  std::string own_cgroup, sandboxes, processes, init;
  std::getline(lines, own_cgroup);
  std::getline(lines, sandboxes);
  std::getline(lines, processes);
  std::getline(lines, init);
  EXPECT_EQ(own_cgroup, "0::/");
  EXPECT_EQ(sandboxes, "0") << "other cgfw cgroups (and the sandbox's own name) are not visible";
  // cgfw-init, sh, ls, grep: the host's processes are not there.
  EXPECT_LE(std::stoi(processes), 6) << result.out;
  EXPECT_EQ(init.rfind("cgfw-init ", 0), 0u) << init;
}

// Pids outside do not exist inside: kill, and /proc/PID/root (which would lead into the host's
// mounts, around every masked socket), have nothing to aim at.
TEST_F(Escape, ProcessesOutsideCannotBeReached) {
  std::string outside = std::to_string(::getpid());
  auto result =
      run_sandbox({}, {"sh", "-c",
                       "ls /proc/" + outside +
                           "/root/ >/dev/null 2>&1 && echo reachable || echo "
                           "unreachable; kill -0 " +
                           outside + " 2>/dev/null && echo alive || echo no-such-process"});
  EXPECT_EQ(result.out, "unreachable\nno-such-process\n") << result.err;
}

// The files cgfw relies on cannot be changed from inside: the allow file it enforces, every run
// directory (trust bundles of this and other sandboxes). Root inside may write elsewhere.
TEST_F(Escape, AllowFilesAndRunDirectoriesAreReadOnlyInside) {
  TempDir dir;
  auto rules = dir.write("egress.txt", "198.51.100.10\n");
  ::chmod(dir.path().c_str(), 0755);
  auto result = run_sandbox({"-f", rules, "-a", "https://allowed.test/org/"},
                            {"sh", "-c",
                             "echo 0.0.0.0/0 >> " + rules +
                                 " 2>/dev/null && echo 'rules changed' || echo 'rules kept'; "
                                 "echo x > \"$(dirname \"$SSL_CERT_FILE\")/evil\" 2>/dev/null && "
                                 "echo 'run dir written' || "
                                 "echo 'run dir kept'; echo x > " +
                                 dir.file("other") + " && echo 'other files writable'"});
  EXPECT_EQ(result.out, "rules kept\nrun dir kept\nother files writable\n") << result.err;
  std::ifstream in(rules);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "198.51.100.10\n");
}

// No BPF object is reachable: not cgfw's programs and maps (no CAP_BPF/SYS_ADMIN to get them by
// id), not what other tools pinned (the bpf filesystem is an empty directory inside).
TEST_F(Escape, BpfObjectsAreOutOfReach) {
  auto result = run_sandbox(
      {}, {"sh", "-c",
           "bpftool map list >/dev/null 2>&1 && echo 'maps listed' || echo 'no maps'; "
           "bpftool prog list >/dev/null 2>&1 && echo 'programs listed' || echo 'no programs'; "
           "for m in $(awk '$3 == \"bpf\" {print $2}' /proc/mounts); do ls -A \"$m\"; done; "
           "echo end"});
  EXPECT_EQ(result.out, "no maps\nno programs\nend\n") << result.err;
}

}  // namespace
}  // namespace cgfw::testing
