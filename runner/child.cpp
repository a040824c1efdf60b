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

// Runs in the child. Never returns: exec or _exit after reporting errno on `error_fd`.
[[noreturn]] void exec_child(const ExecPlan& plan, const Credentials& creds, int error_fd,
                             int cgroup_fd_for_fallback, bool privileged) {
  auto fail = [&](int err) {
    ssize_t ignored = ::write(error_fd, &err, sizeof(err));
    (void)ignored;
    ::_exit(127);
  };
  if (cgroup_fd_for_fallback >= 0) {
    int procs = ::openat(cgroup_fd_for_fallback, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (procs < 0 || ::write(procs, "0", 1) != 1) fail(errno);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_DFL);
  // Out of the bounding set, a capability is gone for good: no setuid binary, sudo included,
  // can give it back. Done while still root (it takes CAP_SETPCAP).
  if (!privileged) {
    for (int capability : kDroppedCapabilities) {
      if (::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 && errno != EINVAL) fail(errno);
    }
  }
  if (creds.change) {
    if (::setgroups(creds.groups.size(), creds.groups.data()) != 0) fail(errno);
    if (::setresgid(creds.gid, creds.gid, creds.gid) != 0) fail(errno);
    if (::setresuid(creds.uid, creds.uid, creds.uid) != 0) fail(errno);
  }
  // Keep the error pipe as fd 3 (close-on-exec), close everything else above 2.
  if (error_fd != 3) {
    if (::dup3(error_fd, 3, O_CLOEXEC) < 0) fail(errno);
  }
  ::syscall(SYS_close_range, 4U, ~0U, 0U);
  ::execvpe(plan.argv[0], plan.argv.data(), plan.envp.data());
  int err = errno;
  ssize_t ignored = ::write(3, &err, sizeof(err));
  (void)ignored;
  ::_exit(127);
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
                              const Credentials& credentials,
                              const std::vector<std::string>& extra_env, bool privileged) {
  ExecPlan plan = make_plan(command, credentials, extra_env);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return make_error(std::string("cannot create a pipe: ") + std::strerror(errno));
  UniqueFd error_read(pipe_fds[0]);
  UniqueFd error_write(pipe_fds[1]);

  Child child;
  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_INTO_CGROUP | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
  long pid = ::syscall(SYS_clone3, &args, sizeof(args));
  int fallback_cgroup_fd = -1;
  if (pid < 0 && (errno == ENOSYS || errno == E2BIG || errno == EINVAL)) {
    // Kernel < 5.7: fork, and the child joins the cgroup itself before exec.
    fallback_cgroup_fd = cgroup_fd;
    pid = ::fork();
  }
  if (pid < 0) return make_error(std::string("cannot start the command: ") + std::strerror(errno));
  if (pid == 0) exec_child(plan, credentials, error_write.get(), fallback_cgroup_fd, privileged);

  error_write.reset();
  child.pid = static_cast<pid_t>(pid);
  if (pidfd < 0) pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0));
  child.pidfd.reset(pidfd);

  int err = 0;
  ssize_t n;
  do {
    n = ::read(error_read.get(), &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  if (n == sizeof(err)) {
    child.exec_errno = err;
    int status;
    ::waitpid(child.pid, &status, 0);
  }
  return child;
}

}  // namespace cgfw::runner
