// Fail closed when the runner dies: a small process that holds duplicates of the bpf_link fds,
// the control map fd and the cgroup fd. If the runner disappears without releasing it (SIGKILL,
// crash), the watchdog first locks the programs down (nothing but loopback leaves: there is no
// proxy and no reader of events any more), then, BEFORE its link fds close:
//   - kill_job: kills every process in the cgroup (the job cgfw started), then removes it; what
//     survives the kill is waited for as in hold;
//   - hold: waits, however long, until the cgroup is empty (processes cgfw attached to and must
//     not kill: they keep running without network), then removes it (unless it is a cgroup cgfw
//     did not create: an empty `cgroup_path` says so);
//   the followed runtime cgroups (--containers-cgroup, `followed_fds`) are emptied the same way
//   (their containers are killed with the job, or held), and never removed; so are the
//   container scopes followed in a guarded slice (--containers-slice: the slice guard's map
//   names them, by id, as the run goes; the guard, whose link the watchdog holds, drops their
//   packets from the lockdown on, since their own links were the runner's);
//   - release (`--fail-open`, asked for and loudly reported): lets the links go at once, so
//     the processes keep running with open egress.
// So, short of --fail-open, no policed process ever keeps running without its programs attached.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "runner/unique_fd.h"

namespace cgfw::runner {

class Watchdog {
 public:
  enum class OnRunnerDeath { kill_job, hold, release };
  // A guarded slice's directory and the map of its classified children; -1: none.
  struct Slice {
    int fd = -1;
    int children_map_fd = -1;
  };
  static Result<std::unique_ptr<Watchdog>> start(int cgroup_fd, const std::string& cgroup_path,
                                                 const std::vector<int>& followed_fds, Slice slice,
                                                 const std::vector<int>& link_fds,
                                                 int control_map_fd, OnRunnerDeath on_death);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // The run ended properly: the watchdog exits without touching anything. Waits for it.
  void release();
  // Readable when the watchdog process has exited (the runner then fails closed).
  int pidfd() const { return pidfd_.get(); }
  pid_t pid() const { return pid_; }

 private:
  Watchdog(pid_t pid, UniqueFd pidfd, UniqueFd control)
      : pid_(pid), pidfd_(std::move(pidfd)), control_(std::move(control)) {}
  pid_t pid_;
  UniqueFd pidfd_;
  UniqueFd control_;  // write end of the pipe; its EOF without 'R' means "the runner is gone"
  bool released_ = false;
};

}  // namespace cgfw::runner
