#include "proxy/dns/dns_proxy.h"

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <deque>

#include <spdlog/spdlog.h>

#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include "proxy/endpoint.h"

namespace cgfw::dns {
namespace {

using asio::ip::tcp;
using asio::ip::udp;

constexpr auto kTcpIdleLimit = std::chrono::seconds(10);
constexpr std::size_t kTcpMaxInFlight = 64;
constexpr auto kExpirySweep = std::chrono::seconds(30);

// One TCP client: length-prefixed messages, several in flight at once (RFC 7766 pipelining),
// answers written in completion order, one idle deadline so a slow client holds nothing long.
class TcpSession : public std::enable_shared_from_this<TcpSession> {
 public:
  TcpSession(tcp::socket socket, ClientInfo client, QueryHandler& handler)
      : socket_(std::move(socket)),
        client_(std::move(client)),
        handler_(handler),
        idle_(socket_.get_executor()) {}

  void start() {
    touch();
    read_length();
  }

 private:
  void touch() {
    idle_.expires_after(kTcpIdleLimit);
    idle_.async_wait([self = shared_from_this()](std::error_code error) {
      if (error) return;
      if (self->in_flight_ == 0)
        self->close();
      else
        self->touch();
    });
  }

  void close() {
    std::error_code ignored;
    socket_.close(ignored);
    idle_.cancel();
  }

  // One read chain per connection: read_length -> read_message -> read_length. It pauses while
  // too many answers are outstanding, and only queue() resumes a paused chain.
  void read_length() {
    if (in_flight_ >= kTcpMaxInFlight) {
      paused_ = true;
      return;
    }
    reading_ = true;
    asio::async_read(socket_, asio::buffer(length_),
                     [self = shared_from_this()](std::error_code error, std::size_t) {
                       self->reading_ = false;
                       if (error) return self->finish_reading();
                       std::size_t size = self->length_[0] << 8 | self->length_[1];
                       if (size < 12) return self->close();
                       self->message_.resize(size);
                       self->read_message();
                     });
  }

  void read_message() {
    reading_ = true;
    asio::async_read(socket_, asio::buffer(message_),
                     [self = shared_from_this()](std::error_code error, std::size_t) {
                       self->reading_ = false;
                       if (error) return self->finish_reading();
                       self->touch();
                       ++self->in_flight_;
                       std::vector<std::uint8_t> query = std::move(self->message_);
                       self->handler_.handle(query, self->client_, /*over_tcp=*/true,
                                             [self](std::vector<std::uint8_t> response) {
                                               self->queue(std::move(response));
                                             });
                       self->read_length();
                     });
  }

  void finish_reading() {
    eof_ = true;
    if (in_flight_ == 0 && writes_.empty()) close();
  }

  void queue(std::vector<std::uint8_t> response) {
    --in_flight_;
    if (response.empty()) {  // not to be answered
      if (paused_ && !eof_) {
        paused_ = false;
        read_length();
      } else if (eof_ && in_flight_ == 0 && writes_.empty()) {
        close();
      }
      return;
    }
    if (response.size() > 65535) response.resize(65535);
    std::vector<std::uint8_t> framed{static_cast<std::uint8_t>(response.size() >> 8),
                                     static_cast<std::uint8_t>(response.size() & 0xff)};
    framed.insert(framed.end(), response.begin(), response.end());
    writes_.push_back(std::move(framed));
    if (!writing_) write_next();
    if (paused_ && !eof_) {
      paused_ = false;
      read_length();
    }
  }

  void write_next() {
    if (writes_.empty()) {
      writing_ = false;
      if (eof_ && in_flight_ == 0) close();
      return;
    }
    writing_ = true;
    asio::async_write(socket_, asio::buffer(writes_.front()),
                      [self = shared_from_this()](std::error_code error, std::size_t) {
                        self->writes_.pop_front();
                        if (error) return self->close();
                        self->write_next();
                      });
  }

