#include "runner/supervisor.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>

#include <spdlog/spdlog.h>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>

#include "ca/run_ca.h"
#include "policy/parser.h"
#include "proxy/dns/dns_proxy.h"
#include "proxy/tls/web_proxy.h"
#include "reports/journal.h"
#include "reports/json_report.h"
#include "runner/announcer.h"
#include "runner/attach.h"
#include "runner/cgroup.h"
#include "runner/cgroup_path.h"
#include "runner/child.h"
#include "runner/container_identity.h"
#include "runner/container_networks.h"
#include "runner/container_slice.h"
#include "runner/control_commands.h"
#include "runner/control_socket.h"
#include "runner/data_plane.h"
#include "runner/egress_filter_export.h"
#include "runner/exec_tracker.h"
#include "runner/flow_events.h"
#include "runner/ip_allow_table.h"
#include "runner/live_policy.h"
#include "runner/policy_loading.h"
#include "runner/process_info.h"
#include "runner/report_outputs.h"
#include "runner/run_directory.h"
#include "runner/run_loop.h"
#include "runner/sd_notify.h"
#include "runner/target_cgroup.h"
#include "runner/unix_trap.h"
#include "runner/watchdog.h"

namespace cgfw::runner {
namespace {

constexpr auto kKillLimit = std::chrono::seconds(10);
constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

// A startup error: logged as one sentence, exit 125.
int fail(const std::string& message) {
  spdlog::error("{}", message);
  return kExitCgfwFailed;
}

// The kernel's learned maps, reachable by the DNS proxy, which must exist (its ports) before the
// data plane does.
struct KernelMapHandle : dns::KernelAllowMap {
  DataPlane* plane = nullptr;
  Status put(int family, const dns::Address& address, const cgfw_port_set& ports) override {
    if (!plane) return make_error("the kernel data plane is not loaded yet");
    return plane->put(family, address, ports);
  }
  void remove(int family, const dns::Address& address) override {
    if (plane) plane->remove(family, address);
  }
};

}  // namespace

int run_sandbox(const Options& options) {
  auto started_at = std::chrono::system_clock::now();
  if (::geteuid() != 0)
    return fail(
        "cgfw-sandbox must run as root: it loads eBPF programs and creates a cgroup. Run it "
        "with sudo; the command itself runs as the invoking user.");

  // The proxies hold two descriptors per connection: a build's thousand parallel downloads must
  // not meet a soft limit of 1024.
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }

  auto policy = load_policy(options);
  if (!policy) return fail(policy.error().message);
  if (options.export_egress_filter) {
    auto exported =
        export_egress_filter(*policy, *options.export_egress_filter, options.replace_export);
    if (!exported) return fail(exported.error().message);
    spdlog::info("pinned the egress filter at {}: use it with IPEgressFilterPath={}",
                 *options.export_egress_filter, *options.export_egress_filter);
    return 0;
  }
  std::vector<std::string> warnings;
  if (policy->default_allow && options.inspect)
    return fail(
        "--inspect intercepts every allowed TLS host, and with deny rules only every host is "
        "allowed: the run's CA would have to sign for every name. Give allow rules, or leave "
        "--inspect out (deny URL rules are looked into anyway)");
  if (policy->default_allow) {
    std::string warning =
        "only deny rules were given: everything they do not deny is allowed (TCP and UDP)";
    spdlog::warn("{}", warning);
    warnings.push_back(warning);
  } else if (!options.audit && policy->empty()) {
    std::string warning = "the allow list is empty: in block mode nothing outbound is allowed" +
                          std::string(options.no_loopback ? "" : " (loopback aside)");
    spdlog::warn("{}", warning);
    warnings.push_back(warning);
  }
  auto credentials = resolve_credentials(options.user);
  if (!credentials) return fail(credentials.error().message);

  auto table = build_ip_allow_table(*policy);
  if (!table) return fail(table.error().message);
  auto deny_table = build_ip_table(*policy, policy::Effect::deny);
  if (!deny_table) return fail(deny_table.error().message);

  auto mount = find_cgroup2_mount();
  if (!mount) return fail(mount.error().message);
  sweep_stale_cgroups(*mount);
  RunDirectory::sweep_stale();

  // `cgfw attach`: the cgroup to police exists already. cgfw leaves it first if it was started
  // inside it (a unit's ExecStartPre=): it must never police itself.
  std::optional<TargetCgroup> target;
  if (options.attaches_to_existing_cgroup()) {
    Result<std::string> path = options.attach_cgroup ? Result<std::string>(*options.attach_cgroup)
                               : options.attach_unit
                                   ? find_unit_cgroup(*mount, *options.attach_unit)
                                   : cgroup_of_process(*options.attach_cgroup_of, *mount);
    if (!path) return fail(path.error().message);
    auto opened = open_target_cgroup(*mount, *path);
    if (!opened) return fail(opened.error().message);
    target = std::move(*opened);
    auto left = leave_target_cgroup(*mount, target->path);
    if (!left) return fail(left.error().message);
    if (*left)
      spdlog::info("cgfw was started inside {}, which it polices: it moved itself to {}",
                   target->path, *mount);
  }

