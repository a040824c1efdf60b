// Containers started by a real OCI runtime (runc, as a container daemon would run it: outside
// the sandbox, below a runtime cgroup cgfw follows) stay inside the policy: their DNS and HTTPS
// go through cgfw's proxies at their gateway, TLS is intercepted with the run's CA mounted into
// the container, what the rules refuse never reaches the fake internet, and the report names
// the container. The container's network namespace, veth and runtime cgroup are made here.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"

namespace cgfw::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kNetns = "cgfwct";
constexpr const char* kGateway = "10.213.0.1";
constexpr const char* kRuntimeCgroup = "/cgfw-test-runtime";
// A slice shared with other services, as systemd's /system.slice: dockerd's systemd driver puts
// each container in docker-ID.scope there.
constexpr const char* kSlice = "/cgfw-test-slice";

// A busybox-free rootfs: the host's /usr, /etc and libraries bind-mounted read-only, so the
// container runs the host's real curl and sh.
json container_config(const std::vector<std::string>& command, const std::string& ca_bundle,
                      const std::string& id, const std::string& hook_socket,
                      const std::string& cgroup) {
  json mounts = json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"nosuid"}}},
  });
  for (const char* dir : {"/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64"})
    if (fs::exists(dir))
      mounts.push_back(
          {{"destination", dir}, {"type", "bind"}, {"source", dir}, {"options", {"rbind", "ro"}}});
  // The documented way to trust the run's CA: its bundle mounted, and the variable set.
  mounts.push_back({{"destination", "/cgfw/ca.pem"},
                    {"type", "bind"},
                    {"source", ca_bundle},
                    {"options", {"bind", "ro"}}});
  json config = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", command},
        {"env",
         {"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "SSL_CERT_FILE=/cgfw/ca.pem",
          "CURL_CA_BUNDLE=/cgfw/ca.pem"}},
        {"cwd", "/"},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", id},
      {"mounts", mounts},
      {"annotations",
       {{"cgfw.container.name", "web-" + id},
        {"org.opencontainers.image.ref.name", "cgfw-test:1"}}},
      {"linux",
       {{"namespaces",
         {{{"type", "pid"}},
          {{"type", "ipc"}},
          {{"type", "uts"}},
          {{"type", "mount"}},
          {{"type", "network"}, {"path", std::string("/run/netns/") + kNetns}}}},
        {"cgroupsPath", cgroup}}},
  };
  if (!hook_socket.empty())
    config["hooks"] = {
        {"createRuntime",
         {{{"path", CGFW_TOOL}, {"args", {"cgfw", "container-hook", "--socket", hook_socket}}}}}};
  return config;
}