  tcp::socket socket_;
  ClientInfo client_;
  QueryHandler& handler_;
  asio::steady_timer idle_;
  std::array<std::uint8_t, 2> length_{};
  std::vector<std::uint8_t> message_;
  std::deque<std::vector<std::uint8_t>> writes_;
  std::size_t in_flight_ = 0;
  bool reading_ = false;
  bool paused_ = false;
  bool writing_ = false;
  bool eof_ = false;
};

// One UDP socket: each datagram is one query; answers go back to the sender.
class UdpListener {
 public:
  UdpListener(udp::socket socket, DnsProxyHooks& hooks, QueryHandler& handler)
      : socket_(std::move(socket)), hooks_(hooks), handler_(handler) {}

  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_), peer_,
                               [this](std::error_code error, std::size_t size) {
                                 if (error == asio::error::operation_aborted) return;
                                 if (!error) serve(size);
                                 receive();
                               });
  }

  std::uint16_t port() const { return socket_.local_endpoint().port(); }

 private:
  void serve(std::size_t size) {
    int family = 0;
    Address address{};
    proxy::endpoint_key(peer_, family, address);
    auto client = hooks_.identify(family, address, peer_.port(), IPPROTO_UDP);
    if (!client) {
      spdlog::debug("DNS proxy: dropped a datagram from {}:{} that no sandboxed socket sent",
                    peer_.address().to_string(), peer_.port());
      return;
    }
    std::vector<std::uint8_t> query(buffer_.begin(), buffer_.begin() + size);
    udp::endpoint peer = peer_;
    handler_.handle(query, *client, /*over_tcp=*/false,
                    [this, peer](std::vector<std::uint8_t> response) {
                      if (response.empty()) return;
                      std::error_code ignored;
                      socket_.send_to(asio::buffer(response), peer, 0, ignored);
                    });
  }

  udp::socket socket_;
  DnsProxyHooks& hooks_;
  QueryHandler& handler_;
  udp::endpoint peer_;
  std::array<std::uint8_t, 65536> buffer_{};
};

class TcpListener {
 public:
  TcpListener(tcp::acceptor acceptor, DnsProxyHooks& hooks, QueryHandler& handler)
      : acceptor_(std::move(acceptor)), hooks_(hooks), handler_(handler) {}

  void accept() {
    acceptor_.async_accept([this](std::error_code error, tcp::socket socket) {
      if (error == asio::error::operation_aborted) return;
      if (!error) serve(std::move(socket));
      accept();
    });
  }

 private:
  void serve(tcp::socket socket) {
    std::error_code ec;
    auto peer = socket.remote_endpoint(ec);
    if (ec) return;
    int family = 0;
    Address address{};
    proxy::endpoint_key(peer, family, address);
    auto client = hooks_.identify(family, address, peer.port(), IPPROTO_TCP);
    if (!client) {
      spdlog::debug("DNS proxy: refused a TCP connection from {}:{} that no sandboxed socket made",
                    peer.address().to_string(), peer.port());
      return;  // closed by the socket's destructor
    }
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<TcpSession>(std::move(socket), std::move(*client), handler_)->start();
  }

  tcp::acceptor acceptor_;
  DnsProxyHooks& hooks_;
  QueryHandler& handler_;
};

// Binds UDP on ADDR:0, then TCP on the same port (retrying on the rare clash).
Result<std::pair<udp::socket, tcp::acceptor>> bind_pair(asio::io_context& io,
                                                        const asio::ip::address& address) {
  for (int attempt = 0; attempt < 32; ++attempt) {
    std::error_code ec;
    udp::socket udp_socket(io);
    udp_socket.open(address.is_v4() ? udp::v4() : udp::v6(), ec);
    if (!ec && address.is_v6()) udp_socket.set_option(asio::ip::v6_only(true), ec);
    if (!ec) udp_socket.bind(udp::endpoint(address, 0), ec);
    if (ec)
      return make_error("DNS proxy: cannot bind UDP on " + address.to_string() + ": " +
                        ec.message());
    auto port = udp_socket.local_endpoint().port();
    tcp::acceptor acceptor(io);
    acceptor.open(address.is_v4() ? tcp::v4() : tcp::v6(), ec);
    if (!ec && address.is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor.bind(tcp::endpoint(address, port), ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) return std::make_pair(std::move(udp_socket), std::move(acceptor));
  }
  return make_error("DNS proxy: no port free for both UDP and TCP on " + address.to_string());
}

}  // namespace

struct DnsProxy::Listeners {
  std::unique_ptr<UdpListener> udp4, udp6;
  std::unique_ptr<TcpListener> tcp4, tcp6;
  std::vector<std::unique_ptr<UdpListener>> more_udp;  // container gateways
  std::vector<std::unique_ptr<TcpListener>> more_tcp;
  std::uint16_t port4 = 0, port6 = 0;
  std::unique_ptr<asio::steady_timer> expiry;
};

DnsProxy::DnsProxy(asio::io_context& io, const DnsProxyConfig& config, const policy::Policy& policy,
                   KernelAllowMap& kernel, DnsProxyHooks hooks)
    : io_(io),
      config_(config),
      hooks_(std::move(hooks)),
      learned_(kernel, config.minimum_lifetime) {
  (void)policy;
}

