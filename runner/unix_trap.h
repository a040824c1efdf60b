// Traps for the unix sockets that lead out of the sandbox (docker, containerd, systemd, ...).
//
// Inside the sandbox's mount namespace each such socket is covered by a bind mount of one of
// these listening sockets. Whatever path a process takes to the daemon's socket (its name, a
// symlink, a hard link, /proc/PID/root/...) resolves to the covered inode, so it reaches cgfw's
// listener instead: the connection is closed at once and the attempt recorded with the peer's
// pid from SO_PEERCRED. The kernel's cgroup/connect_unix hook could refuse only by the path the
// caller wrote, which a symlink or a relative path gets around.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "common/result.h"
#include "reports/event.h"

namespace cgfw::runner {

class UnixSocketTraps {
 public:
  // `index`: which trap was connected to; `pid`: the connecting process (host pid; 0 unknown).
  using OnAttempt = std::function<void(std::size_t index, pid_t pid)>;

  // `count` listening sockets in `directory`, mode 0666 (any user inside may connect, and is
  // then recorded rather than refused unseen). Accepting starts at once, on `io`.
  static Result<std::unique_ptr<UnixSocketTraps>> make(asio::io_context& io,
                                                       const std::string& directory,
                                                       std::size_t count, OnAttempt on_attempt);
  ~UnixSocketTraps();  // closes and removes the sockets
  UnixSocketTraps(const UnixSocketTraps&) = delete;
  UnixSocketTraps& operator=(const UnixSocketTraps&) = delete;

  // The file of trap `index`: what is bind-mounted over the daemon's socket.
  const std::string& trap_path(std::size_t index) const;

 private:
  struct Trap;
  UnixSocketTraps() = default;
  OnAttempt on_attempt_;  // before traps_: they call it
  std::vector<std::unique_ptr<Trap>> traps_;
};

// The report's record of one attempt: `socket` is the daemon's socket, `daemon` says who
// listens there (kDeniedUnixSockets). Blocked in every mode; --allow-unix opens it.
reports::Event unix_attempt_event(const std::string& socket, const std::string& daemon,
                                  reports::ProcessRecord process);

}  // namespace cgfw::runner
