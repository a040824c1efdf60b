#include "proxy/tls/relay.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/use_awaitable.hpp>

#include "runner/unique_fd.h"

namespace cgfw::tls {
namespace {

using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

constexpr std::size_t kChunk = 1 << 16;

// One direction. Returns the bytes moved; a FIN from `from` becomes a write shutdown on `to`.
asio::awaitable<std::uint64_t> pump(tcp::socket& from, tcp::socket& to) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) co_return 0;
  UniqueFd pipe_read(pipe_fds[0]);
  UniqueFd pipe_write(pipe_fds[1]);
  std::uint64_t total = 0;
  std::size_t in_pipe = 0;
  bool eof = false;
  std::error_code ignored;
  while (!eof || in_pipe > 0) {
    if (!eof && in_pipe == 0) {
      ssize_t n = ::splice(from.native_handle(), nullptr, pipe_write.get(), nullptr, kChunk,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        in_pipe += static_cast<std::size_t>(n);
      } else if (n == 0) {
        eof = true;
      } else if (errno == EAGAIN) {
        auto [error] = co_await from.async_wait(tcp::socket::wait_read,
                                                asio::experimental::as_tuple(asio::use_awaitable));
        if (error) break;
        continue;
      } else if (errno != EINTR) {
        break;
      }
    }
    if (in_pipe > 0) {
      ssize_t n = ::splice(pipe_read.get(), nullptr, to.native_handle(), nullptr, in_pipe,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        in_pipe -= static_cast<std::size_t>(n);
        total += static_cast<std::uint64_t>(n);
      } else if (n < 0 && errno == EAGAIN) {
        auto [error] = co_await to.async_wait(tcp::socket::wait_write,
                                              asio::experimental::as_tuple(asio::use_awaitable));
        if (error) break;
      } else if (n < 0 && errno != EINTR) {
        break;
      }
    }
  }
  if (eof && in_pipe == 0) {
    to.shutdown(tcp::socket::shutdown_send, ignored);
  } else {
    // An error on either side ends the whole connection, not just this direction.
    from.close(ignored);
    to.close(ignored);
  }
  co_return total;
}

}  // namespace

asio::awaitable<RelayTotals> relay(tcp::socket& client, tcp::socket& server) {
  client.non_blocking(true);
  server.non_blocking(true);
  auto [up, down] = co_await (pump(client, server) && pump(server, client));
  std::error_code ignored;
  client.close(ignored);
  server.close(ignored);
  co_return RelayTotals{up, down};
}

}  // namespace cgfw::tls