DnsProxy::~DnsProxy() = default;

Result<std::unique_ptr<DnsProxy>> DnsProxy::make(asio::io_context& io, const DnsProxyConfig& config,
                                                 const policy::Policy& policy,
                                                 KernelAllowMap& kernel, DnsProxyHooks hooks) {
  std::unique_ptr<DnsProxy> proxy(new DnsProxy(io, config, policy, kernel, std::move(hooks)));
  auto over_udp = Upstream::make(io, config.upstream);
  if (!over_udp) return over_udp.error();
  UpstreamConfig tcp_config = config.upstream;
  tcp_config.use_tcp = true;
  auto over_tcp = Upstream::make(io, tcp_config);
  if (!over_tcp) return over_tcp.error();
  proxy->over_udp_ = std::move(*over_udp);
  proxy->over_tcp_ = std::move(*over_tcp);
  proxy->handler_ =
      std::make_unique<QueryHandler>(config.policy, policy, proxy->learned_, *proxy->over_udp_,
                                     *proxy->over_tcp_, proxy->hooks_.observe);

  auto v4 = bind_pair(io, asio::ip::make_address("127.0.0.1"));
  if (!v4) return v4.error();
  auto v6 = bind_pair(io, asio::ip::make_address("::1"));
  if (!v6) return v6.error();
  auto listeners = std::make_unique<Listeners>();
  listeners->port4 = v4->first.local_endpoint().port();
  listeners->port6 = v6->first.local_endpoint().port();
  listeners->udp4 =
      std::make_unique<UdpListener>(std::move(v4->first), proxy->hooks_, *proxy->handler_);
  listeners->tcp4 =
      std::make_unique<TcpListener>(std::move(v4->second), proxy->hooks_, *proxy->handler_);
  listeners->udp6 =
      std::make_unique<UdpListener>(std::move(v6->first), proxy->hooks_, *proxy->handler_);
  listeners->tcp6 =
      std::make_unique<TcpListener>(std::move(v6->second), proxy->hooks_, *proxy->handler_);
  listeners->expiry = std::make_unique<asio::steady_timer>(io);
  proxy->listeners_ = std::move(listeners);
  return proxy;
}

void DnsProxy::start() {
  listeners_->udp4->receive();
  listeners_->udp6->receive();
  listeners_->tcp4->accept();
  listeners_->tcp6->accept();
  schedule_expiry();
}

void DnsProxy::schedule_expiry() {
  // Expired addresses leave the kernel map on a timer (at least twice per minimum lifetime);
  // connections already open keep going.
  auto half = std::chrono::duration_cast<std::chrono::milliseconds>(config_.minimum_lifetime) / 2;
  listeners_->expiry->expires_after(
      std::clamp<std::chrono::milliseconds>(half, std::chrono::milliseconds(500), kExpirySweep));
  listeners_->expiry->async_wait([this](std::error_code error) {
    if (error) return;
    learned_.expire(LearnedTable::Clock::now());
    schedule_expiry();
  });
}

Status DnsProxy::listen_also(const std::string& text) {
  std::error_code ec;
  auto address = asio::ip::make_address_v4(text, ec);
  if (ec) return make_error("DNS proxy: not an IPv4 address: " + text);
  const std::uint16_t port = listeners_->port4;
  udp::socket udp_socket(io_);
  udp_socket.open(udp::v4(), ec);
  if (!ec) udp_socket.bind(udp::endpoint(address, port), ec);
  tcp::acceptor acceptor(io_);
  if (!ec) acceptor.open(tcp::v4(), ec);
  if (!ec) acceptor.bind(tcp::endpoint(address, port), ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return make_error("DNS proxy: cannot listen on " + text + ":" + std::to_string(port) + ": " +
                      ec.message());
  auto& udp_listener = listeners_->more_udp.emplace_back(
      std::make_unique<UdpListener>(std::move(udp_socket), hooks_, *handler_));
  auto& tcp_listener = listeners_->more_tcp.emplace_back(
      std::make_unique<TcpListener>(std::move(acceptor), hooks_, *handler_));
  udp_listener->receive();
  tcp_listener->accept();
  return Ok{};
}

std::uint16_t DnsProxy::port4() const { return listeners_->port4; }
std::uint16_t DnsProxy::port6() const { return listeners_->port6; }
std::vector<std::string> DnsProxy::upstream_servers() const { return over_udp_->servers(); }

}  // namespace cgfw::dns
