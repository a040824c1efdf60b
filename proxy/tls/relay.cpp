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

// The pipe between the two sockets. The default 64 KiB made a bulk download cost a wake-up and
// four system calls per 64 KiB; 1 MiB (the default fs.pipe-max-size) lets each splice move what
// the socket has. If the kernel refuses the size, the default pipe still works, only slower.
constexpr int kPipeSize = 1 << 20;

// One direction. Returns the bytes moved; a FIN from `from` becomes a write shutdown on `to`.
asio::awaitable<std::uint64_t> pump(tcp::socket& from, tcp::socket& to) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) co_return 0;
  UniqueFd pipe_read(pipe_fds[0]);
  UniqueFd pipe_write(pipe_fds[1]);
  int resized = ::fcntl(pipe_write.get(), F_SETPIPE_SZ, kPipeSize);
  std::size_t capacity = static_cast<std::size_t>(resized > 0 ? resized : 1 << 16);
  auto wait = [](tcp::socket& socket, tcp::socket::wait_type what) {
    return socket.async_wait(what, asio::experimental::as_tuple(asio::use_awaitable));
  };
  std::uint64_t total = 0;
  std::size_t in_pipe = 0;
  bool eof = false;
  bool failed = false;
  std::error_code ignored;
  while (!failed && (!eof || in_pipe > 0)) {
    bool moved = false;
    bool write_blocked = false;
    if (!eof && in_pipe < capacity) {
      ssize_t n = ::splice(from.native_handle(), nullptr, pipe_write.get(), nullptr,
                           capacity - in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        in_pipe += static_cast<std::size_t>(n);
        moved = true;
      } else if (n == 0) {
        eof = true;
        moved = true;
      } else if (errno != EAGAIN && errno != EINTR) {
        failed = true;
        break;
      }
    }
    if (in_pipe > 0) {
      ssize_t n = ::splice(pipe_read.get(), nullptr, to.native_handle(), nullptr, in_pipe,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        in_pipe -= static_cast<std::size_t>(n);
        total += static_cast<std::uint64_t>(n);
        moved = true;
      } else if (n < 0 && errno == EAGAIN) {
        write_blocked = true;
      } else if (n < 0 && errno != EINTR) {
        failed = true;
        break;
      }
    }
    if (moved) continue;
    // Nothing moved: wait for the side that holds things up. Data already in the pipe goes
    // first, so a blocked writer is waited for before more is read.
    auto [error] = write_blocked ? co_await wait(to, tcp::socket::wait_write)
                                 : co_await wait(from, tcp::socket::wait_read);
    if (error) failed = true;
  }
  if (!failed && eof && in_pipe == 0) {
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
