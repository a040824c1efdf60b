// Passthrough: bytes between the client and the server, untouched, with splice(2) through a pipe
// per direction (no copy into user space), until both directions have ended.
#pragma once

#include <cstdint>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

namespace cgfw::tls {

struct RelayTotals {
  std::uint64_t up = 0;    // client -> server
  std::uint64_t down = 0;  // server -> client
};

// Relays until both sides have finished sending (a FIN is passed on as a write shutdown) or an
// error ends the connection. Both sockets must be connected; they are closed on return.
asio::awaitable<RelayTotals> relay(asio::ip::tcp::socket& client, asio::ip::tcp::socket& server);

}  // namespace cgfw::tls
