// Exec records from the kernel (bpf/exec.bpf.c): the filename and argv of every exec inside the
// sandbox, captured as it happens, so attribution does not depend on winning a race with /proc.
#pragma once

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

class ExecTracker {
 public:
  // Loads and attaches the exec program for the subtree of `cgroup_fd`. Fails on kernels
  // without BTF: the caller then falls back to /proc-only attribution, with a warning.
  static Result<std::unique_ptr<ExecTracker>> make(int cgroup_fd, ExecHandler handler);
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
