// Process attribution at event time: pid -> exe, cmdline, parent chain, read from /proc while the
// process is alive. A process gone before it could be read is reported as gone, never guessed.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "reports/event.h"
#include "runner/exec_tracker.h"
#include "runner/unique_fd.h"

namespace cgfw::runner {

// The command line of `pid` (its NUL-separated /proc/PID/cmdline); empty when unreadable.
std::vector<std::string> read_cmdline(int pid, const std::string& proc_root = "/proc");

class ProcessAttributor {
 public:
  // Ancestors are listed up to, not including, `stop_at` (cgfw's own pid): what is above the
  // sandbox says nothing about who inside it made a connection.
  explicit ProcessAttributor(int stop_at, std::string proc_root = "/proc")
      : stop_at_(stop_at), proc_root_(std::move(proc_root)) {}

  // `comm` is the kernel's name for the process, captured at socket time: kept even when /proc
  // no longer has the process.
  reports::ProcessRecord describe(int tgid, const std::string& comm);

  // What the kernel recorded at exec: used when the process is gone before /proc is read. Also
  // forgets what was read of that pid before: its exe and command line have changed.
  void on_exec(const ExecRecord& record);

 private:
  struct Stat {
    int ppid = 0;
    unsigned long long start_time = 0;
    std::string comm;
  };
  bool read_stat(int pid, Stat& stat) const;
  std::string read_exe(int pid) const;
  int read_sandbox_pid(int pid) const;

  // What was read of a live process, held with a pidfd to that very process: while the pidfd
  // says it runs, the pid cannot have been reused, so one poll(2) replaces parsing /proc (the
  // DNS proxy describes the asker of every query). The kernel's comm at read time catches an
  // exec whose event has not arrived yet.
  struct Cached {
    UniqueFd pidfd;
    std::string comm_at_read;
    reports::ProcessRecord record;
  };
  const reports::ProcessRecord* cached(int tgid, const std::string& comm);
  void remember(int tgid, UniqueFd pidfd, const std::string& comm,
                const reports::ProcessRecord& record);

  int stop_at_;
  std::string proc_root_;
  // Bounded (each entry holds a descriptor); the oldest entry is forgotten first.
  std::unordered_map<int, Cached> cache_;
  std::deque<int> cache_order_;
  // tgid -> its latest exec; bounded, oldest forgotten first.
  std::map<int, ExecRecord> execs_;
  std::deque<int> exec_order_;
};

}  // namespace cgfw::runner
