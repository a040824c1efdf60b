// The run's control socket: a unix socket in the run directory through which `cgfw ctl` asks
// for status and changes rules and mode while the run goes on. One JSON request per connection,
// one JSON answer. Only root may use it, and never a process of the cgroup being policed (a
// sandboxed root could otherwise allow itself anything): the file is 0600, and every peer's
// credentials and cgroup are checked.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "common/result.h"
#include "runner/control_request.h"

namespace cgfw::runner {

struct ControlPeer {
  pid_t pid = 0;
  uid_t uid = 0;
  std::string describe() const;  // "uid 0, pid 4242 (cgfw)"
};

class ControlSocket {
 public:
  static constexpr const char* kFileName = "control.sock";
  static constexpr std::size_t kMaxRequestBytes = 64 * 1024;

  // The answer to one well-formed request, from a trusted peer.
  using Handler = std::function<nlohmann::json(const ControlRequest& request, const ControlPeer&)>;
  // True when the peer runs inside the policed cgroup (refused).
  using InsidePoliced = std::function<bool(pid_t)>;
  // A peer refused, and why (for the report: an attempt from inside is an escape attempt).
  using OnRefused = std::function<void(const ControlPeer&, const std::string& why)>;

  static Result<std::unique_ptr<ControlSocket>> make(asio::io_context& io,
                                                     const std::string& directory,
                                                     InsidePoliced inside_policed, Handler handler,
                                                     OnRefused on_refused = {});
  ~ControlSocket();  // closes and unlinks it
  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;
  const std::string& path() const { return path_; }

  struct State;  // the acceptor and handlers, shared with the connections (control_socket.cpp)

 private:
  explicit ControlSocket(std::string path) : path_(std::move(path)) {}
  std::string path_;
  std::shared_ptr<State> state_;
};

// The answer for a refused or failed request.
nlohmann::json control_error(const std::string& message);

}  // namespace cgfw::runner
