#include "runner/sandbox_init.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace cgfw::runner {
namespace {

void write_all(int fd, const void* data, std::size_t size) {
  ssize_t ignored = ::write(fd, data, size);
  (void)ignored;
}

int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

void run_sandbox_init(char** command) {
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ::fcntl(kInitErrorFd, F_SETFD, FD_CLOEXEC);
  ::fcntl(kInitStatusFd, F_SETFD, FD_CLOEXEC);
  // Every signal waits in the mask, so none is lost between fork and the first wait. (A PID 1
  // would ignore default-action signals; blocked ones are queued for it instead.)
  sigset_t all;
  sigset_t none;
  ::sigfillset(&all);
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);

  pid_t command_pid = ::fork();
  if (command_pid < 0) {
    int err = errno;
    write_all(kInitErrorFd, &err, sizeof(err));
    ::_exit(127);
  }
  if (command_pid == 0) {
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvp(command[0], command);
    int err = errno;
    write_all(kInitErrorFd, &err, sizeof(err));
    ::_exit(127);
  }
  ::close(kInitErrorFd);

  while (true) {
    siginfo_t info;
    int sig = ::sigwaitinfo(&all, &info);
    if (sig < 0) continue;
    if (sig == SIGCHLD) {
      int status = 0;
      pid_t done;
      while ((done = ::waitpid(-1, &status, WNOHANG)) > 0) {
        if (done != command_pid) continue;  // an orphan, reaped
        write_all(kInitStatusFd, &status, sizeof(status));
        ::_exit(exit_code_of(status));  // the kernel kills whatever is left in the namespace
      }
      continue;
    }
    // Job-control stops would freeze the whole sandbox behind its init.
    if (sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) continue;
    ::kill(command_pid, sig);
  }
}

}  // namespace cgfw::runner
