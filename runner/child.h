// Starting the command inside the cgroup: no moment where it runs outside it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
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

struct Child {
  pid_t pid = -1;
  UniqueFd pidfd;
  int exec_errno = 0;  // non-zero: exec failed (the child has been reaped)
};

// Starts `command` directly inside the cgroup (clone3 with CLONE_INTO_CGROUP; on kernels without
// it, a fork that joins cgroup.procs before exec), with every fd but 0/1/2 closed, signals reset
// and credentials dropped. Waits until exec succeeded or failed.
// `extra_env` entries ("NAME=value") are added to, or replace, the inherited environment.
Result<Child> spawn_in_cgroup(const std::vector<std::string>& command, int cgroup_fd,
                              const Credentials& credentials,
                              const std::vector<std::string>& extra_env = {});

}  // namespace cgfw::runner
