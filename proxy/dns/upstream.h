// The DNS proxy's way out: c-ares, driven by the run's asio loop (socket-state callback,
// ares_process_fd, ares_timeout), forwarding raw queries with ares_send.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include "common/result.h"

namespace cgfw::dns {

struct UpstreamConfig {
  // "198.51.100.53", "198.51.100.53:5353", "[2001:db8::53]:53". Empty: /etc/resolv.conf's.
  std::vector<std::string> servers;
  bool use_tcp = false;  // ARES_FLAG_USEVC: every query over TCP (for clients that came by TCP)
  int timeout_ms = 2000;
  int tries = 2;
};

// The answer bytes on success, or an empty vector and a reason.
using UpstreamCallback = std::function<void(std::vector<std::uint8_t> answer, std::string error)>;

class Upstream {
 public:
  static Result<std::unique_ptr<Upstream>> make(asio::io_context& io, const UpstreamConfig& config);
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  // Forwards `query` (a whole DNS message). The query id is replaced by one unique among the
  // queries in flight — c-ares matches answers by id, and two clients may well use the same
  // one — and the client's id is put back into the answer before `done` runs.
  void forward(std::span<const std::uint8_t> query, UpstreamCallback done);

  // The servers c-ares uses, as "ADDR:PORT" (for the report and for refusing them to the job).
  std::vector<std::string> servers() const;

 private:
  struct Watch;
  struct Pending;
  explicit Upstream(asio::io_context& io);
  static void on_socket_state(void* self, int fd, int readable, int writable);
  static void on_answer(void* arg, int status, int timeouts, unsigned char* answer, int length);
  void arm(int fd);
  void rearm_timer();
  std::uint16_t free_id();

  asio::io_context& io_;
  void* channel_ = nullptr;  // ares_channel
  std::map<int, std::unique_ptr<Watch>> watches_;
  std::map<std::uint16_t, std::unique_ptr<Pending>> pending_;
  asio::steady_timer timer_;
  std::uint32_t id_seed_;
};

}  // namespace cgfw::dns
