#include "runner/process_info.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "runner/proc_files.h"
#include "runner/unique_fd.h"

namespace cgfw::runner {
namespace {

constexpr int kMaxAncestors = 16;
constexpr std::size_t kMaxExecRecords = 16384;
constexpr std::size_t kMaxCachedProcesses = 1024;

UniqueFd open_pidfd(int pid) {
  return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

// A pidfd polls readable once its process has exited.
bool still_running(const UniqueFd& pidfd) {
  pollfd poll_fd{pidfd.get(), POLLIN, 0};
  return ::poll(&poll_fd, 1, 0) == 0;
}

}  // namespace

std::vector<std::string> read_cmdline(int pid, const std::string& proc_root) {
  std::string text = read_proc_file(proc_root + "/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> words;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    words.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

bool ProcessAttributor::read_stat(int pid, Stat& stat) const {
  std::string text = read_proc_file(proc_root_ + "/" + std::to_string(pid) + "/stat");
  // "pid (comm) state ppid ...": comm may itself contain ") ", so split at the last ')'.
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  stat.comm = text.substr(open + 1, close - open - 1);
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  // Fields after comm: 3 state, 4 ppid, ..., 22 starttime.
  for (int index = 3; index <= 22 && rest >> field; ++index) {
    if (index == 4) stat.ppid = static_cast<int>(std::strtol(field.c_str(), nullptr, 10));
    if (index == 22) stat.start_time = std::strtoull(field.c_str(), nullptr, 10);
  }
  return stat.start_time != 0;
}

int ProcessAttributor::read_sandbox_pid(int pid) const {
  // "NSpid:\t<host pid>\t<pid in the sandbox>": the innermost namespace's pid comes last.
  std::string status = read_proc_file(proc_root_ + "/" + std::to_string(pid) + "/status");
  auto line = status.find("\nNSpid:");
  if (line == std::string::npos) return 0;
  std::istringstream fields(status.substr(line + 7, status.find('\n', line + 1) - line - 7));
  int value = 0;
  int count = 0;
  for (int field; fields >> field; ++count) value = field;
  return count >= 2 ? value : 0;
}

std::string ProcessAttributor::read_exe(int pid) const {
  char buffer[4096];
  std::string link = proc_root_ + "/" + std::to_string(pid) + "/exe";
  ssize_t n = ::readlink(link.c_str(), buffer, sizeof(buffer) - 1);
  if (n <= 0) return {};
  return std::string(buffer, static_cast<std::size_t>(n));
}

void ProcessAttributor::on_exec(const ExecRecord& record) {
  cache_.erase(record.tgid);
  if (execs_.insert_or_assign(record.tgid, record).second) exec_order_.push_back(record.tgid);
  while (exec_order_.size() > kMaxExecRecords) {
    execs_.erase(exec_order_.front());
    exec_order_.pop_front();
  }
}

reports::ProcessRecord ProcessAttributor::describe(int tgid, const std::string& comm) {
  reports::ProcessRecord record;
  record.pid = tgid;
  record.comm = comm;
  if (tgid <= 0) {
    record.gone = true;
    return record;
  }
  // The process is gone: what its exec recorded, if anything; never a guess.
  auto from_exec = [&]() {
    record.gone = true;
    auto exec = execs_.find(tgid);
    if (exec == execs_.end()) return record;
    record.exe = exec->second.filename;
    record.cmdline = exec->second.argv;
    record.ppid = exec->second.ppid;
    if (record.comm.empty()) record.comm = exec->second.comm;
    return record;
  };
  if (const auto* hit = cached(tgid, comm)) {
    reports::ProcessRecord copy = *hit;
    if (!comm.empty()) copy.comm = comm;
    return copy;
  }
  // Opened before the reads: if it still runs after them, they were of this very process.
  // Without a pidfd (a test's fake /proc, an old kernel) the reads stand but are not cached.
  UniqueFd pidfd = proc_root_ == "/proc" ? open_pidfd(tgid) : UniqueFd();
  Stat stat;
  if (!read_stat(tgid, stat)) return from_exec();

  record.ppid = stat.ppid;
  record.sandbox_pid = read_sandbox_pid(tgid);
  if (record.comm.empty()) record.comm = stat.comm;
  record.exe = read_exe(tgid);
  record.cmdline = read_cmdline(tgid, proc_root_);
  // A process that exited between the stat and the other reads is gone.
  if (record.exe.empty() && record.cmdline.empty()) return from_exec();
  // One that exited between the two reads (its mm is released first: /proc then shows no exe and
  // an empty command line) keeps what was read, and what its exec recorded fills the rest.
  if (record.exe.empty() || record.cmdline.empty()) {
    auto exec = execs_.find(tgid);
    if (exec != execs_.end()) {
      if (record.exe.empty()) record.exe = exec->second.filename;
      if (record.cmdline.empty()) record.cmdline = exec->second.argv;
    }
    pidfd = UniqueFd();  // partly read: not worth caching
  }

  int parent = stat.ppid;
  for (int depth = 0; depth < kMaxAncestors && parent > 1 && parent != stop_at_; ++depth) {
    Stat parent_stat;
    if (!read_stat(parent, parent_stat)) break;
    record.ancestors.push_back({parent, read_exe(parent)});
    parent = parent_stat.ppid;
  }
  if (pidfd.valid() && still_running(pidfd)) remember(tgid, std::move(pidfd), stat.comm, record);
  return record;
}

const reports::ProcessRecord* ProcessAttributor::cached(int tgid, const std::string& comm) {
  auto entry = cache_.find(tgid);
  if (entry == cache_.end()) return nullptr;
  // Exited (the pid may be anyone's next), or renamed by an exec not yet reported: read afresh.
  if (!still_running(entry->second.pidfd) ||
      (!comm.empty() && comm != entry->second.comm_at_read)) {
    cache_.erase(entry);
    return nullptr;
  }
  return &entry->second.record;
}

void ProcessAttributor::remember(int tgid, UniqueFd pidfd, const std::string& comm,
                                 const reports::ProcessRecord& record) {
  auto [entry, inserted] = cache_.insert_or_assign(tgid, Cached{std::move(pidfd), comm, record});
  (void)entry;
  if (inserted) cache_order_.push_back(tgid);
  // The order may name pids erased since (exec, exit): skipping them keeps both bounded.
  while (cache_.size() > kMaxCachedProcesses || cache_order_.size() > 2 * kMaxCachedProcesses) {
    cache_.erase(cache_order_.front());
    cache_order_.pop_front();
  }
}

}  // namespace cgfw::runner
