// The run's transient cgroup v2: found, created, emptied and removed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "runner/unique_fd.h"

namespace cgfw::runner {

// The cgroup2 mount point, read from /proc/mounts (never assumed: /sys/fs/cgroup on GitHub's
// runners, /sys/fs/cgroup/unified on hybrid hosts).
Result<std::string> find_cgroup2_mount(const std::string& mounts_file = "/proc/mounts");

// Name prefix of every cgroup cgfw creates; the runner's pid follows, so leftovers of a crashed
// run can be recognised and swept.
inline constexpr const char* kCgroupPrefix = "cgfw-";

// Kills and removes cgfw cgroups under `mount` whose runner is gone (both runner and watchdog
// were killed). Returns how many were swept.
int sweep_stale_cgroups(const std::string& mount);

// Writes "1" to <dir>/cgroup.kill and waits until <dir>/cgroup.events says "populated 0".
// Returns false if processes were still there at the deadline.
bool kill_cgroup_and_wait(int cgroup_dir_fd, std::chrono::milliseconds limit);

// Waits, with no deadline, until <dir>/cgroup.events says "populated 0". False on error.
bool wait_until_empty(int cgroup_dir_fd);

// 1 when a process runs in the cgroup or below it, 0 when none does, -1 when unreadable.
int cgroup_populated(int cgroup_dir_fd);

// The directory of `pid`'s cgroup v2 under `mount` (from /proc/PID/cgroup's "0::" line).
Result<std::string> cgroup_of_process(pid_t pid, const std::string& mount);

// The directory of the cgroup v2 whose kernel id (bpf_get_current_cgroup_id(), the directory's
// inode number) is `id`, found with open_by_handle_at(2) on the mount: it names the cgroup of a
// process that is already gone, as long as the cgroup itself still exists.
Result<std::string> cgroup_path_of_id(const std::string& mount, std::uint64_t id);
// The same, as an open directory; `any_cgroup_fd` is any directory of the cgroup2 mount. Invalid
// (errno set) when no such cgroup exists.
UniqueFd open_cgroup_by_id(int any_cgroup_fd, std::uint64_t id);

class TransientCgroup {
 public:
  static Result<std::unique_ptr<TransientCgroup>> make(const std::string& mount);
  ~TransientCgroup();  // kills what is left and removes the directory
  TransientCgroup(const TransientCgroup&) = delete;
  TransientCgroup& operator=(const TransientCgroup&) = delete;

  const std::string& path() const { return path_; }
  int fd() const { return dir_.get(); }
  unsigned long long id() const { return id_; }

  // Kills every process left in the cgroup and waits until it is empty.
  bool kill_all(std::chrono::milliseconds limit);

  // Attach mode: moves a running process (its whole thread group) into the cgroup. From then
  // on the processes in the cgroup are not cgfw's to kill: they go back to `return_to` (a
  // cgroup directory) when the run ends, by return_processes() or the destructor.
  Status adopt(pid_t pid, const std::string& return_to);
  // Moves every process of the cgroup and of its child cgroups to the return cgroup (or, where
  // that fails, to the root of the hierarchy). Returns how many could not be moved at all.
  int return_processes();
  // Removes the directory (must be empty). Idempotent.
  Status remove();

 private:
  TransientCgroup(std::string path, UniqueFd dir, unsigned long long id)
      : path_(std::move(path)), dir_(std::move(dir)), id_(id) {}
  std::string path_;
  UniqueFd dir_;
  unsigned long long id_ = 0;
  bool removed_ = false;
  std::string return_to_;  // attach mode: where adopted processes go back to
};

}  // namespace cgfw::runner
