#include "runner/options.h"

#include <cstdio>
#include <string_view>

#include <CLI/CLI.hpp>

#include "runner/exec_tracker.h"

namespace cgfw::runner {

std::variant<Options, int> parse_options(int argc, const char* const* argv) {
  Options options;
  bool verbose = false;
  bool quiet = false;

  CLI::App app{
      "Usage: cgfw-sandbox [OPTIONS] -- COMMAND [ARG...]\n\n"
      "cgfw-sandbox runs COMMAND in a transient cgroup where it may reach only the destinations "
      "the allow rules name. Everything else is blocked (or, with --audit, allowed and "
      "recorded).",
      "cgfw-sandbox"};
  app.set_version_flag("--version", "cgfw-sandbox " CGFW_VERSION);
  app.add_option("-a,--allow", options.allow_rules, "add one allow rule (repeatable)")
      ->type_name("RULE");
  app.add_option("-f,--allow-file", options.allow_files, "read rules from FILE (repeatable)")
      ->type_name("FILE");
  app.add_option("--deny", options.deny_rules,
                 "add one deny rule (repeatable; same grammar; deny wins over allow; with deny "
                 "rules only, everything they do not deny is allowed)")
      ->type_name("RULE");
  app.add_option("--deny-file", options.deny_files, "read deny rules from FILE (repeatable)")
      ->type_name("FILE");
  app.add_flag("--audit", options.audit,
               "allow everything, record everything (default mode is block)");
  app.add_option("--report-json", options.report_json,
                 "write the JSON report here when the run ends")
      ->type_name("FILE");
  app.add_option("--report-sarif", options.report_sarif,
                 "write a SARIF 2.1.0 report here when the run ends (GitHub code scanning)")
      ->type_name("FILE");
  app.add_option("--report-md", options.report_md,
                 "write a Markdown summary here when the run ends (also appended to "
                 "$GITHUB_STEP_SUMMARY when set)")
      ->type_name("FILE");
  app.add_flag("--fail-on-block", options.fail_on_block,
               "exit 3 when anything was blocked, even if the command succeeded");
  app.add_flag("--allow-privileged", options.allow_privileged,
               "do not take CAP_SYS_ADMIN, CAP_BPF, CAP_NET_ADMIN and the other capabilities "
               "that could undo the sandbox away from the command (weakens it; reported)");
  app.add_option("--allow-unix", options.allow_unix,
                 "leave this unix socket reachable although it leads out of the sandbox "
                 "(docker, containerd, podman, systemd, resolved, nscd are hidden by default; "
                 "repeatable)")
      ->type_name("PATH");
  std::string containers = "follow";
  app.add_option("--containers", containers,
                 "follow: containers' own network namespaces reach the proxies at their gateway "
                 "(default); off: their DNS and web traffic is refused")
      ->check(CLI::IsMember({"follow", "off"}))
      ->type_name("follow|off");
  app.add_option("--containers-cgroup", options.containers_cgroups,
                 "a container runtime's cgroup (as in /proc/PID/cgroup, e.g. /docker): every "
                 "container the runtime starts below it is policed like the job, for the run's "
                 "lifetime (repeatable)")
      ->type_name("CGROUP");
  app.add_option("--containers-slice", options.containers_slice,
                 "a cgroup shared with other services where a runtime's systemd driver puts "
                 "each container's scope (e.g. /system.slice for docker-ID.scope): the container "
                 "scopes created there during the run are policed like the job, the rest are not")
      ->type_name("CGROUP");
  app.add_option("--user", options.user,
                 "run COMMAND as USER (default: the invoking user when run via sudo)")
      ->type_name("USER");
  app.add_flag("--no-loopback", options.no_loopback,
               "also police loopback destinations (default: allowed and recorded)");
  app.add_option("--dns-upstream", options.dns_upstreams,
                 "resolver the DNS proxy forwards allowed names to (repeatable; default: "
                 "/etc/resolv.conf's)")
      ->type_name("ADDR[:PORT]");
  app.add_option("--dns-block-rcode", options.dns_block_rcode,
                 "answer to a blocked name: nxdomain (default) or refused")
      ->type_name("RCODE")
      ->check(CLI::IsMember({"nxdomain", "refused"}));
  app.add_option("--dns-min-ttl", options.dns_min_ttl,
                 "an address learned from DNS stays allowed for max(TTL, this) seconds "
                 "(default 600); connections already open are never cut")
      ->type_name("SECONDS")
      ->check(CLI::Range(1, 86400));
  app.add_option("--max-learned-addresses", options.max_learned_addresses,
                 "how many addresses (per IP family) allowed names may resolve to during the run "
                 "(default 65536); past it, further answers fail with SERVFAIL and are reported")
      ->type_name("N")
      ->check(CLI::Range(1, 16777216));
  app.add_option("--http-port", options.http_ports,
                 "another port whose TCP traffic is plain HTTP, checked request by request "
                 "(repeatable; 80 always is)")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535));
  app.add_option("--tls-port", options.tls_ports,
                 "another port whose TCP traffic is TLS, checked by server name (repeatable; 443 "
                 "always is)")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535));
  app.add_flag("--inspect", options.inspect,
               "intercept every allowed TLS connection with the run's CA, not only hosts with URL "
               "rules");
  app.add_option("--upstream-ca", options.upstream_cas,
                 "also trust this CA bundle for servers behind intercepted connections "
                 "(repeatable)")
      ->type_name("FILE")
      ->check(CLI::ExistingFile);
  app.add_option("--attach-pid", options.attach_pid,
                 "instead of starting a command, police the running process PID and everything "
                 "it starts from now on (a CI runner's worker: every later step); runs until "
                 "SIGTERM/SIGINT or until PID exits, then returns the processes to their cgroup "
                 "and writes the reports. No capability drop or namespaces for them: see "
                 "docs/action.md")
      ->type_name("PID")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("--ready-file", options.ready_file,
                 "with --attach-pid: once PID is policed, write this JSON file: cgfw's pid, the "
                 "cgroup, and the environment later processes should get (the run CA's bundle)")
      ->type_name("FILE");
  app.add_option("--attach-cgroup", options.attach_cgroup,
                 "instead of starting a command, police the cgroup PATH as it is (absolute, or "
                 "relative to the cgroup2 mount) until SIGTERM/SIGINT; its processes are left "
                 "running and in place at the end (cgfw attach --cgroup)")
      ->type_name("PATH");
  app.add_option("--attach-unit", options.attach_unit,
                 "police the cgroup of the systemd unit NAME (cgfw attach --unit)")
      ->type_name("NAME");
  app.add_option("--attach-cgroup-of", options.attach_cgroup_of,
                 "police the cgroup that process PID is in (cgfw attach --pid)")
      ->type_name("PID")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("--export-egress-filter", options.export_egress_filter,
                 "pin the IP rules as a cgroup egress program at PIN (on bpffs) for systemd's "
                 "IPEgressFilterPath=, and exit (docs/ipegressfilter.md)")
      ->type_name("PIN");
  app.add_flag("--replace", options.replace_export,
               "with --export-egress-filter: replace an earlier export at the same path");
  app.add_flag("--fail-open", options.fail_open,
               "with --attach-cgroup/--attach-unit/--attach-cgroup-of: should cgfw die, detach "
               "its programs (egress opens) instead of locking the cgroup's egress down; for a "
               "first, cautious rollout on a production host (loudly reported)");
  app.add_flag("-v,--verbose", verbose, "say more (libbpf and verifier detail)");
  app.add_flag("-q,--quiet", quiet, "announce nothing on stderr; the reports keep everything");
  app.footer(
      "Exit status: COMMAND's own; 128+N if it was killed by signal N; 125 if cgfw itself "
      "failed; 126 if COMMAND cannot be executed; 127 if it is not found; 3 with "
      "--fail-on-block when anything was blocked and COMMAND succeeded.\n"
      "Rules: see docs/rules.md. Example: cgfw-sandbox -a github.com -a 198.51.100.0/24:443 -- "
      "make");

  // Everything after the first "--" is the command, untouched; without "--", the first
  // word that is not an option starts it (as with env).
  int split = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--") {
      split = i;
      break;
    }
  }
  if (split == argc) app.prefix_command(true);
  try {
    app.parse(split, argv);
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", app.help().c_str());
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::printf("cgfw-sandbox %s\n", CGFW_VERSION);
    return 0;
  } catch (const CLI::ParseError& error) {
    std::fprintf(stderr, "cgfw-sandbox: %s\nTry 'cgfw-sandbox --help'.\n", error.what());
    return kExitCgfwFailed;
  }
  if (split < argc) {
    for (int i = split + 1; i < argc; ++i) options.command.emplace_back(argv[i]);
  } else {
    options.command = app.remaining();
  }
  int attach_modes = (options.attach_pid ? 1 : 0) + (options.attach_cgroup ? 1 : 0) +
                     (options.attach_unit ? 1 : 0) + (options.attach_cgroup_of ? 1 : 0);
  const char* attach_flag = options.attach_pid      ? "--attach-pid"
                            : options.attach_cgroup ? "--attach-cgroup"
                            : options.attach_unit   ? "--attach-unit"
                                                    : "--attach-cgroup-of";
  if (options.export_egress_filter) {
    const char* conflict = !options.command.empty() ? "a command"
                           : attach_modes > 0       ? attach_flag
                           : options.audit          ? "--audit"
                           : options.ready_file     ? "--ready-file"
                                                    : nullptr;
    if (conflict) {
      std::fprintf(stderr,
                   "cgfw-sandbox: --export-egress-filter only pins the rules and exits; %s does "
                   "not go with it\n",
                   conflict);
      return kExitCgfwFailed;
    }
    options.verbosity = verbose ? Verbosity::verbose : quiet ? Verbosity::quiet : Verbosity::normal;
    return options;
  }
  if (options.replace_export) {
    std::fprintf(stderr, "cgfw-sandbox: --replace goes with --export-egress-filter\n");
    return kExitCgfwFailed;
  }
  if (attach_modes > 1) {
    std::fprintf(stderr,
                 "cgfw-sandbox: give one of --attach-pid, --attach-cgroup, --attach-unit and "
                 "--attach-cgroup-of\n");
    return kExitCgfwFailed;
  }
  if (options.fail_open && !options.attaches_to_existing_cgroup()) {
    std::fprintf(stderr,
                 "cgfw-sandbox: --fail-open applies to an attached cgroup (--attach-cgroup, "
                 "--attach-unit, --attach-cgroup-of); a command cgfw starts always fails closed\n");
    return kExitCgfwFailed;
  }
  if (attach_modes == 1) {
    const char* conflict = !options.command.empty()      ? "a command"
                           : !options.allow_unix.empty() ? "--allow-unix"
                           : options.user                ? "--user"
                           : options.allow_privileged    ? "--allow-privileged"
                                                         : nullptr;
    if (conflict) {
      std::fprintf(stderr,
                   "cgfw-sandbox: %s polices processes that are already running; %s "
                   "applies only to a command cgfw starts\nTry 'cgfw-sandbox --help'.\n",
                   attach_flag, conflict);
      return kExitCgfwFailed;
    }
  } else if (options.ready_file) {
    std::fprintf(stderr, "cgfw-sandbox: --ready-file needs an attach mode (--attach-pid, ...)\n");
    return kExitCgfwFailed;
  }
  if (options.command.empty() && attach_modes == 0) {
    std::fprintf(stderr,
                 "cgfw-sandbox: no command given: put the command after '--', e.g. "
                 "cgfw-sandbox -a example.com -- make\nTry 'cgfw-sandbox --help'.\n");
    return kExitCgfwFailed;
  }
  if (verbose && quiet) {
    std::fprintf(stderr, "cgfw-sandbox: --verbose and --quiet exclude each other\n");
    return kExitCgfwFailed;
  }
  options.follow_containers = containers == "follow";
  // The job's cgroup takes one of the exec tracker's slots.
  if (options.containers_cgroups.size() >= kExecTrackerMaxCgroups) {
    std::fprintf(stderr, "cgfw-sandbox: --containers-cgroup: at most %zu runtime cgroups\n",
                 kExecTrackerMaxCgroups - 1);
    return kExitCgfwFailed;
  }
  auto bad_cgroup = [](const std::string& cgroup) {
    return !cgroup.starts_with("/") || cgroup == "/" || cgroup.find("/../") != std::string::npos ||
           cgroup.ends_with("/..") || cgroup.find("//") != std::string::npos;
  };
  for (const auto& cgroup : options.containers_cgroups) {
    if (bad_cgroup(cgroup)) {
      std::fprintf(stderr,
                   "cgfw-sandbox: --containers-cgroup %s: give a runtime's cgroup as "
                   "/proc/PID/cgroup shows it (absolute, not the root, no '..'), e.g. /docker\n",
                   cgroup.c_str());
      return kExitCgfwFailed;
    }
  }
  if (options.containers_slice && bad_cgroup(*options.containers_slice)) {
    std::fprintf(stderr,
                 "cgfw-sandbox: --containers-slice %s: give the slice as /proc/PID/cgroup shows "
                 "it (absolute, not the root, no '..'), e.g. /system.slice\n",
                 options.containers_slice->c_str());
    return kExitCgfwFailed;
  }
  options.verbosity = verbose ? Verbosity::verbose : quiet ? Verbosity::quiet : Verbosity::normal;
  return options;
}

}  // namespace cgfw::runner
