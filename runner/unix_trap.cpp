#include "runner/unix_trap.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/local/stream_protocol.hpp>

namespace cgfw::runner {

using asio::local::stream_protocol;

struct UnixSocketTraps::Trap {
  Trap(asio::io_context& io, std::size_t index, std::string path, const OnAttempt& on_attempt)
      : acceptor(io), index(index), path(std::move(path)), on_attempt(on_attempt) {}

  void accept() {
    acceptor.async_accept([this](std::error_code error, stream_protocol::socket peer) {
      if (error == asio::error::operation_aborted) return;
      if (!error) {
        ucred credentials{};
        socklen_t length = sizeof(credentials);
        if (::getsockopt(peer.native_handle(), SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0)
          credentials.pid = 0;
        on_attempt(index, credentials.pid);
      }
      accept();  // `peer` closes as it goes out of scope: the caller reads end of file
    });
  }

  stream_protocol::acceptor acceptor;
  std::size_t index;
  std::string path;
  const OnAttempt& on_attempt;
};

Result<std::unique_ptr<UnixSocketTraps>> UnixSocketTraps::make(asio::io_context& io,
                                                               const std::string& directory,
                                                               std::size_t count,
                                                               OnAttempt on_attempt) {
  std::unique_ptr<UnixSocketTraps> traps(new UnixSocketTraps());
  traps->on_attempt_ = std::move(on_attempt);
  for (std::size_t i = 0; i < count; ++i) {
    auto trap = std::make_unique<Trap>(
        io, i, directory + "/unix-trap-" + std::to_string(i) + ".sock", traps->on_attempt_);
    std::error_code error;
    trap->acceptor.open(stream_protocol(), error);
    if (!error) trap->acceptor.bind(stream_protocol::endpoint(trap->path), error);
    if (!error) trap->acceptor.listen(asio::socket_base::max_listen_connections, error);
    if (error)
      return make_error("cannot create the unix socket trap " + trap->path + ": " +
                        error.message());
    ::chmod(trap->path.c_str(), 0666);
    trap->accept();
    traps->traps_.push_back(std::move(trap));
  }
  return traps;
}

UnixSocketTraps::~UnixSocketTraps() {
  for (auto& trap : traps_) {
    std::error_code ignored;
    trap->acceptor.close(ignored);
    ::unlink(trap->path.c_str());
  }
}

const std::string& UnixSocketTraps::trap_path(std::size_t index) const {
  return traps_.at(index)->path;
}

reports::Event unix_attempt_event(const std::string& socket, const std::string& daemon,
                                  reports::ProcessRecord process) {
  reports::Event event;
  event.time = std::chrono::system_clock::now();
  event.layer = reports::Layer::unix_socket;
  event.decision = reports::Decision::blocked;
  event.protocol = "unix";
  event.path = socket;
  event.reason = "unix socket of " + daemon + "; hidden in the sandbox";
  event.suggested_rule = "--allow-unix " + socket;
  event.process = std::move(process);
  return event;
}

}  // namespace cgfw::runner