  // One loop for everything: the DNS proxy's sockets, c-ares, flow events, signals, the child.
  // Created before any fork; the children close its fds (close_range) and never use it.
  asio::io_context io;
  reports::Journal journal;
  ProcessAttributor processes(::getpid());
  Announcer announcer(options.verbosity == Verbosity::quiet);
  // Containers: their cgroups (named by a runtime hook, or below a followed runtime cgroup).
  std::vector<TargetCgroup> runtime_cgroups;
  for (const auto& path : options.containers_cgroups) {
    auto opened = open_target_cgroup(*mount, path);
    if (!opened) return fail("--containers-cgroup: " + opened.error().message);
    runtime_cgroups.push_back(std::move(*opened));
  }
  std::vector<std::string> followed_paths;
  std::vector<int> followed_fds;
  for (const auto& runtime : runtime_cgroups) {
    followed_paths.push_back(runtime.path);
    followed_fds.push_back(runtime.fd.get());
  }
  // A slice shared with strangers: only its container scopes created during the run are
  // followed (SliceFollower); the registry names them by their scope.
  std::optional<TargetCgroup> slice;
  if (options.containers_slice) {
    auto opened = open_target_cgroup(*mount, *options.containers_slice);
    if (!opened) return fail("--containers-slice: " + opened.error().message);
    slice = std::move(*opened);
  }
  std::vector<std::string> registry_roots = followed_paths;
  if (slice) registry_roots.push_back(slice->path);
  ContainerRegistry container_registry(registry_roots);
  bool containers_seen = !registry_roots.empty();
  auto record = [&](reports::Event event) {
    if (containers_seen && !event.process.container) {
      // The cgroup the kernel saw at the socket call: the process may have exited since.
      if (event.process.cgroup_id != 0) {
        event.process.container = container_registry.find(
            event.process.cgroup_id,
            [&](std::uint64_t id) { return cgroup_path_of_id(*mount, id); });
      } else if (event.process.pid > 0) {
        if (auto where = cgroup_of_process(event.process.pid, *mount))
          event.process.container = container_registry.find(*where);
      }
    }
    announcer.on_event(event);
    journal.record(std::move(event));
  };

  // A sandboxed socket that reached a proxy's port itself, not through a redirect: the proxy has
  // no original destination to judge, so it refuses; the report names the attempt.
  auto refuse_direct = [&](const cgfw_proxy_client& client, const char* protocol,
                           const char* proxy) {
    reports::Event event;
    event.time = std::chrono::system_clock::now();
    event.decision = reports::Decision::blocked;
    event.would_block = policy->audit;
    event.protocol = protocol;
    event.ip = address_text(client.original.family, client.original.addr);
    event.port = client.original.port;
    event.reason = std::string("connected to cgfw's ") + proxy +
                   " directly instead of through the sandbox's redirect; refused";
    event.process =
        processes.describe(static_cast<int>(client.tgid),
                           std::string(client.comm, strnlen(client.comm, sizeof(client.comm))));
    event.process.cgroup_id = client.cgroup_id;
    record(event);
  };

  // The DNS proxy binds first: its ports go into the programs' rodata.
  KernelMapHandle kernel_map;
  DataPlane* plane_for_proxy = nullptr;
  dns::DnsProxyConfig dns_config;
  dns_config.policy.block_rcode =
      options.dns_block_rcode == "refused" ? dns::Rcode::refused : dns::Rcode::nxdomain;
  dns_config.upstream.servers = options.dns_upstreams;
  dns_config.minimum_lifetime = std::chrono::seconds(options.dns_min_ttl);
  FlowEventTranslator* translator_ptr = nullptr;
  dns::DnsProxyHooks hooks;
  hooks.identify = [&](int family, const dns::Address& address, std::uint16_t port,
                       int protocol) -> std::optional<dns::ClientInfo> {
    if (!plane_for_proxy) return std::nullopt;
    auto client = plane_for_proxy->proxy_client(family, address, port, protocol);
    if (!client) return std::nullopt;
    dns::ClientInfo info;
    info.tgid = client->tgid;
    info.comm.assign(client->comm, strnlen(client->comm, sizeof(client->comm)));
    info.cgroup_id = client->cgroup_id;
    info.redirected = client->original.port == 53;
    info.resolver_family = client->original.family;
    std::memcpy(info.resolver.data(), client->original.addr, 16);
    // A socket of the sandbox that reached the proxy's port directly was not redirected: the
    // proxy only answers what the kernel sent it.
    if (!info.redirected) {
      refuse_direct(*client, protocol == IPPROTO_TCP ? "tcp" : "udp", "DNS proxy");
      return std::nullopt;
    }
    return info;
  };
  hooks.observe = [&](const dns::DnsObservation& observation) {
    if (translator_ptr) record(translator_ptr->translate(observation));
  };
  auto dns_proxy = dns::DnsProxy::make(io, dns_config, *policy, kernel_map, hooks);
  if (!dns_proxy) return fail(dns_proxy.error().message);
  std::string upstreams;
  for (const auto& server : (*dns_proxy)->upstream_servers())
    upstreams += (upstreams.empty() ? "" : ", ") + server;
  spdlog::debug("DNS proxy on 127.0.0.1:{} and [::1]:{}, upstream {}", (*dns_proxy)->port4(),
                (*dns_proxy)->port6(), upstreams);

