// Failing closed: when cgfw cannot do its job (a kernel map is full, its event ring buffer is
// full, the runner itself is SIGKILLed at any moment) the sandboxed processes lose the network
// or die; they never gain it. And what could not be done is reported where a report is possible.
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/security/escape_fixture.h"

namespace cgfw::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Entries of `directory` whose name starts with `prefix`.
std::vector<std::string> entries_starting_with(const std::string& directory,
                                               const std::string& prefix) {
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error))
    if (entry.path().filename().string().rfind(prefix, 0) == 0) found.push_back(entry.path());
  return found;
}

// BPF links of cgfw's programs whose cgroup no longer exists: held past their run by someone.
// (A cgroup v2 directory's inode number is its cgroup id.)
std::vector<std::string> links_on_dead_cgroups() {
  std::set<std::uint64_t> live;
  std::error_code error;
  for (auto it = std::filesystem::recursive_directory_iterator(cgroup2_mount(), error);
       it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    struct stat info {};
    if (it->is_directory(error) && ::stat(it->path().c_str(), &info) == 0) live.insert(info.st_ino);
  }
  auto programs = run_command({"bpftool", "-j", "prog", "show"});
  auto links = run_command({"bpftool", "-j", "link", "show"});
  if (programs.exit_code != 0 || links.exit_code != 0)
    return {"bpftool failed: " + programs.err + links.err};
  std::set<std::uint64_t> ours;
  for (const auto& program : json::parse(programs.out))
    if (program.value("name", "").rfind("cgfw_", 0) == 0)
      ours.insert(program["id"].get<std::uint64_t>());
  std::vector<std::string> leaked;
  for (const auto& link : json::parse(links.out)) {
    if (!link.contains("cgroup_id") || !ours.count(link.value("prog_id", 0ULL))) continue;
    if (!live.count(link["cgroup_id"].get<std::uint64_t>())) leaked.push_back(link.dump());
  }
  return leaked;
}

// The learned-address map is full: the answer that needs one more address fails (SERVFAIL), the
// address stays closed, and the report says why. Addresses already learned keep working.
TEST_F(Escape, FullLearnedAddressMapFailsTheAnswerAndTheAddressStaysClosed) {
  auto result =
      run_sandbox({"--max-learned-addresses", "1", "--dns-upstream", FakeInternet::kDnsV4, "-a",
                   "*.allowed.test:9000"},
                  {"sh", "-c",
                   "getent ahostsv4 x.allowed.test | head -1; "
                   "getent ahostsv4 y.allowed.test || echo 'y: no answer'; " +
                       std::string(CGFW_ESCAPE_PROBE) + " tcp-connect 198.51.100.11 9000; " +
                       CGFW_ESCAPE_PROBE + " tcp-connect 198.51.100.10 9000"});
  EXPECT_EQ(result.out.rfind("198.51.100.10   STREAM x.allowed.test\ny: no answer\n"
                             "REFUSED connect EPERM Operation not permitted\nOK connected",
                             0),
            0u)
      << result.out << result.err;
  expect_nothing_reached(FakeInternet::kServerV4);
  ASSERT_TRUE(result.report);
  bool said_why = false;
  for (const auto& event : (*result.report)["events"])
    if (event["layer"] == "dns" && event.value("domain", "") == "y.allowed.test")
      said_why |= event.value("reason", "").find("learned addresses is full") != std::string::npos;
  EXPECT_TRUE(said_why) << result.report->dump(2);
  EXPECT_FALSE(blocked(*result.report, "198.51.100.11", 9000).empty());
}

