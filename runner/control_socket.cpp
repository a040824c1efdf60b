#include "runner/control_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <fstream>

#include <spdlog/spdlog.h>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

namespace cgfw::runner {

using asio::local::stream_protocol;

namespace {

// A client that connects and says nothing must not hold a connection forever.
constexpr auto kRequestDeadline = std::chrono::seconds(5);

std::string comm_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

}  // namespace

std::string ControlPeer::describe() const {
  std::string comm = comm_of(pid);
  return "uid " + std::to_string(uid) + ", pid " + std::to_string(pid) +
         (comm.empty() ? "" : " (" + comm + ")");
}

nlohmann::json control_error(const std::string& message) {
  return {{"ok", false}, {"message", message}};
}

struct ControlSocket::State {
  State(asio::io_context& io, InsidePoliced inside, Handler handler, OnRefused on_refused)
      : io(io),
        acceptor(io),
        inside_policed(std::move(inside)),
        handler(std::move(handler)),
        on_refused(std::move(on_refused)) {}
  asio::io_context& io;
  stream_protocol::acceptor acceptor;
  InsidePoliced inside_policed;
  Handler handler;
  OnRefused on_refused;
};

namespace {

// One connection: read one line (or to end of file), answer, close.
struct Session : std::enable_shared_from_this<Session> {
  Session(asio::io_context& io, stream_protocol::socket socket, ControlPeer peer,
          std::weak_ptr<ControlSocket::State> state)
      : socket(std::move(socket)), deadline(io), peer(peer), state(std::move(state)) {}

  void start() {
    deadline.expires_after(kRequestDeadline);
    deadline.async_wait([self = shared_from_this()](std::error_code error) {
      if (!error) {
        std::error_code ignored;
        self->socket.close(ignored);
      }
    });
    read();
  }

  void read() {
    socket.async_read_some(asio::buffer(chunk),
                           [self = shared_from_this()](std::error_code error, std::size_t n) {
                             self->on_read(error, n);
                           });
  }

  void on_read(std::error_code error, std::size_t n) {
    if (error && error != asio::error::eof) return;  // closed by the deadline, or gone
    request.append(chunk.data(), n);
    if (request.size() > ControlSocket::kMaxRequestBytes)
      return answer(control_error("the request is larger than 64 KiB"));
    const auto newline = request.find('\n');
    if (newline == std::string::npos && !error) return read();
    if (newline != std::string::npos) request.resize(newline);
    auto parsed = parse_control_request(request);
    if (!parsed) return answer(control_error(parsed.error().message));
    auto owner = state.lock();
    if (!owner) return;
    answer(owner->handler(*parsed, peer));
  }

  void answer(const nlohmann::json& response) {
    reply = response.dump() + "\n";
    asio::async_write(socket, asio::buffer(reply),
                      [self = shared_from_this()](std::error_code, std::size_t) {
                        std::error_code ignored;
                        self->deadline.cancel();
                        self->socket.close(ignored);
                      });
  }

  stream_protocol::socket socket;
  asio::steady_timer deadline;
  ControlPeer peer;
  std::weak_ptr<ControlSocket::State> state;
  std::array<char, 4096> chunk{};
  std::string request;
  std::string reply;
};

// The peer's cgroup was read from /proc/PID: true if PID was still the process that connected
// then (its pidfd shows no exit), so a process of the policed cgroup cannot connect, exit, and
// leave its pid to an outside process before the check. Kernels without SO_PEERPIDFD (< 6.5):
// the pid alone.
bool still_the_peer(int socket_fd) {
#ifndef SO_PEERPIDFD
  constexpr int SO_PEERPIDFD = 77;
#endif
  int pidfd = -1;
  socklen_t length = sizeof(pidfd);
  if (::getsockopt(socket_fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &length) != 0)
    return errno == ENOPROTOOPT;
  pollfd exited{pidfd, POLLIN, 0};
  const bool alive = ::poll(&exited, 1, 0) == 0;
  ::close(pidfd);
  return alive;
}

void accept(const std::shared_ptr<ControlSocket::State>& state) {
  state->acceptor.async_accept([weak = std::weak_ptr(state)](std::error_code error,
                                                             stream_protocol::socket peer_socket) {
    auto state = weak.lock();
    if (!state || error == asio::error::operation_aborted) return;
    if (!error) {
      ucred credentials{};
      socklen_t length = sizeof(credentials);
      ControlPeer peer;
      if (::getsockopt(peer_socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &credentials,
                       &length) == 0) {
        peer.pid = credentials.pid;
        peer.uid = credentials.uid;
      } else {
        peer.uid = static_cast<uid_t>(-1);
      }
      const int peer_socket_fd = peer_socket.native_handle();
      auto session =
          std::make_shared<Session>(state->io, std::move(peer_socket), peer, std::weak_ptr(state));
      std::string refused;
      if (peer.uid != 0)
        refused = "only root may control a cgfw run";
      else if (peer.pid <= 0 || state->inside_policed(peer.pid) || !still_the_peer(peer_socket_fd))
        refused = "a process of the policed cgroup may not control the run that polices it";
      if (!refused.empty()) {
        spdlog::warn("control socket: refused {}: {}", peer.describe(), refused);
        if (state->on_refused) state->on_refused(peer, refused);
        session->answer(control_error(refused));
      } else {
        session->start();
      }
    }
    accept(state);
  });
}

}  // namespace

Result<std::unique_ptr<ControlSocket>> ControlSocket::make(asio::io_context& io,
                                                           const std::string& directory,
                                                           InsidePoliced inside_policed,
                                                           Handler handler, OnRefused on_refused) {
  std::unique_ptr<ControlSocket> control(new ControlSocket(directory + "/" + kFileName));
  control->state_ = std::make_shared<State>(io, std::move(inside_policed), std::move(handler),
                                            std::move(on_refused));
  auto& acceptor = control->state_->acceptor;
  std::error_code error;
  // Created 0600 from the start: no moment when another user could connect.
  const mode_t old_umask = ::umask(0177);
  acceptor.open(stream_protocol(), error);
  if (!error) acceptor.bind(stream_protocol::endpoint(control->path_), error);
  ::umask(old_umask);
  if (!error) acceptor.listen(16, error);
  if (error)
    return make_error("cannot create the control socket " + control->path_ + ": " +
                      error.message());
  accept(control->state_);
  return control;
}

ControlSocket::~ControlSocket() {
  std::error_code ignored;
  state_->acceptor.close(ignored);
  ::unlink(path_.c_str());
}

}  // namespace cgfw::runner
