// The event loop of a running sandbox: flow and exec events, signals (forwarded, or in attach
// mode the end of the run), the child's exit, and the watchdog's health, on the run's one asio
// io_context (the proxies share it).
#pragma once

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include "runner/data_plane.h"
#include "runner/exec_tracker.h"

namespace cgfw::runner {

class RunLoop {
 public:
  // kForward: signals to cgfw go on to the child (the command cgfw started). kStop: a signal
  // ends the loop (attach mode: the process is not cgfw's to signal).
  enum class Signals { kForward, kStop };

  // `child_pidfd` belongs to the command cgfw started, or (attach mode, kStop) to the attached
  // process, which is not cgfw's child: it ends the loop without a status; -1 (an attached
  // cgroup): only a signal ends it. `watchdog_pidfd` -1: no watchdog to watch.
  RunLoop(asio::io_context& io, DataPlane& plane, ExecTracker* execs, pid_t child, int child_pidfd,
          int watchdog_pidfd, int signal_fd, Signals signals = Signals::kForward)
      : io_(io),
        plane_(plane),
        execs_(execs),
        child_(child),
        signal_mode_(signals),
        events_(io_, ::dup(plane.events_epoll_fd())),
        exec_events_(io_, ::dup(execs ? execs->epoll_fd() : plane.events_epoll_fd())),
        child_exit_(io_),
        watchdog_exit_(io_),
        signals_(io_, ::dup(signal_fd)) {
    if (child_pidfd >= 0) child_exit_.assign(::dup(child_pidfd));
    if (watchdog_pidfd >= 0) watchdog_exit_.assign(::dup(watchdog_pidfd));
  }

  // Runs until the child exits or the watchdog dies.
  void run() {
    wait_events();
    if (execs_) wait_exec_events();
    wait_signals();
    // Every handler checks for cancellation before touching `this`: cancelled waits complete
    // after the loop object is gone (the teardown still polls the io_context).
    if (child_exit_.is_open())
      child_exit_.async_wait(asio::posix::descriptor_base::wait_read,
                             [this](std::error_code error) {
                               if (error) return;
                               siginfo_t info{};
                               if (signal_mode_ == Signals::kForward &&
                                   ::waitid(P_PID, static_cast<id_t>(child_), &info, WEXITED) == 0)
                                 status_ = info;
                               child_exited_ = true;
                               io_.stop();
                             });
    if (watchdog_exit_.is_open())
      watchdog_exit_.async_wait(asio::posix::descriptor_base::wait_read,
                                [this](std::error_code error) {
                                  if (error) return;
                                  watchdog_died_ = true;
                                  io_.stop();
                                });
    io_.restart();
    io_.run();
  }

  std::optional<siginfo_t> child_status() const { return status_; }
  bool child_exited() const { return child_exited_; }
  bool watchdog_died() const { return watchdog_died_; }
  int stop_signal() const { return stop_signal_; }  // kStop: the signal that ended it; 0: none

 private:
  void wait_events() {
    events_.async_wait(asio::posix::descriptor_base::wait_read, [this](std::error_code error) {
      if (error) return;
      // Execs first: a flow's process exec'd before it connected, so its record is there.
      if (execs_) execs_->consume();
      plane_.consume_events();
      wait_events();
    });
  }

  void wait_exec_events() {
    exec_events_.async_wait(asio::posix::descriptor_base::wait_read, [this](std::error_code error) {
      if (error) return;
      execs_->consume();
      wait_exec_events();
    });
  }

  void wait_signals() {
    signals_.async_wait(asio::posix::descriptor_base::wait_read, [this](std::error_code error) {
      if (error) return;
      signalfd_siginfo info{};
      while (::read(signals_.native_handle(), &info, sizeof(info)) == sizeof(info)) {
        // A terminal's Ctrl-C already reached the child (same process group): only signals sent
        // to cgfw alone (kill, timeout, the CI runner) are forwarded.
        if (signal_mode_ == Signals::kStop) {
          stop_signal_ = static_cast<int>(info.ssi_signo);
          io_.stop();
          return;
        }
        if (info.ssi_code != SI_KERNEL) ::kill(child_, static_cast<int>(info.ssi_signo));
      }
      wait_signals();
    });
  }

  asio::io_context& io_;
  DataPlane& plane_;
  ExecTracker* execs_;
  pid_t child_;
  Signals signal_mode_;
  asio::posix::stream_descriptor events_;
  asio::posix::stream_descriptor exec_events_;
  asio::posix::stream_descriptor child_exit_;
  asio::posix::stream_descriptor watchdog_exit_;
  asio::posix::stream_descriptor signals_;
  std::optional<siginfo_t> status_;
  bool child_exited_ = false;
  bool watchdog_died_ = false;
  int stop_signal_ = 0;
};

}  // namespace cgfw::runner
