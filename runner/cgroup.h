// The run's transient cgroup v2: found, created, emptied and removed.
#pragma once

#include <chrono>
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
  // Removes the directory (must be empty). Idempotent.
  Status remove();

 private:
  TransientCgroup(std::string path, UniqueFd dir, unsigned long long id)
      : path_(std::move(path)), dir_(std::move(dir)), id_(id) {}
  std::string path_;
  UniqueFd dir_;
  unsigned long long id_ = 0;
  bool removed_ = false;
};

}  // namespace cgfw::runner