  // The web proxy: TCP to HTTP and TLS ports. Its ports go into the rodata too.
  tls::WebProxyConfig web_config;
  web_config.inspect_all = options.inspect;
  web_config.upstream_ca_files = options.upstream_cas;
  for (int port : options.tls_ports) web_config.tls_ports.insert(static_cast<std::uint16_t>(port));
  for (int port : options.http_ports)
    web_config.http_ports.insert(static_cast<std::uint16_t>(port));
  for (auto port : web_config.tls_ports) {
    if (web_config.http_ports.count(port))
      return fail("port " + std::to_string(port) + " is given both as --http-port and --tls-port");
  }
  tls::WebProxyHooks web_hooks;
  web_hooks.identify = [&](int family, const dns::Address& address,
                           std::uint16_t port) -> std::optional<tls::WebClient> {
    if (!plane_for_proxy) return std::nullopt;
    auto client = plane_for_proxy->proxy_client(family, address, port, IPPROTO_TCP);
    if (!client) return std::nullopt;
    std::uint16_t original_port = client->original.port;
    if (!web_config.tls_ports.count(original_port) && !web_config.http_ports.count(original_port)) {
      refuse_direct(*client, "tcp", "web proxy");
      return std::nullopt;
    }
    tls::WebClient info;
    info.tgid = client->tgid;
    info.comm.assign(client->comm, strnlen(client->comm, sizeof(client->comm)));
    info.cgroup_id = client->cgroup_id;
    info.original.family = client->original.family;
    std::memcpy(info.original.address.data(), client->original.addr, 16);
    info.original.port = original_port;
    return info;
  };
  web_hooks.observe = [&](const tls::WebObservation& observation) {
    if (translator_ptr) record(translator_ptr->translate(observation));
  };
  auto web_proxy = tls::WebProxy::make(io, web_config, *policy, (*dns_proxy)->learned(), web_hooks);
  if (!web_proxy) return fail(web_proxy.error().message);
  spdlog::debug("web proxy on 127.0.0.1:{}", (*web_proxy)->port4());

  // The run's CA, when anything will be intercepted: URL rules, or --inspect. Its key stays in
  // this process; the job gets a trust bundle (system roots + the run CA) and the variables that
  // make common tools use it.
  // The run's directory: the trust bundle when there is a CA, the unix socket traps.
  std::unique_ptr<ca::RunCa> run_ca;
  std::optional<ca::CaOptions> ca_bounds;  // what the CA may sign for: URL rules added later too
  auto made_dir = RunDirectory::make();
  if (!made_dir) return fail(made_dir.error().message);
  std::unique_ptr<RunDirectory> run_dir = std::move(*made_dir);
  std::vector<std::string> job_env;
  bool has_url_rules = std::any_of(policy->rules.begin(), policy->rules.end(),
                                   [](const auto& r) { return r.kind == policy::RuleKind::url; });
  if (has_url_rules || options.inspect) {
    // Block mode: the CA can only ever sign for names the rules allow (name constraints).
    ca::CaOptions& ca_options =
        ca_bounds.emplace(options.audit ? ca::CaOptions{} : ca::constraints_from(*policy));
    if (options.inspect && !options.audit) {
      for (const auto& rule : policy->rules)
        if (policy::in_force(rule, policy::Effect::allow) &&
            (rule.kind == policy::RuleKind::domain || rule.kind == policy::RuleKind::wildcard))
          ca_options.permitted_dns.push_back(rule.domain);
    }
    auto made = ca::RunCa::make(ca_options);
    if (!made) return fail("cannot create the run's CA: " + made.error().message);
    run_ca = std::move(*made);
    auto bundle = run_ca->write_trust_bundle(run_dir->path());
    if (!bundle) return fail(bundle.error().message);
    for (const auto& [name, value] : ca::job_environment(*bundle))
      job_env.push_back(name + "=" + value);
    // Debian's wget (GnuTLS) reads none of those variables; a wgetrc naming the bundle does.
    std::string wgetrc = run_dir->path() + "/wgetrc";
    if (FILE* file = std::fopen(wgetrc.c_str(), "w")) {
      std::fprintf(file, "ca_certificate = %s\n", bundle->bundle_file.c_str());
      std::fclose(file);
      ::chmod(wgetrc.c_str(), 0644);
      job_env.push_back("WGETRC=" + wgetrc);
    }
    (*web_proxy)->set_ca(run_ca.get());
    spdlog::debug("run CA ready; trust bundle {}", bundle->bundle_file);
  }