class Containers : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "SKIPPED LOUDLY: container tests need root";
    if (run_command({"runc", "--version"}).exit_code != 0)
      FAIL() << "runc is not installed (.ci/install-deps installs it)";
    net_ = FakeInternet::up();
    ca_ = net_->state_dir() + "/ca.pem";
    teardown_network();
    auto sh = [](const std::string& script) {
      auto result = run_command({"sh", "-ec", script});
      ASSERT_EQ(result.exit_code, 0) << script << "\n" << result.err;
    };
    sh(std::string("ip netns add ") + kNetns);
    sh(std::string("ip link add cgfwct-h type veth peer name cgfwct-c netns ") + kNetns);
    sh(std::string("ip addr add ") + kGateway + "/30 dev cgfwct-h && ip link set cgfwct-h up");
    sh(std::string("ip -n ") + kNetns + " addr add 10.213.0.2/30 dev cgfwct-c && ip -n " + kNetns +
       " link set cgfwct-c up && ip -n " + kNetns + " link set lo up && ip -n " + kNetns +
       " route add default via " + kGateway);
    mount_ = cgroup2_mount();
    ASSERT_FALSE(mount_.empty());
    fs::create_directories(mount_ + kRuntimeCgroup);
    fs::create_directories(mount_ + kSlice);
    fs::create_directories(bundle_.file("rootfs"));
    for (const char* dir :
         {"proc", "dev", "tmp", "usr", "etc", "bin", "sbin", "lib", "lib64", "cgfw"})
      fs::create_directories(bundle_.file("rootfs/") + dir);
    std::ofstream(bundle_.file("rootfs/cgfw/ca.pem")).close();
  }
  void TearDown() override {
    for (const char* id : {"c1", "c2", "c3", "s1", "s2", "s3"})
      run_command({"runc", "delete", "--force", id});
    if (!mount_.empty() && fs::exists(mount_ + kSlice + "/before.service")) {
      std::ofstream(mount_ + kSlice + "/before.service/cgroup.kill") << "1" << std::endl;
      eventually([&] { return ::rmdir((mount_ + kSlice + "/before.service").c_str()) == 0; }, 10s);
    }
    teardown_network();
    // runc makes the runtime cgroup in every hierarchy of this host (v1 controllers too).
    std::ifstream mounts("/proc/mounts");
    for (std::string line; std::getline(mounts, line);) {
      std::istringstream fields(line);
      std::string source, target, type;
      fields >> source >> target >> type;
      if (type != "cgroup" && type != "cgroup2") continue;
      ::rmdir((target + kRuntimeCgroup).c_str());
      for (const char* id : {"s1", "s2", "s3"})
        ::rmdir((target + kSlice + "/docker-" + id + ".scope").c_str());
      ::rmdir((target + kSlice).c_str());
    }
  }
  static void teardown_network() {
    run_command({"ip", "link", "del", "cgfwct-h"});
    run_command({"ip", "netns", "del", kNetns});
  }

  // Starts the sandbox around a job that waits for `done`, and returns once it is ready.
  std::unique_ptr<SandboxProcess> start_sandbox(const std::vector<std::string>& more) {
    std::vector<std::string> args{"--dns-upstream", FakeInternet::kDnsV4, "--upstream-ca", ca_};
    if (in_slice_)
      args.insert(args.end(), {"--containers-slice", kSlice});
    else
      args.insert(args.end(), {"--containers-cgroup", kRuntimeCgroup});
    args.insert(args.end(), more.begin(), more.end());
    auto sandbox = std::make_unique<SandboxProcess>(
        args, std::vector<std::string>{"sh", "-c",
                                       "printf %s \"$SSL_CERT_FILE\" > " + job_.file("bundle") +
                                           "; for i in $(seq 600); do [ -e " + job_.file("done") +
                                           " ] && exit 0; sleep 0.1; done; exit 1"});
    EXPECT_TRUE(eventually(
        [&] { return fs::exists(job_.file("bundle")) && fs::file_size(job_.file("bundle")) > 0; },
        std::chrono::seconds(30)))
        << "the job never started";
    return sandbox;
  }
  std::string bundle_file() const {
    std::ifstream in(job_.file("bundle"));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static std::string control_socket() {
    for (const auto& entry : fs::directory_iterator("/run/cgfw"))
      if (fs::exists(entry.path() / "control.sock")) return (entry.path() / "control.sock");
    return "";
  }
  // Where runc puts container `id`: below the runtime cgroup, or a scope in the slice.
  std::string cgroup_of(const std::string& id) const {
    return in_slice_ ? std::string(kSlice) + "/docker-" + id + ".scope"
                     : std::string(kRuntimeCgroup) + "/" + id;
  }
  CommandResult run_container(const std::string& id, const std::string& script, bool with_hook) {
    std::ofstream(bundle_.file("config.json"))
        << container_config({"sh", "-c", script}, bundle_file(), id,
                            with_hook ? control_socket() : "", cgroup_of(id))
               .dump(2);
    return run_command({"timeout", "60", "runc", "run", "--bundle", bundle_.path(), id});
  }
  static const json* find_event(const json& report, const std::string& layer,
                                const std::string& domain, const std::string& decision) {
    for (const auto& event : report["events"])
      if (event["layer"] == layer && event.value("domain", "") == domain &&
          event["decision"] == decision)
        return &event;
    return nullptr;
  }

  // Without a hook: container `id`'s very first action, a connection no rule allows, never
  // leaves; its later attempts at an allowed name go through cgfw's proxies, and the report
  // names it by its cgroup (no hook, so no name).
  void expect_first_connect_refused_then_allowed(const std::string& id) {
    auto sandbox = start_sandbox({"-a", "allowed.test"});
    auto container = run_container(
        id,
        "curl -sS -m 5 -o /dev/null http://198.51.100.11:9000/; echo direct=$?; "
        "for i in $(seq 100); do "
        "  curl -sS -m 5 -o /dev/null http://allowed.test/ && { echo allowed=$i; exit 0; }; "
        "  sleep 0.1; "
        "done; echo allowed=never",
        /*with_hook=*/false);
    std::ofstream(job_.file("done")).close();
    auto result = sandbox->wait();
    ASSERT_EQ(container.exit_code, 0) << container.out << container.err;
    EXPECT_EQ(container.out.find("direct=0"), std::string::npos) << container.out;
    EXPECT_EQ(container.out.find("allowed=never"), std::string::npos)
        << container.out << container.err << result.err;
    EXPECT_TRUE(net_->hits(FakeInternet::kServerV4b, 9000).empty());
    ASSERT_TRUE(result.report);
    const json& report = *result.report;
    EXPECT_EQ(schema_errors(report), "");
    const json* looked_up = find_event(report, "dns", "allowed.test", "allowed");
    ASSERT_NE(looked_up, nullptr) << report["events"].dump(1);
    EXPECT_EQ(container_of(*looked_up).value("id", ""), id) << looked_up->dump(1);
    EXPECT_FALSE(container_of(*looked_up).contains("name")) << looked_up->dump(1);
  }

  // Container `id` runs detached when the runner is SIGKILLed: the watchdog stops it, then lets
  // the programs go from the runtime cgroup or slice (and everything below).
  void expect_killed_runner_stops_the_container(const std::string& id) {
    auto sandbox = start_sandbox({"-a", "198.51.100.10"});
    ASSERT_NO_FATAL_FAILURE(start_detached_container(id));
    ASSERT_EQ(container_status(id), "running");
    ::kill(sandbox->pid(), SIGKILL);
    auto result = sandbox->wait(30s);
    EXPECT_EQ(result.exit_status, 128 + SIGKILL);
    EXPECT_TRUE(eventually([&] { return container_status(id) == "stopped"; }, 30s))
        << "the container outlived the run: " << container_status(id);
    std::string root = mount_ + (in_slice_ ? kSlice : kRuntimeCgroup);
    auto attached = [&] {
      auto programs = run_command({"bpftool", "cgroup", "tree", root});
      return programs.out.find("cgfw_") != std::string::npos;
    };
    EXPECT_TRUE(eventually([&] { return !attached(); }, 30s)) << "the watchdog never let go";
  }

  // A container in the background, its first process looping (runc run --detach).
  void start_detached_container(const std::string& id) {
    std::ofstream(bundle_.file("config.json"))
        << container_config({"sh", "-c", "while :; do sleep 1; done"}, bundle_file(), id, "",
                            cgroup_of(id))
               .dump(2);
    auto started =
        run_command({"timeout", "60", "runc", "run", "--detach", "--bundle", bundle_.path(), id});
    ASSERT_EQ(started.exit_code, 0) << started.out << started.err;
  }
  // runc's word for the container's state: "running", "stopped", or "gone" once deleted.
  static std::string container_status(const std::string& id) {
    auto state = run_command({"runc", "state", id});
    if (state.exit_code != 0) return "gone";
    return json::parse(state.out, nullptr, false).value("status", std::string("unreadable"));
  }
  // The event's container, or an empty object (the report omits it when none was found).
  static json container_of(const json& event) {
    return event.value("process", json::object()).value("container", json::object());
  }

  std::unique_ptr<FakeInternet> net_;
  bool in_slice_ = false;  // --containers-slice instead of --containers-cgroup
  std::string ca_;
  std::string mount_;
  TempDir bundle_;
  TempDir job_;
};

