// HTTP/1.1 between a sandboxed client and a server, request by request: each request head is
// checked (URL rules, Host, smuggling tricks) before any of it reaches the server; refused
// requests get a 403 that says why. Used for plain HTTP and for intercepted TLS alike.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "policy/rule.h"
#include "proxy/tls/tls_channel.h"
#include "proxy/tls/web_proxy.h"

namespace cgfw::tls {

// A byte stream the session reads and writes: a TCP socket, or a TLS channel over one.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual asio::awaitable<std::size_t> read_some(std::span<std::uint8_t> buffer) = 0;
  virtual asio::awaitable<bool> write_all(std::span<const std::uint8_t> bytes) = 0;
  virtual asio::awaitable<void> close() = 0;
};

class TcpStream : public ByteStream {
 public:
  explicit TcpStream(asio::ip::tcp::socket& socket) : socket_(socket) {}
  asio::awaitable<std::size_t> read_some(std::span<std::uint8_t> buffer) override;
  asio::awaitable<bool> write_all(std::span<const std::uint8_t> bytes) override;
  asio::awaitable<void> close() override;

 private:
  asio::ip::tcp::socket& socket_;
};

class TlsStream : public ByteStream {
 public:
  explicit TlsStream(std::unique_ptr<TlsChannel> channel) : channel_(std::move(channel)) {}
  asio::awaitable<std::size_t> read_some(std::span<std::uint8_t> buffer) override;
  asio::awaitable<bool> write_all(std::span<const std::uint8_t> bytes) override;
  asio::awaitable<void> close() override;

 private:
  std::unique_ptr<TlsChannel> channel_;
};

// Opens the way to the server on first use; an empty pointer and a reason when it cannot.
struct Upstream {
  std::unique_ptr<asio::ip::tcp::socket> socket;
  std::unique_ptr<ByteStream> stream;
  std::string error;
};
using ConnectUpstream = std::function<asio::awaitable<Upstream>()>;

struct SessionContext {
  const policy::Policy* policy = nullptr;
  std::string scheme;    // "http" or "https"
  std::string tls_name;  // https: the SNI the client used; http: ""
  WebClient client;
  // http: is the destination address bound to this Host (resolved for it, or an IP rule)?
  std::function<bool(const std::string& host)> host_bound;
  std::function<void(const WebObservation&)> observe;
  std::string policy_sources;  // named in the 403 body
};

asio::awaitable<void> http_session(ByteStream& client, const SessionContext& context,
                                   ConnectUpstream connect_upstream);

// The body of a 403 from cgfw: what was refused, why, and the rule that would allow it.
std::string blocked_response(const std::string& url, const std::string& reason,
                             const std::string& suggested_rule, const std::string& sources);

}  // namespace cgfw::tls
