// The namespaces the command runs in: its own PID, mount and cgroup namespaces, so that nothing
// inside can see or reach a cgroup, process or socket outside the sandbox.
//
// Planned in the runner (reads /proc, stats files, allocates), applied in the child between
// clone and exec (plain system calls only: no allocation, no locks).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace cgfw::runner {

// Unix sockets that lead out of the sandbox: a daemon outside it acts on the caller's behalf
// (starts containers or units in its own cgroup, or resolves names past the DNS proxy).
// Hidden inside unless --allow-unix names them. Globs are expanded at start-up.
struct DeniedUnixSocket {
  const char* path;
  const char* daemon;  // who listens there and what it would do for the caller
};
inline constexpr DeniedUnixSocket kDeniedUnixSockets[] = {
    {"/run/docker.sock", "dockerd, which starts containers outside the sandbox's cgroup"},
    {"/var/run/docker.sock", "dockerd, which starts containers outside the sandbox's cgroup"},
    {"/run/user/*/docker.sock", "rootless dockerd, which starts containers outside the sandbox"},
    {"/run/containerd/containerd.sock", "containerd, which starts containers outside the sandbox"},
    {"/run/podman/podman.sock", "the podman service, which starts containers outside the sandbox"},
    {"/run/user/*/podman/podman.sock", "the rootless podman service, outside the sandbox"},
    {"/run/buildkit/buildkitd.sock", "BuildKit, which runs build steps outside the sandbox"},
    {"/run/crio/crio.sock", "CRI-O, which starts containers outside the sandbox"},
    {"/run/systemd/private", "systemd, which starts units (systemd-run) outside the sandbox"},
    {"/run/dbus/system_bus_socket", "the system D-Bus, which reaches systemd outside the sandbox"},
    {"/run/systemd/resolve/io.systemd.Resolve",
     "systemd-resolved, which resolves past the DNS proxy"},
    {"/run/nscd/socket", "nscd, which resolves names past the DNS proxy"},
    {"/var/run/nscd/socket", "nscd, which resolves names past the DNS proxy"},
};

struct IsolationPlan {
  // Every cgroup2 mount point: a fresh cgroup2 mount over each shows only the sandbox subtree.
  std::vector<std::string> cgroup2_mounts;
  // Every proc mount point: a fresh proc over each shows only the new PID namespace.
  std::vector<std::string> proc_mounts;
  // Every bpf filesystem: covered by an empty read-only tmpfs.
  std::vector<std::string> bpf_mounts;
  // Existing unix socket files, each covered by a bind mount of `cover`: cgfw's trap for it
  // (runner/unix_trap.h), which records who connects, or /dev/null, where connect() fails.
  struct MaskedSocket {
    std::string path;
    std::string daemon;  // DeniedUnixSocket::daemon
    std::string cover = "/dev/null";
  };
  std::vector<MaskedSocket> masked_sockets;
  // Paths bind-mounted read-only (the run directory, the allow files).
  struct ReadOnly {
    std::string path;
    unsigned long flags = 0;  // the mount's own flags (nosuid, nodev, noexec) kept
  };
  std::vector<ReadOnly> read_only;
};

// `denied_sockets` paths may hold '*' globs; those also named in `allowed_sockets` (after
// resolving symlinks in both) stay reachable. Paths in `read_only` that do not exist are skipped.
Result<IsolationPlan> plan_isolation(const std::vector<DeniedUnixSocket>& denied_sockets,
                                     const std::vector<std::string>& allowed_sockets,
                                     const std::vector<std::string>& read_only,
                                     const std::string& mountinfo = "/proc/self/mountinfo");

// Where applying failed: which step, and which path of the plan.
struct IsolationFailure {
  int err = 0;  // errno; 0: no failure
  const char* step = "";
  const char* path = "";
};

// In the child, as root, in a fresh PID and mount namespace, already inside the sandbox cgroup:
// enters a new cgroup namespace, stops mount propagation to the host, mounts cgroup2 and /proc
// for the new namespaces, masks the sockets and makes the read-only paths read-only.
// Async-signal-safe.
IsolationFailure apply_isolation(const IsolationPlan& plan);

}  // namespace cgfw::runner
