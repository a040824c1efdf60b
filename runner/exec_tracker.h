// Exec records from the kernel (bpf/exec.bpf.c): the filename and argv of every exec inside the
// sandbox, captured as it happens, so attribution does not depend on winning a race with /proc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

struct cgfw_exec_bpf;
struct ring_buffer;

namespace cgfw::runner {

struct ExecRecord {
  int tgid = 0;
  int ppid = 0;
  std::string comm;
  std::string filename;
  std::vector<std::string> argv;
  bool argv_truncated = false;
};

using ExecHandler = std::function<void(const ExecRecord&)>;

// How many cgroups one tracker follows (CGFW_EXEC_MAX_CGROUPS in bpf/cgfw_shared.h).
inline constexpr std::size_t kExecTrackerMaxCgroups = 16;

class ExecTracker {
 public:
  // Loads and attaches the exec program for the subtrees of `cgroup_fds` (the job's cgroup and
  // the followed runtime cgroups; at most kExecTrackerMaxCgroups). Fails on kernels without BTF:
  // the caller then falls back to /proc-only attribution, with a warning.
  static Result<std::unique_ptr<ExecTracker>> make(const std::vector<int>& cgroup_fds,
                                                   ExecHandler handler);
  ~ExecTracker();
  ExecTracker(const ExecTracker&) = delete;
  ExecTracker& operator=(const ExecTracker&) = delete;

  int epoll_fd() const;
  int consume();
  std::uint64_t lost() const;

 private:
  ExecTracker() = default;
  cgfw_exec_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  ExecHandler handler_;
};

}  // namespace cgfw::runner