// The ring buffer of flow events is full (here: its reader, the runner, is stopped while the job
// opens 16,000 flows). In audit mode a flow the rules do not allow passes only once it is on
// record, so one that cannot be recorded is dropped, and the report counts what was lost; a flow
// the rules allow passes anyway, counted as unrecorded. Once the runner reads again (it first
// drains what filled the buffer, so the job retries), the dropped destination passes.
TEST_F(Escape, FullEventRingBufferDropsWhatItCannotRecord) {
  TempDir dir;
  std::string stopped = dir.file("runner-stopped"), resumed = dir.file("runner-resumed");
  // Every send to a flow the egress program drops fails with EPERM: counted, not fatal.
  std::string script = R"(
import os, socket, sys, time
def wait_for(path):
    for _ in range(3000):
        if os.path.exists(path): return
        time.sleep(0.01)
    sys.exit('timed out waiting for ' + path)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def send(data, to):
    try:
        s.sendto(data, to)
        return 0
    except PermissionError:
        return 1
print('ready', file=sys.stderr, flush=True)
wait_for(sys.argv[1])
dropped = sum(send(b'filler', ('203.0.113.11', port)) for port in range(20000, 36000))
last = send(sys.argv[3].encode() + b' while full', ('198.51.100.10', 9999))
allowed = send(b'allowed while full', ('198.51.100.11', 9999))
print('sent, dropped', dropped, last, allowed, flush=True)
print('sent', file=sys.stderr, flush=True)
wait_for(sys.argv[2])
# The runner drains what filled the buffer first: until it has, this is dropped like the rest.
for _ in range(500):
    if send(b'recorded again', ('198.51.100.10', 9999)) == 0: break
    time.sleep(0.01)
)";
  SandboxProcess sandbox(
      {"--audit", "-q", "--dns-upstream", FakeInternet::kDnsV4, "-a", "198.51.100.11:9999/udp"},
      {"python3", "-c", script, stopped, resumed, kProbePayload});
  ASSERT_TRUE(sandbox.wait_for_stderr("ready", 20s));
  ASSERT_EQ(::kill(sandbox.pid(), SIGSTOP), 0);
  std::ofstream(stopped).put('\n');
  bool sent = sandbox.wait_for_stderr("sent", 60s);
  ::kill(sandbox.pid(), SIGCONT);
  if (!sent) {
    auto failed = sandbox.wait(30s);
    FAIL() << "the job never sent: " << failed.out << failed.err;
  }
  std::ofstream(resumed).put('\n');
  auto result = sandbox.wait(60s);
  ASSERT_EQ(result.exit_status, 0) << result.err;
  // Some fillers passed (recorded while the buffer had room), the rest and the last were dropped.
  int dropped = 0, last = 0, allowed = 0;
  ASSERT_EQ(std::sscanf(result.out.c_str(), "sent, dropped %d %d %d", &dropped, &last, &allowed), 3)
      << result.out;
  EXPECT_GT(dropped, 0);
  EXPECT_LT(dropped, 16000);
  EXPECT_EQ(last, 1) << "the datagram sent while the buffer was full was dropped";
  EXPECT_EQ(allowed, 0) << "a datagram the rules allow passes even while the buffer is full";
  EXPECT_TRUE(
      eventually([&] { return !net_->hits(FakeInternet::kServerV4b, 9999, "udp").empty(); }, 5s));

  // Bounded: the sink logs a datagram as it arrives.
  eventually([&] { return !net_->hits(FakeInternet::kServerV4, 9999, "udp").empty(); }, 5s);
  auto hits = net_->hits(FakeInternet::kServerV4, 9999, "udp");
  ASSERT_EQ(hits.size(), 1u) << "only the datagram sent after the runner resumed";
  EXPECT_NE(hits[0].dump().find("recorded again"), std::string::npos) << hits[0].dump();
  expect_nothing_reached(FakeInternet::kServerV4b);

  ASSERT_TRUE(result.report);
  auto lost = (*result.report)["summary"]["kernel"]["events_lost"].get<std::uint64_t>();
  EXPECT_GT(lost, 0u);
  EXPECT_GT((*result.report)["summary"]["kernel"]["allowed_unrecorded"].get<std::uint64_t>(), 0u);
  bool warned = false;
  for (const auto& warning : (*result.report)["warnings"])
    warned |= warning.get<std::string>().find("ring buffer full") != std::string::npos;
  EXPECT_TRUE(warned) << (*result.report)["warnings"].dump();
}

// The runner is SIGKILLed at a sweep of moments through start-up (loading, attaching, starting
// the job) and through teardown. Whatever the moment: no process of the job survives (so none
// runs with the programs gone), the blocked destination was never reached, no link of cgfw's
// programs outlives its cgroup, and the next run works and clears the leftovers of a runner
// killed before its watchdog was up (an empty cgroup, the run directory).
TEST_F(Escape, RunnerKilledAtAnyMomentLeavesNothingBehind) {
  std::string marker = "runner-kill-sweep-" + std::to_string(::getpid());
  std::string loop = ": " + marker + "; for i in $(seq 300); do " + CGFW_ESCAPE_PROBE +
                     " tcp-connect 198.51.100.11 9000 >/dev/null; done";
  std::vector<pid_t> runners;
  auto check_after_kill = [&](SandboxProcess& sandbox, const std::string& moment) {
    ::kill(sandbox.pid(), SIGKILL);
    sandbox.wait(30s);
    runners.push_back(sandbox.pid());
    EXPECT_TRUE(eventually([&] { return running_processes_with(marker).empty(); }, 15s))
        << moment << ": the job survived its runner";
    EXPECT_TRUE(eventually([&] { return links_on_dead_cgroups().empty(); }, 15s))
        << moment << ": " << ::testing::PrintToString(links_on_dead_cgroups());
  };
  // Start-up: from before the programs load to after the job runs (loading takes ~0.5 s).
  for (int delay_ms : {0, 10, 30, 60, 100, 150, 200, 300, 400, 500, 700, 1000}) {
    SandboxProcess sandbox({"-a", "198.51.100.10:9000"}, {"sh", "-c", loop}, false);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    check_after_kill(sandbox, "killed " + std::to_string(delay_ms) + " ms after start");
  }
  // Teardown: the job blocks once and exits; the runner is killed while it ends the run.
  for (int delay_ms : {0, 1, 2, 5, 10, 20, 40}) {
    SandboxProcess sandbox(
        {"-a", "198.51.100.10:9000"},
        {"sh", "-c", ": " + marker + "; " + CGFW_ESCAPE_PROBE + " tcp-connect 198.51.100.11 9000"},
        false);
    ASSERT_TRUE(sandbox.wait_for_stderr("cgfw: blocked", 20s));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    check_after_kill(sandbox, "killed " + std::to_string(delay_ms) + " ms into teardown");
  }
  expect_nothing_reached();

  // The next run works, and sweeps what a runner killed before its watchdog left.
  auto next = run_sandbox({"-a", "198.51.100.10:9000"},
                          {CGFW_ESCAPE_PROBE, "tcp-connect", "198.51.100.10", "9000"});
  EXPECT_EQ(next.exit_status, 0) << next.err;
  EXPECT_EQ(next.out.rfind("OK connected", 0), 0u) << next.out;
  for (pid_t runner : runners) {
    std::string id = std::to_string(runner);
    EXPECT_TRUE(entries_starting_with(cgroup2_mount(), "cgfw-" + id + "-").empty()) << id;
    EXPECT_TRUE(entries_starting_with("/run/cgfw", "run-" + id + "-").empty()) << id;
  }
}

}  // namespace
}  // namespace cgfw::testing