TEST_F(Containers, ARuntimeHookAdmitsTheContainerBeforeItsFirstInstruction) {
  auto sandbox = start_sandbox({"-a", "https://allowed.test/"});
  // The container's very first actions: a name lookup and HTTPS through the proxies (verified
  // against the run's CA, mounted), a denied name, and an address no rule allows.
  auto container =
      run_container("c1",
                    "curl -sS -o /dev/null -w 'allowed=%{http_code}\\n' https://allowed.test/; "
                    "curl -sS -m 5 -o /dev/null https://evil.test/; echo evil=$?; "
                    "curl -sS -m 5 -o /dev/null http://198.51.100.11:9000/; echo direct=$?",
                    /*with_hook=*/true);
  std::ofstream(job_.file("done")).close();
  auto result = sandbox->wait();
  ASSERT_EQ(container.exit_code, 0) << container.out << container.err;
  EXPECT_NE(container.out.find("allowed=200"), std::string::npos) << container.out << container.err;
  EXPECT_EQ(container.out.find("evil=0"), std::string::npos) << container.out;
  EXPECT_EQ(container.out.find("direct=0"), std::string::npos) << container.out;

  // Nothing refused reached the fake internet.
  EXPECT_TRUE(net_->dns_queries_for("evil.test").empty());
  EXPECT_TRUE(net_->hits(FakeInternet::kServerV4b, 9000).empty());

  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.err.find("container c1 reaches cgfw's proxies at 10.213.0.1"), std::string::npos)
      << "the hook's admission: " << result.err;
  ASSERT_TRUE(result.report);
  const json& report = *result.report;
  EXPECT_EQ(schema_errors(report), "");
  // DNS went through the proxy, and the report names the container and its process.
  const json* looked_up = find_event(report, "dns", "allowed.test", "allowed");
  ASSERT_NE(looked_up, nullptr) << report["events"].dump(1);
  const json& process = (*looked_up)["process"];
  EXPECT_EQ(container_of(*looked_up).value("id", ""), "c1") << looked_up->dump(1);
  EXPECT_EQ(container_of(*looked_up).value("name", ""), "web-c1") << looked_up->dump(1);
  EXPECT_EQ(container_of(*looked_up).value("image", ""), "cgfw-test:1") << looked_up->dump(1);
  EXPECT_EQ(process.value("comm", ""), "curl");
  // The exec tracker follows the runtime's cgroup: the command line is the container's curl's.
  EXPECT_NE(process.value("cmdline", json::array()).dump().find("https://allowed.test/"),
            std::string::npos)
      << looked_up->dump(1);
  // TLS was intercepted: a URL rule applies, so the request itself is in the report.
  bool request_seen = false;
  for (const auto& event : report["events"])
    if (event["layer"] == "http" && event.value("url", "").starts_with("https://allowed.test/") &&
        event["decision"] == "allowed" && container_of(event).value("id", "") == "c1")
      request_seen = true;
  EXPECT_TRUE(request_seen) << report["events"].dump(1);
  const json* denied = find_event(report, "dns", "evil.test", "blocked");
  ASSERT_NE(denied, nullptr);
  EXPECT_EQ(container_of(*denied).value("id", ""), "c1") << denied->dump(1);
  bool direct_blocked = false;
  for (const auto& event : report["events"])
    if (event["layer"] == "packet" && event["ip"] == FakeInternet::kServerV4b &&
        event["port"] == 9000 && event["decision"] == "blocked" &&
        container_of(event).value("id", "") == "c1")
      direct_blocked = true;
  EXPECT_TRUE(direct_blocked) << report["events"].dump(1);
  // The blocked name was announced with the container.
  EXPECT_NE(result.err.find("in container web-c1"), std::string::npos) << result.err;

  // Cleanup: the runtime cgroup carries no program of the run any more.
  auto programs = run_command({"bpftool", "cgroup", "show", mount_ + kRuntimeCgroup});
  EXPECT_EQ(programs.out.find("cgfw_"), std::string::npos) << programs.out;
}