  DataPlaneConfig config;
  config.audit_mode = policy->audit;
  config.police_loopback = options.no_loopback;
  config.default_allow = policy->default_allow;
  config.ip_entries = table->size();
  config.deny_entries = deny_table->size();
  config.dns_port4 = (*dns_proxy)->port4();
  config.dns_port6 = (*dns_proxy)->port6();
  config.web_port4 = (*web_proxy)->port4();
  config.web_port6 = (*web_proxy)->port6();
  auto home_netns = current_netns_cookie();
  if (!home_netns) return fail(home_netns.error().message);
  config.home_netns = *home_netns;
  config.learned_entries = static_cast<std::uint32_t>(options.max_learned_addresses);
  config.police_devices = !options.allow_privileged;
  if (slice) config.slice_child_level = cgroup_level(*mount, slice->path) + 1;
  auto plane = DataPlane::make(config);
  if (!plane) return fail(plane.error().message);
  if (auto filled = (*plane)->fill_ip_allow(*table); !filled) return fail(filled.error().message);
  if (auto filled = (*plane)->fill_ip_deny(*deny_table); !filled)
    return fail(filled.error().message);
  if (auto filled = (*plane)->fill_redirect_ports(web_config.http_ports, web_config.tls_ports);
      !filled)
    return fail(filled.error().message);
  kernel_map.plane = plane->get();
  plane_for_proxy = plane->get();

  auto& learned = (*dns_proxy)->learned();
  FlowEventTranslator translator(*policy, processes,
                                 [&learned](int family, const dns::Address& address) {
                                   return learned.name_of(family, address);
                                 });
  translator_ptr = &translator;
  // Containers' own network namespaces reach the proxies at their gateway once admitted: by a
  // runtime hook (before the container's first instruction), else when one of its processes
  // execs or is refused for want of a proxy address (docs/containers.md).
  ContainerNetworks container_networks(
      **plane, *home_netns, [&](const std::string& address) -> Status {
        if (auto listened = (*dns_proxy)->listen_also(address); !listened) return listened;
        return (*web_proxy)->listen_also(address);
      });
  std::set<std::uint64_t> netns_failed;  // namespaces that could not be admitted: said once
  auto admit_netns = [&](int pid, const char* why) -> Result<ContainerNetworks::Admitted> {
    auto admitted = container_networks.admit(pid);
    if (!admitted) {
      auto netns = netns_cookie_of(pid);
      if (!netns || netns_failed.insert(*netns).second) {
        std::string warning = "a container's network (pid " + std::to_string(pid) +
                              ") was not admitted: " + admitted.error().message;
        spdlog::warn("{}", warning);
        warnings.push_back(warning);
      }
      return admitted;
    }
    if (admitted->newly) {
      containers_seen = true;
      spdlog::info(
          "admitted the network namespace of pid {} ({}): its DNS and web traffic "
          "reach cgfw's proxies at {}",
          pid, why, admitted->gateway);
    }
    return admitted;
  };
  auto opened = (*plane)->open_events([&](const cgfw_flow_event& raw) {
    // Refused for want of a proxy address: admitted now, so its next attempt gets through.
    if (raw.reason == CGFW_REASON_NETNS && options.follow_containers && raw.tgid > 0)
      (void)admit_netns(static_cast<int>(raw.tgid), "refused before");
    record(translator.translate(raw));
  });
  if (!opened) return fail(opened.error().message);

  // The cgroup the programs go on: the run's own (created here, emptied and removed at the end),
  // or the attach target (left as it was found).
  std::unique_ptr<TransientCgroup> transient;
  if (!target) {
    auto made = TransientCgroup::make(*mount);
    if (!made) return fail(made.error().message);
    transient = std::move(*made);
  }
  const int cgroup_fd = target ? target->fd.get() : transient->fd();
  const std::string cgroup_path = target ? target->path : transient->path();
  if (auto attached = (*plane)->attach(cgroup_fd); !attached) return fail(attached.error().message);
  spdlog::debug("programs attached to {}", cgroup_path);
  // A followed runtime cgroup gets the same programs: every container the runtime creates below
  // it inherits them before its first process runs. Never one that holds cgfw itself.
  if (!runtime_cgroups.empty()) {
    auto own = cgroup_of_process(::getpid(), *mount);
    if (!own) return fail(own.error().message);
    for (const auto& runtime : runtime_cgroups) {
      if (cgroup_within(*own, runtime.path))
        return fail("--containers-cgroup " + runtime.path +
                    " holds cgfw itself: its proxies would be policed by their own programs");
      if (cgroup_within(runtime.path, cgroup_path) || cgroup_within(cgroup_path, runtime.path))
        return fail("--containers-cgroup " + runtime.path + " overlaps the policed cgroup " +
                    cgroup_path);
      if (auto attached = (*plane)->attach(runtime.fd.get()); !attached)
        return fail(attached.error().message);
      spdlog::info("following containers below {}: they are policed like the job", runtime.path);
    }
  }
  std::unique_ptr<SliceFollower> slice_follower;
  if (slice) {
    // cgfw's own cgroup, if in the slice, is there before the run: exempt.
    if (cgroup_within(cgroup_path, slice->path) || cgroup_within(slice->path, cgroup_path))
      return fail("--containers-slice " + slice->path + " overlaps the policed cgroup " +
                  cgroup_path);
    auto follower = SliceFollower::start(io, slice->path, **plane, [&](const std::string& text) {
      spdlog::warn("{}", text);
      warnings.push_back(text);
    });
    if (!follower) return fail(follower.error().message);
    slice_follower = std::move(*follower);
    spdlog::info(
        "following the container scopes created in {} from now on; the others are left alone",
        slice->path);
  }

