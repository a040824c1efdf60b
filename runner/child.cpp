#include "runner/child.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "runner/sandbox_init.h"

extern char** environ;

namespace cgfw::runner {
namespace {

bool parse_id(const std::string& text, unsigned long& value) {
  if (text.empty() || text.size() > 10) return false;
  char* end = nullptr;
  errno = 0;
  value = std::strtoul(text.c_str(), &end, 10);
  return errno == 0 && end && *end == '\0';
}

Result<Credentials> credentials_of(const passwd* pw, gid_t gid) {
  Credentials creds;
  creds.change = true;
  creds.uid = pw->pw_uid;
  creds.gid = gid;
  creds.name = pw->pw_name;
  creds.home = pw->pw_dir ? pw->pw_dir : "/";
  int count = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  if (getgrouplist(pw->pw_name, gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<std::size_t>(count));
    if (getgrouplist(pw->pw_name, gid, groups.data(), &count) < 0) count = 0;
  }
  groups.resize(static_cast<std::size_t>(count));
  creds.groups = groups;
  return creds;
}

// Everything the child needs is prepared before the clone: after it, only plain system calls.
struct ExecPlan {
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

ExecPlan make_plan(const std::vector<std::string>& command, const Credentials& creds,
                   const std::vector<std::string>& extra_env) {
  ExecPlan plan;
  auto replaced = [&](const std::string& entry) {
    for (const auto& extra : extra_env) {
      auto name = extra.substr(0, extra.find('=') + 1);
      if (entry.rfind(name, 0) == 0) return true;
    }
    return false;
  };
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    if (creds.change && (entry.rfind("HOME=", 0) == 0 || entry.rfind("USER=", 0) == 0 ||
                         entry.rfind("LOGNAME=", 0) == 0))
      continue;
    if (replaced(entry)) continue;
    plan.env_storage.push_back(entry);
  }
  for (const auto& extra : extra_env) plan.env_storage.push_back(extra);
  if (creds.change) {
    plan.env_storage.push_back("HOME=" + creds.home);
    plan.env_storage.push_back("USER=" + creds.name);
    plan.env_storage.push_back("LOGNAME=" + creds.name);
  }
  for (const auto& arg : command) plan.argv.push_back(const_cast<char*>(arg.c_str()));
  plan.argv.push_back(nullptr);
  for (auto& entry : plan.env_storage) plan.envp.push_back(entry.data());
  plan.envp.push_back(nullptr);
  return plan;
}

// The init's own binary while the child execs it (close-on-exec: the init never sees it).
constexpr int kInitExeFd = 5;

// What the child reports when it cannot start the command: an errno, and for a failure before
// exec, the step that failed ("" for exec itself).
struct ChildFailure {
  int err = 0;
  char step[252] = {};
};

void append(char* buffer, std::size_t size, const char* text) {
  std::size_t used = 0;
  while (used + 1 < size && buffer[used]) ++used;
  for (; used + 1 < size && *text; ++used, ++text) buffer[used] = *text;
  buffer[used] = '\0';
}

// Moves `fd` to `target` (no close-on-exec unless `cloexec`), whatever fds it collides with.
bool place_fd(int fd, int target, bool cloexec) {
  if (fd == target) return ::fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0) == 0;
  return ::dup3(fd, target, cloexec ? O_CLOEXEC : 0) >= 0;
}

struct ChildSetup {
  const ExecPlan* plan = nullptr;
  const Credentials* creds = nullptr;
  const SpawnOptions* options = nullptr;
  int error_fd = -1;
  int status_fd = -1;               // isolated: where the init writes the command's status
  int init_exe_fd = -1;             // isolated: cgfw-sandbox's own binary, run as the init
  int cgroup_fd_for_fallback = -1;  // kernels without clone3: join the cgroup here
  std::vector<char*> init_argv;
};

// Runs in the child. Never returns: exec or _exit after reporting the failure on `error_fd`.
[[noreturn]] void exec_child(const ChildSetup& setup) {
  int error_fd = setup.error_fd;
  auto fail = [&](int err, const char* step = "", const char* path = "") {
    ChildFailure failure;
    failure.err = err;
    append(failure.step, sizeof(failure.step), step);
    if (*path) {
      append(failure.step, sizeof(failure.step), " ");
      append(failure.step, sizeof(failure.step), path);
    }
    ssize_t ignored = ::write(error_fd, &failure, sizeof(failure));
    (void)ignored;
    ::_exit(127);
  };
  bool isolated = !setup.options->privileged;
  if (setup.cgroup_fd_for_fallback >= 0) {
    int procs = ::openat(setup.cgroup_fd_for_fallback, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (procs < 0 || ::write(procs, "0", 1) != 1) fail(errno, "join the sandbox cgroup");
  }
  if (isolated) {
    auto failure = apply_isolation(setup.options->isolation);
    if (failure.err) fail(failure.err, failure.step, failure.path);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_DFL);
  // Out of the bounding set, a capability is gone for good: no setuid binary, sudo included,
  // can give it back. Done while still root (it takes CAP_SETPCAP).
  if (isolated) {
    for (int capability : kDroppedCapabilities) {
      if (::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 && errno != EINVAL)
        fail(errno, "drop capabilities");
    }
  }
  const Credentials& creds = *setup.creds;
  if (creds.change) {
    if (::setgroups(creds.groups.size(), creds.groups.data()) != 0) fail(errno, "setgroups");
    if (::setresgid(creds.gid, creds.gid, creds.gid) != 0) fail(errno, "setresgid");
    if (::setresuid(creds.uid, creds.uid, creds.uid) != 0) fail(errno, "setresuid");
  }
  // Out of the way of the targets first, then fd 3 (errors), 4 (status), 5 (the init's binary);
  // everything else above 2 is closed.
  int error_high = ::fcntl(error_fd, F_DUPFD_CLOEXEC, 64);
  int status_high = isolated ? ::fcntl(setup.status_fd, F_DUPFD_CLOEXEC, 64) : -1;
  int exe_high = isolated ? ::fcntl(setup.init_exe_fd, F_DUPFD_CLOEXEC, 64) : -1;
  if (error_high < 0 || (isolated && (status_high < 0 || exe_high < 0))) fail(errno, "dup");
  error_fd = error_high;
  if (!place_fd(error_high, kInitErrorFd, !isolated)) fail(errno, "dup");
  error_fd = kInitErrorFd;
  if (isolated &&
      (!place_fd(status_high, kInitStatusFd, false) || !place_fd(exe_high, kInitExeFd, true)))
    fail(errno, "dup");
  ::syscall(SYS_close_range, isolated ? kInitExeFd + 1U : kInitErrorFd + 1U, ~0U, 0U);
  if (isolated) {
    ::syscall(SYS_execveat, kInitExeFd, "", setup.init_argv.data(), setup.plan->envp.data(),
              AT_EMPTY_PATH);
    fail(errno, "start the sandbox's init");
  }
  ::execvpe(setup.plan->argv[0], setup.plan->argv.data(), setup.plan->envp.data());
  fail(errno);
  ::_exit(127);  // not reached: fail() exits
}

}  // namespace

Result<Credentials> resolve_credentials(const std::optional<std::string>& user) {
  if (user) {
    unsigned long id = 0;
    const passwd* pw =
        parse_id(*user, id) ? ::getpwuid(static_cast<uid_t>(id)) : ::getpwnam(user->c_str());
    if (!pw) return make_error("--user " + *user + ": no such user");
    return credentials_of(pw, pw->pw_gid);
  }
  const char* sudo_uid = std::getenv("SUDO_UID");
  if (!sudo_uid || ::getuid() != 0) return Credentials{};
  unsigned long uid = 0;
  unsigned long gid = 0;
  const char* sudo_gid = std::getenv("SUDO_GID");
  if (!parse_id(sudo_uid, uid) || (sudo_gid && !parse_id(sudo_gid, gid)))
    return make_error("SUDO_UID/SUDO_GID are not numbers; pass --user USER");
  const passwd* pw = ::getpwuid(static_cast<uid_t>(uid));
  if (!pw) return make_error("SUDO_UID " + std::string(sudo_uid) + " names no user; pass --user");
  return credentials_of(pw, sudo_gid ? static_cast<gid_t>(gid) : pw->pw_gid);
}

Result<Child> spawn_in_cgroup(const std::vector<std::string>& command, int cgroup_fd,
                              const Credentials& credentials, const SpawnOptions& options) {
  ExecPlan plan = make_plan(command, credentials, options.extra_env);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return make_error(std::string("cannot create a pipe: ") + std::strerror(errno));
  UniqueFd error_read(pipe_fds[0]);
  UniqueFd error_write(pipe_fds[1]);

  Child child;
  ChildSetup setup;
  setup.plan = &plan;
  setup.creds = &credentials;
  setup.options = &options;
  setup.error_fd = error_write.get();
  UniqueFd status_write;
  UniqueFd init_exe;
  std::string init_name = kInitArgv0;
  bool isolated = !options.privileged;
  if (isolated) {
    if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0)
      return make_error(std::string("cannot create a pipe: ") + std::strerror(errno));
    child.status_fd.reset(pipe_fds[0]);
    status_write.reset(pipe_fds[1]);
    init_exe.reset(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (!init_exe.valid())
      return make_error(std::string("cannot open cgfw-sandbox's own binary: ") +
                        std::strerror(errno));
    setup.status_fd = status_write.get();
    setup.init_exe_fd = init_exe.get();
    setup.init_argv.push_back(init_name.data());
    for (char* arg : plan.argv) setup.init_argv.push_back(arg);  // ends with its nullptr
  }

  int pidfd = -1;
  std::uint64_t namespaces = isolated ? CLONE_NEWPID | CLONE_NEWNS : 0;
  clone_args args{};
  args.flags = CLONE_INTO_CGROUP | CLONE_PIDFD | namespaces;
  args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
  long pid = ::syscall(SYS_clone3, &args, sizeof(args));
  if (pid < 0 && (errno == ENOSYS || errno == E2BIG || errno == EINVAL)) {
    // Kernel < 5.7: a plain clone, and the child joins the cgroup itself before anything else.
    setup.cgroup_fd_for_fallback = cgroup_fd;
    pid = ::syscall(SYS_clone, namespaces | SIGCHLD, nullptr, nullptr, nullptr, 0);
  }
  if (pid < 0) return make_error(std::string("cannot start the command: ") + std::strerror(errno));
  if (pid == 0) exec_child(setup);

  error_write.reset();
  status_write.reset();
  child.pid = static_cast<pid_t>(pid);
  if (pidfd < 0) pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0));
  child.pidfd.reset(pidfd);

  ChildFailure failure;
  std::size_t got = 0;
  while (got < sizeof(failure)) {
    ssize_t n =
        ::read(error_read.get(), reinterpret_cast<char*>(&failure) + got, sizeof(failure) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got >= sizeof(int)) {
    int status;
    ::waitpid(child.pid, &status, 0);
    failure.step[sizeof(failure.step) - 1] = '\0';
    if (failure.step[0] == '\0') {
      child.exec_errno = failure.err;
    } else {
      return make_error(std::string("cannot isolate the command (") + failure.step +
                        "): " + std::strerror(failure.err));
    }
  }
  return child;
}

std::optional<int> Child::command_wait_status() const {
  int status = 0;
  if (!status_fd.valid() || ::read(status_fd.get(), &status, sizeof(status)) != sizeof(status))
    return std::nullopt;
  return status;
}

}  // namespace cgfw::runner