// Without a hook, nothing slips through before cgfw knows the container's namespace: a container
// whose very first action is to connect is refused (never sent where no proxy judges it), and
// once its namespace is admitted (cgfw saw the refusal) its next attempts get through.
TEST_F(Containers, WithoutAHookNothingPassesBeforeTheNamespaceIsAdmitted) {
  ASSERT_NO_FATAL_FAILURE(expect_first_connect_refused_then_allowed("c2"));
}

// Fail closed reaches the followed runtime cgroup: when the runner is killed, the watchdog locks
// the programs down and kills the containers below it with the job, before the programs go;
// they are never left running with the programs detached. The runtime's cgroup itself stays.
TEST_F(Containers, AKilledRunnerTakesTheFollowedContainersDownWithTheJob) {
  ASSERT_NO_FATAL_FAILURE(expect_killed_runner_stops_the_container("c3"));
  EXPECT_TRUE(fs::exists(mount_ + kRuntimeCgroup)) << "the runtime's cgroup is not cgfw's";
}

// A container the build started in the background (`docker run -d`) would otherwise run on
// unpoliced once the run ends and the programs go: it is stopped with the job's leftovers.
TEST_F(Containers, AContainerOutlivingTheJobIsStoppedWithIt) {
  auto sandbox = start_sandbox({"-a", "198.51.100.10"});
  ASSERT_NO_FATAL_FAILURE(start_detached_container("c3"));
  ASSERT_EQ(container_status("c3"), "running");
  std::ofstream(job_.file("done")).close();
  auto result = sandbox->wait();
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(container_status("c3"), "stopped") << "the container outlived the run";
  auto programs = run_command({"bpftool", "cgroup", "show", mount_ + kRuntimeCgroup});
  EXPECT_EQ(programs.out.find("cgfw_"), std::string::npos) << programs.out;
}