  // Execs in the job and in the followed runtime cgroups (their containers' processes).
  std::vector<int> exec_cgroup_fds{cgroup_fd};
  exec_cgroup_fds.insert(exec_cgroup_fds.end(), followed_fds.begin(), followed_fds.end());
  auto execs = ExecTracker::make(exec_cgroup_fds, [&](const ExecRecord& record) {
    processes.on_exec(record);
    // A process in a network namespace of its own (a container started inside the job):
    // admitted at its first exec, before it is likely to connect.
    if (options.follow_containers && in_other_netns(record.tgid))
      (void)admit_netns(record.tgid, "exec");
  });
  if (!execs) {
    std::string warning = execs.error().message +
                          "; processes are attributed from /proc only, so one that exits at once "
                          "may be reported without its executable";
    spdlog::warn("{}", warning);
    warnings.push_back(warning);
  }
  ExecTracker* exec_tracker = execs ? execs->get() : nullptr;

  auto on_runner_death = options.fail_open    ? Watchdog::OnRunnerDeath::release
                         : options.attaches() ? Watchdog::OnRunnerDeath::hold
                                              : Watchdog::OnRunnerDeath::kill_job;
  // A cgroup cgfw did not create is never removed, not even by the watchdog.
  auto watchdog = Watchdog::start(
      cgroup_fd, target ? std::string() : cgroup_path, followed_fds,
      slice_follower ? Watchdog::Slice{slice_follower->fd(), (*plane)->slice_children_map_fd()}
                     : Watchdog::Slice{},
      (*plane)->link_fds(), (*plane)->control_map_fd(), on_runner_death);
  if (!watchdog) return fail(watchdog.error().message);
  if (options.fail_open) {
    std::string warning = "--fail-open: should cgfw die, " + cgroup_path +
                          " gets open egress (its programs are detached) instead of losing it";
    spdlog::warn("{}", warning);
    warnings.push_back(warning);
  }

  // The run's state as a report: at the end, or when `cgfw ctl report` asks mid-run.
  std::vector<reports::PolicyChange> timeline;
  // The command of the report: the one cgfw starts, or (--attach-pid) the attached process's,
  // or, an attached cgroup, ["cgfw attach", PATH].
  std::vector<std::string> command = options.command;
  auto run_info = [&](std::map<std::string, std::uint64_t> counters) {
    reports::RunInfo run;
    run.mode = policy->audit ? "audit" : "block";
    run.command = !command.empty() ? command : std::vector<std::string>{"cgfw attach", cgroup_path};
    run.started_at = started_at;
    run.ended_at = std::chrono::system_clock::now();
    run.policy = &*policy;
    run.kernel_counters = std::move(counters);
    run.warnings = warnings;
    run.timeline = timeline;
    return run;
  };

