#include "runner/watchdog.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <bpf/bpf.h>

#include "bpf/cgfw_shared.h"
#include "runner/cgroup.h"
#include "runner/data_plane.h"

namespace cgfw::runner {
namespace {

constexpr char kRelease = 'R';

void close_all_except(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned int next = 0;
  for (int fd : keep) {
    if (static_cast<unsigned int>(fd) > next)
      ::syscall(SYS_close_range, next, static_cast<unsigned int>(fd) - 1, 0U);
    next = static_cast<unsigned int>(fd) + 1;
  }
  ::syscall(SYS_close_range, next, ~0U, 0U);
}

// Empties a cgroup while the programs are still attached: kills what is in it (kill_job), or
// waits for it to end (hold). What survives the kill is waited for too: links never go while a
// policed process still runs.
bool empty_cgroup(int cgroup_fd, Watchdog::OnRunnerDeath on_death) {
  if (on_death == Watchdog::OnRunnerDeath::kill_job &&
      kill_cgroup_and_wait(cgroup_fd, std::chrono::seconds(30)))
    return true;
  return wait_until_empty(cgroup_fd);
}

// The container scopes a guarded slice's follower had followed when the runner died (the
// runner kept them in the slice guard's map, by cgroup id).
std::vector<UniqueFd> followed_scopes(Watchdog::Slice slice) {
  std::vector<UniqueFd> scopes;
  if (slice.fd < 0 || slice.children_map_fd < 0) return scopes;
  std::uint64_t key = 0;
  std::uint64_t next = 0;
  std::uint64_t* previous = nullptr;
  while (bpf_map_get_next_key(slice.children_map_fd, previous, &next) == 0) {
    key = next;
    previous = &key;
    std::uint8_t kind = 0;
    if (bpf_map_lookup_elem(slice.children_map_fd, &key, &kind) != 0 || kind != CGFW_SLICE_FOLLOWED)
      continue;
    UniqueFd scope = open_cgroup_by_id(slice.fd, key);
    if (scope.valid()) scopes.push_back(std::move(scope));  // else: gone already
  }
  return scopes;
}

[[noreturn]] void watchdog_main(int control_fd, int cgroup_fd, const std::string& cgroup_path,
                                const std::vector<int>& followed_fds, Watchdog::Slice slice,
                                const std::vector<int>& link_fds, int control_map_fd,
                                Watchdog::OnRunnerDeath on_death) {
  std::vector<int> keep = link_fds;
  keep.insert(keep.end(), followed_fds.begin(), followed_fds.end());
  if (slice.fd >= 0) keep.push_back(slice.fd);
  if (slice.children_map_fd >= 0) keep.push_back(slice.children_map_fd);
  keep.push_back(control_fd);
  keep.push_back(cgroup_fd);
  keep.push_back(control_map_fd);
  close_all_except(keep);  // stdio too: the watchdog must not hold the job's terminal or pipes
  int devnull = ::open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
  }
  // Its own session: a Ctrl-C or a kill of the job's process group must not reach it.
  ::setsid();
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU})
    ::signal(sig, SIG_IGN);
  ::prctl(PR_SET_NAME, "cgfw-watchdog", 0, 0, 0);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  char byte = 0;
  ssize_t n;
  do {
    n = ::read(control_fd, &byte, 1);
  } while (n < 0 && errno == EINTR);
  if (n == 1 && byte == kRelease) ::_exit(0);

  if (on_death == Watchdog::OnRunnerDeath::release) ::_exit(0);  // --fail-open: links go

  // The runner is gone: lock the programs down at once. Then empty the sandbox while they are
  // still attached (kill the job, or wait for the attached processes to end), and the followed
  // runtime cgroups with it: their containers were policed like the job and go as it goes. Only
  // then let the links go (by exiting) and remove the job's cgroup (never a runtime's).
  // A lockdown the kernel refused must not leave attached processes holding open egress until
  // they end: they are killed instead, as the job's are.
  if (!lock_down_egress(control_map_fd)) on_death = Watchdog::OnRunnerDeath::kill_job;
  bool empty = empty_cgroup(cgroup_fd, on_death);
  for (int fd : followed_fds) empty = empty_cgroup(fd, on_death) && empty;
  for (const auto& scope : followed_scopes(slice))
    empty = empty_cgroup(scope.get(), on_death) && empty;
  for (int fd : link_fds) ::close(fd);
  if (empty && !cgroup_path.empty()) ::rmdir(cgroup_path.c_str());
  ::_exit(empty ? 0 : 1);
}

}  // namespace

Result<std::unique_ptr<Watchdog>> Watchdog::start(int cgroup_fd, const std::string& cgroup_path,
                                                  const std::vector<int>& followed_fds, Slice slice,
                                                  const std::vector<int>& link_fds,
                                                  int control_map_fd, OnRunnerDeath on_death) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return make_error(std::string("cannot create the watchdog pipe: ") + std::strerror(errno));
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);

  pid_t pid = ::fork();
  if (pid < 0) return make_error(std::string("cannot start the watchdog: ") + std::strerror(errno));
  if (pid == 0) {
    write_end.reset();
    watchdog_main(read_end.get(), cgroup_fd, cgroup_path, followed_fds, slice, link_fds,
                  control_map_fd, on_death);
  }
  read_end.reset();
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) {
    int err = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return make_error(std::string("cannot watch the watchdog (pidfd_open): ") + std::strerror(err));
  }
  return std::unique_ptr<Watchdog>(new Watchdog(pid, std::move(pidfd), std::move(write_end)));
}

void Watchdog::release() {
  if (released_) return;
  released_ = true;
  char byte = kRelease;
  ssize_t ignored = ::write(control_.get(), &byte, 1);
  (void)ignored;
  control_.reset();
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

Watchdog::~Watchdog() {
  if (released_) return;
  // Not released: closing the pipe makes the watchdog kill the sandbox; reap it.
  control_.reset();
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace cgfw::runner