// dockerd's systemd driver: containers are scopes in a slice shared with every service
// (/system.slice). With --containers-slice, a container scope created during the run is policed
// like the job (here with the runtime hook, before its first instruction), while a service that
// was in the slice before goes on unpoliced.
TEST_F(Containers, InASharedSliceTheNewContainerScopesArePolicedAndTheServicesLeftAlone) {
  in_slice_ = true;
  std::string service = mount_ + kSlice + "/before.service";
  fs::create_directories(service);
  auto from_service = [&](const std::string& ip) {
    return run_command({"sh", "-c",
                        "echo $$ > " + service + "/cgroup.procs && exec " + CGFW_ESCAPE_PROBE +
                            " tcp-connect " + ip + " 9000"});
  };
  auto sandbox = start_sandbox({"-a", "https://allowed.test/"});
  auto container =
      run_container("s1",
                    "curl -sS -o /dev/null -w 'allowed=%{http_code}\\n' https://allowed.test/; "
                    "curl -sS -m 5 -o /dev/null http://198.51.100.11:9000/; echo direct=$?",
                    /*with_hook=*/true);
  auto service_probe = from_service(FakeInternet::kServerV4b);
  std::ofstream(job_.file("done")).close();
  auto result = sandbox->wait();
  ASSERT_EQ(container.exit_code, 0) << container.out << container.err;
  EXPECT_NE(container.out.find("allowed=200"), std::string::npos) << container.out << container.err;
  EXPECT_EQ(container.out.find("direct=0"), std::string::npos) << container.out;
  EXPECT_EQ(service_probe.out.rfind("OK connected", 0), 0u)
      << "a service that was there before is not cgfw's: " << service_probe.out
      << service_probe.err;
  // The container's refused connection never left; the service's did.
  EXPECT_TRUE(net_->wait_for_hits(FakeInternet::kServerV4b, 9000, 1, 10s));
  EXPECT_EQ(net_->hits(FakeInternet::kServerV4b, 9000).size(), 1u)
      << "only the service's connection";

  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.err.find("following the container scope"), std::string::npos) << result.err;
  ASSERT_TRUE(result.report);
  const json& report = *result.report;
  EXPECT_EQ(schema_errors(report), "");
  const json* looked_up = find_event(report, "dns", "allowed.test", "allowed");
  ASSERT_NE(looked_up, nullptr) << report["events"].dump(1);
  EXPECT_EQ(container_of(*looked_up).value("id", ""), "s1") << looked_up->dump(1);
  EXPECT_EQ(container_of(*looked_up).value("name", ""), "web-s1") << looked_up->dump(1);
  // Cleanup: neither the slice nor the service carries a program of the run any more.
  auto programs = run_command({"bpftool", "cgroup", "tree", mount_ + kSlice});
  EXPECT_EQ(programs.out.find("cgfw_"), std::string::npos) << programs.out;
}

// Without a hook: the scope is found by inotify; until it is followed, the slice guard drops its
// packets, so a container whose very first action is to connect never gets anything out
// unjudged, and its later attempts go through cgfw's programs.
TEST_F(Containers, InASharedSliceNothingLeavesAContainerScopeBeforeItIsFollowed) {
  in_slice_ = true;
  ASSERT_NO_FATAL_FAILURE(expect_first_connect_refused_then_allowed("s2"));
}

// The runner killed: the scope's own links were the runner's; the guard (held by the watchdog)
// drops its packets under lockdown, and the watchdog stops the container before letting go. The
// service in the slice is left running.
TEST_F(Containers, InASharedSliceAKilledRunnerTakesTheFollowedContainersDown) {
  in_slice_ = true;
  std::string service = mount_ + kSlice + "/before.service";
  fs::create_directories(service);
  ASSERT_NO_FATAL_FAILURE(expect_killed_runner_stops_the_container("s3"));
  EXPECT_TRUE(fs::exists(service)) << "the slice's services are not cgfw's";
}

}  // namespace
}  // namespace cgfw::testing