  // `cgfw ctl`: status, rule and mode changes, reports, stop, for root outside the cgroup.
  LivePolicy live_policy(*policy, **plane, learned, [&](const policy::Rule& rule) -> std::string {
    if (rule.kind == policy::RuleKind::domain || rule.kind == policy::RuleKind::wildcard) {
      // --inspect intercepts every allowed name: the CA must be able to sign for it.
      auto leaf = ca::parse_leaf_host(rule.domain);
      if (options.inspect && ca_bounds && (!leaf || !ca::permits(*ca_bounds, *leaf)))
        return "with --inspect every allowed name is intercepted, and the run's CA is limited to "
               "the names it started with; restart it with the rule";
      return "";
    }
    if (rule.kind != policy::RuleKind::url) return "";
    const auto& url = *rule.url;
    const auto& ports = url.scheme == "https" ? web_config.tls_ports : web_config.http_ports;
    if (!ports.count(url.port))
      return "port " + std::to_string(url.port) + " is not sent to the web proxy as " + url.scheme +
             " (restart with --" + (url.scheme == "https" ? "tls" : "http") + "-port " +
             std::to_string(url.port) + ")";
    if (url.scheme == "http") return "";
    if (!run_ca)
      return "the run has no CA to look into HTTPS (it started without URL rules or --inspect); "
             "restart it with the rule";
    std::string host = url.host.starts_with("*.") ? url.host.substr(2) : url.host;
    auto leaf = ca::parse_leaf_host(host);
    if (!leaf || (ca_bounds && !ca::permits(*ca_bounds, *leaf)))
      return "the run's CA is limited to the hosts of the rules it started with, and " + host +
             " is not one of them; restart it with the rule";
    return "";
  });
  ControlContext control_context{
      *policy,
      live_policy,
      journal,
      **plane,
      cgroup_path,
      started_at,
      timeline,
      [&]() -> Result<std::string> {
        if (!any_report_requested(options))
          return make_error(
              "no report was asked for (--report-json, "
              "--report-sarif, --report-md)");
        auto run = run_info(named_counters(**plane));
        if (!write_reports(options, reports::make_report(run, journal), false))
          return make_error("the reports could not be written");
        return std::string("reports written, the run goes on");
      },
      [&io] {
        // After the answer is on its way.
        asio::post(io, [] { ::kill(::getpid(), SIGTERM); });
      },
      [&](const std::string& argument) -> Result<std::string> {
        // A runtime's hook (`cgfw container-hook`), before the container's first instruction.
        auto admission = parse_container_admission(argument);
        if (!admission) return admission.error();
        auto where = cgroup_of_process(admission->pid, *mount);
        if (!where) return where.error();
        bool in_job = cgroup_within(*where, cgroup_path);
        bool followed =
            std::any_of(followed_paths.begin(), followed_paths.end(),
                        [&](const std::string& root) { return cgroup_below(*where, root); });
        // A scope in the guarded slice: followed now, before the container's first instruction.
        if (!in_job && !followed && slice_follower) {
          if (auto child = slice_follower->child_of(*where)) {
            if (auto following = slice_follower->follow(*child); !following)
              return following.error();
            followed = true;
          }
        }
        if (!in_job && !followed)
          return make_error("pid " + std::to_string(admission->pid) + " (" + *where +
                            ") is neither in the policed cgroup nor below a --containers-cgroup "
                            "or --containers-slice");
        struct stat cgroup_dir {};
        container_registry.name(*where, admission->container,
                                ::stat(where->c_str(), &cgroup_dir) == 0 ? cgroup_dir.st_ino : 0);
        containers_seen = true;
        if (!options.follow_containers)
          return std::string("container " + admission->container.id +
                             " named; --containers off: its DNS and web traffic stays refused");
        auto admitted = admit_netns(admission->pid, "runtime hook");
        if (!admitted) return admitted.error();
        return "container " + admission->container.id +
               (admitted->gateway.empty() ? std::string(" shares cgfw's network namespace")
                                          : " reaches cgfw's proxies at " + admitted->gateway);
      }};
  auto control = ControlSocket::make(
      io, run_dir->path(),
      [&](pid_t pid) {
        auto where = cgroup_of_process(pid, *mount);
        // Unknown counts as inside: refused.
        return !where || cgroup_within(*where, cgroup_path);
      },
      [&](const ControlRequest& request, const ControlPeer& peer) {
        return handle_control_request(control_context, request, peer);
      },
      [&](const ControlPeer& peer, const std::string& why) {
        timeline.push_back({std::chrono::system_clock::now(), "connect", "", peer.describe(), false,
                            "refused: " + why});
      });
  if (!control) return fail(control.error().message);
  spdlog::debug("control socket {}", (*control)->path());

