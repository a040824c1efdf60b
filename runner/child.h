// Starting the command inside the cgroup: no moment where it runs outside it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "runner/isolation.h"
#include "runner/unique_fd.h"

namespace cgfw::runner {

struct Credentials {
  bool change = false;  // false: keep cgfw's own (root, when not run via sudo)
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string name;
  std::string home;
};

// --user NAME|UID, else SUDO_UID/SUDO_GID when run via sudo, else unchanged.
Result<Credentials> resolve_credentials(const std::optional<std::string>& user);

// Capabilities no process in the sandbox may ever hold, not even root reached through sudo:
// each would let it undo the sandbox (SYS_ADMIN: mounts, namespaces, cgroup moves; BPF and
// PERFMON: detach or read programs; NET_ADMIN: routes, nftables, interfaces; NET_RAW: raw and
// packet sockets around the proxies; SYS_MODULE: kernel modules; SYS_PTRACE: take over cgfw or
// another process; SYS_BOOT: kexec). Package managers need none of them.
inline constexpr int kDroppedCapabilities[] = {
    21 /*SYS_ADMIN*/, 39 /*BPF*/,        38 /*PERFMON*/,    12 /*NET_ADMIN*/,
    13 /*NET_RAW*/,   16 /*SYS_MODULE*/, 19 /*SYS_PTRACE*/, 22 /*SYS_BOOT*/};

struct Child {
  pid_t pid = -1;  // the sandbox's init (the command itself with --allow-privileged)
  UniqueFd pidfd;
  int exec_errno = 0;  // non-zero: exec failed (the child has been reaped)
  UniqueFd status_fd;  // the init reports the command's wait status here
  // After the init ended: the command's own wait status (a signal stays a signal), if it said.
  std::optional<int> command_wait_status() const;
};

struct SpawnOptions {
  // "NAME=value" entries added to, or replacing, the inherited environment.
  std::vector<std::string> extra_env;
  // Keep every capability, share cgfw's namespaces, no init: the sandbox can be undone.
  bool privileged = false;
  IsolationPlan isolation;  // applied unless privileged
};

// Starts `command` directly inside the cgroup (clone3 with CLONE_INTO_CGROUP; on kernels without
// it, a clone that joins cgroup.procs first), with every fd but 0/1/2 closed, signals reset
// and credentials dropped. Unless privileged: in new PID, mount and cgroup namespaces (see
// isolation.h), without kDroppedCapabilities, under the sandbox's init (sandbox_init.h).
// Waits until the command's exec succeeded or failed.
Result<Child> spawn_in_cgroup(const std::vector<std::string>& command, int cgroup_fd,
                              const Credentials& credentials, const SpawnOptions& options);

}  // namespace cgfw::runner