  // Signals go through a signalfd from here on; the child unblocks them before exec.
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (int sig : kForwardedSignals) sigaddset(&forwarded, sig);
  ::sigprocmask(SIG_BLOCK, &forwarded, nullptr);
  UniqueFd signal_fd(::signalfd(-1, &forwarded, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_fd.valid()) return fail(std::string("signalfd: ") + std::strerror(errno));

  if (options.allow_privileged) {
    std::string warning =
        "--allow-privileged: the command keeps every capability, so root inside the sandbox "
        "(sudo) can undo it; use this only for jobs you trust";
    spdlog::warn("{}", warning);
    warnings.push_back(warning);
  }
  // A connection to a hidden daemon socket ends at its trap: refused, and recorded here.
  std::unique_ptr<UnixSocketTraps> unix_traps;
  auto record_unix_attempt = [&](const IsolationPlan::MaskedSocket& socket, pid_t pid) {
    record(unix_attempt_event(socket.path, socket.daemon, processes.describe(pid, "")));
  };
  int exit_status = kExitCgfwFailed;
  std::optional<int> command_exit;
  std::optional<int> command_signal;
  bool cgfw_failed = false;
  if (options.attaches()) {
    // Attach modes: police running processes from now on; stop on a signal (or, --attach-pid,
    // when that process exits).
    pid_t attached_pid = -1;
    int attached_pidfd = -1;
    std::optional<AttachedProcess> attached;
    std::string warning;
    if (options.attach_pid) {
      auto moved = attach_process(*options.attach_pid, *transient, *mount);
      if (!moved) return fail(moved.error().message);
      attached = std::move(*moved);
      attached_pid = attached->pid;
      attached_pidfd = attached->pidfd.get();
      command = attached->command;
      warning = "attach mode: process " + std::to_string(attached->pid) +
                " and what it starts are policed, but cgfw did not start them: they keep their "
                "capabilities and namespaces (root among them can undo the sandbox), and sockets "
                "they opened before the attach are not policed";
    } else {
      // Their sockets are in the cgroup: the egress program sees them, but their connect() is
      // over, so nothing was redirected to the proxies or remembered as allowed.
      warning = "attach mode: the processes of " + cgroup_path +
                " are policed from now on, but cgfw did not start them: they keep their "
                "capabilities and namespaces (root among them can undo the sandbox), and "
                "connections opened before the attach are judged packet by packet by address "
                "(one to an allowed name may be cut until the name is looked up again)";
    }
    spdlog::warn("{}", warning);
    warnings.push_back(warning);
    (*dns_proxy)->start();
    (*web_proxy)->start();
    if (options.ready_file) {
      if (auto ready =
              write_ready_file(*options.ready_file, cgroup_path, (*control)->path(), job_env);
          !ready) {
        spdlog::error("{}", ready.error().message);
        cgfw_failed = true;
      }
    }
    // Under systemd (cgfw@.service, Type=notify): the unit's start waits for this.
    if (auto notified = notify_systemd("READY=1\nSTATUS=policing " + cgroup_path); !notified) {
      spdlog::error("{}", notified.error().message);
      cgfw_failed = true;
    }
    spdlog::debug("policing {}", cgroup_path);
    int watchdog_pidfd = (*watchdog)->pidfd();
    while (!cgfw_failed) {
      RunLoop loop(io, **plane, exec_tracker, attached_pid, attached_pidfd, watchdog_pidfd,
                   signal_fd.get(), RunLoop::Signals::kStop);
      loop.run();
      if (!loop.watchdog_died()) break;
      // Without a watchdog, a death of this process would leave the job unguarded: lock the
      // programs down now and keep holding them until told to stop.
      spdlog::error(
          "the watchdog process died: egress is locked down (nothing but loopback leaves) until "
          "cgfw is stopped (fail closed)");
      (*plane)->lock_down();
      warnings.push_back("the watchdog died; egress was locked down from then on");
      watchdog_pidfd = -1;
    }
    exit_status = cgfw_failed ? kExitCgfwFailed : 0;
  } else {
    SpawnOptions spawn;
    spawn.extra_env = job_env;
    spawn.privileged = options.allow_privileged;
    if (!spawn.privileged) {
      std::vector<DeniedUnixSocket> denied(std::begin(kDeniedUnixSockets),
                                           std::end(kDeniedUnixSockets));
      // Read-only inside: every run's directory (trust bundles other sandboxes rely on) and the
      // rules this run enforces.
      std::vector<std::string> read_only = {RunDirectory::kBase};
      read_only.push_back(run_dir->path());
      read_only.insert(read_only.end(), options.allow_files.begin(), options.allow_files.end());
      read_only.insert(read_only.end(), options.deny_files.begin(), options.deny_files.end());
      auto plan = plan_isolation(denied, options.allow_unix, read_only);
      if (!plan) return fail(plan.error().message);
      auto traps =
          UnixSocketTraps::make(io, run_dir->path(), plan->masked_sockets.size(),
                                [&, hidden = plan->masked_sockets](std::size_t i, pid_t pid) {
                                  record_unix_attempt(hidden.at(i), pid);
                                });
      if (!traps) return fail(traps.error().message);
      unix_traps = std::move(*traps);
      for (std::size_t i = 0; i < plan->masked_sockets.size(); ++i)
        plan->masked_sockets[i].cover = unix_traps->trap_path(i);
      spawn.isolation = std::move(*plan);
    }
    auto child = spawn_in_cgroup(options.command, transient->fd(), *credentials, spawn);
    if (!child) return fail(child.error().message);

    if (child->exec_errno) {
      exit_status = child->exec_errno == ENOENT ? kExitNotFound : kExitCannotExecute;
      spdlog::error("cannot execute '{}': {}", options.command[0],
                    std::strerror(child->exec_errno));
      command_exit = exit_status;
    } else {
      (*dns_proxy)->start();
      (*web_proxy)->start();
      RunLoop loop(io, **plane, exec_tracker, child->pid, child->pidfd.get(), (*watchdog)->pidfd(),
                   signal_fd.get());
      loop.run();
      if (loop.watchdog_died()) {
        spdlog::error(
            "the watchdog process died: the sandbox is being killed so that nothing keeps running "
            "unguarded (fail closed)");
        cgfw_failed = true;
      } else if (auto status = loop.child_status()) {
        // The init passes on how the command ended; a signal stays a signal in the report.
        if (auto wait_status = child->command_wait_status()) {
          if (WIFSIGNALED(*wait_status)) {
            exit_status = 128 + WTERMSIG(*wait_status);
            command_signal = WTERMSIG(*wait_status);
          } else {
            exit_status = WEXITSTATUS(*wait_status);
            command_exit = exit_status;
          }
        } else if (status->si_code == CLD_EXITED) {
          exit_status = status->si_status;
          command_exit = status->si_status;
        } else {
          exit_status = 128 + status->si_status;
          command_signal = status->si_status;
        }
      } else {
        cgfw_failed = true;
      }
    }
  }

  // End: kill leftovers while still policed (attach mode: return the processes to their own
  // cgroup instead), drain events, detach, remove the cgroup.
  if (target) {
    // Not cgfw's: its processes stay where they are, running.
  } else if (options.attach_pid) {
    if (int stranded = transient->return_processes())
      warnings.push_back(std::to_string(stranded) +
                         " processes could not be moved out of the sandbox cgroup");
  } else if (!transient->kill_all(kKillLimit)) {
    warnings.push_back("processes were still in the sandbox cgroup after " +
                       std::to_string(kKillLimit.count()) + " s");
  }
  // Containers below a followed runtime cgroup were policed like the job; once the programs go,
  // they would run on unpoliced (a `docker run -d` outliving the build): stopped with the job's
  // leftovers. In the attach modes nothing is cgfw's to stop: the report says they go on.
  for (const auto& runtime : runtime_cgroups) {
    if (target || options.attach_pid) {
      if (cgroup_populated(runtime.fd.get()) > 0)
        warnings.push_back("containers still running below " + runtime.path +
                           " go on without cgfw's policy (attach mode: not cgfw's to stop)");
    } else if (cgroup_populated(runtime.fd.get()) > 0) {
      spdlog::info("stopping the containers still running below {} with the job", runtime.path);
      if (!kill_cgroup_and_wait(runtime.fd.get(), kKillLimit))
        warnings.push_back("containers were still running below " + runtime.path + " after " +
                           std::to_string(kKillLimit.count()) +
                           " s: they go on without cgfw's policy");
    }
  }
  if (slice_follower) {
    auto running = slice_follower->populated();
    if (target || options.attach_pid) {
      for (const auto& name : running)
        warnings.push_back("the container scope " + slice->path + "/" + name +
                           " goes on without cgfw's policy (attach mode: not cgfw's to stop)");
    } else {
      if (!running.empty())
        spdlog::info("stopping the containers still running in {} with the job", slice->path);
      for (const auto& name : slice_follower->stop(running, kKillLimit))
        warnings.push_back("the container scope " + slice->path + "/" + name +
                           " was still running after " + std::to_string(kKillLimit.count()) +
                           " s: it goes on without cgfw's policy");
    }
  }
  // Every sandboxed socket is closed now: let the proxies finish what that wakes up (their
  // connections end, their last observations are recorded). Only ready work runs; nothing waits.
  io.restart();
  for (int round = 0; round < 1000 && io.poll() > 0; ++round) {
  }
  if (exec_tracker) exec_tracker->consume();
  (*plane)->consume_events();
  auto counters = named_counters(**plane);
  if (exec_tracker) counters["exec_events_lost"] = exec_tracker->lost();
  if (run_ca) {
    counters["tls_leaves_minted"] = run_ca->mint_count();
    counters["tls_leaf_cache_hits"] = run_ca->hit_count();
  }
  slice_follower.reset();  // its scopes' links
  (*plane)->detach();
  (*watchdog)->release();
  if (transient)
    if (auto removed = transient->remove(); !removed) warnings.push_back(removed.error().message);
  if (counters["events_lost"] > 0)
    warnings.push_back(std::to_string(counters["events_lost"]) +
                       " packets were dropped because their event could not be recorded "
                       "(ring buffer full)");
  if (counters["allowed_unrecorded"] > 0)
    warnings.push_back(std::to_string(counters["allowed_unrecorded"]) +
                       " allowed packets passed without their event being recorded (ring buffer "
                       "full): the report may miss some allowed destinations");
  if (cgfw_failed) exit_status = kExitCgfwFailed;

  auto totals = journal.totals();
  if (options.fail_on_block && totals.blocked > 0 && exit_status == 0) exit_status = kExitBlocked;
  reports::RunInfo run = run_info(counters);
  run.exit_status = command_exit;
  run.signal = command_signal;
  run.cgfw_exit_status = exit_status;
  // The JSON report is the source of the other two: one model, three views.
  if (any_report_requested(options) && !write_reports(options, reports::make_report(run, journal)))
    exit_status = kExitCgfwFailed;

  // One count per distinct thing the user would add a rule for: a name, or an address and port;
  // unix sockets and devices only when there were any.
  std::set<std::string> blocked_names;
  std::set<std::string> blocked_urls;
  std::set<std::string> blocked_addresses;
  std::set<std::string> blocked_local;
  for (const auto& event : journal.events()) {
    if (event.decision != reports::Decision::blocked) continue;
    if (event.path)
      blocked_local.insert(*event.path);
    else if (event.layer == reports::Layer::dns)
      blocked_names.insert(event.domain.value_or("(unparsable query)"));
    else if (event.url)
      blocked_urls.insert(*event.url);
    else if (event.domain)
      blocked_names.insert(*event.domain);
    else
      blocked_addresses.insert(event.ip + ":" + std::to_string(event.port) + "/" + event.protocol);
  }
  auto counted = [](std::size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  if (totals.blocked > 0)
    spdlog::info("blocked {}, {}{} {}{}{}", counted(blocked_names.size(), "name", "names"),
                 counted(blocked_urls.size(), "URL", "URLs"), blocked_local.empty() ? " and" : ",",
                 counted(blocked_addresses.size(), "address", "addresses"),
                 blocked_local.empty()
                     ? ""
                     : " and " + counted(blocked_local.size(), "unix socket or device",
                                         "unix sockets or devices"),
                 options.report_json ? "; report: " + *options.report_json : "");
  return exit_status;
}

}  // namespace cgfw::runner
