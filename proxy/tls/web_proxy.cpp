#include "proxy/tls/web_proxy.h"

#include <netinet/in.h>

#include <chrono>

#include <spdlog/spdlog.h>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include "proxy/endpoint.h"

#include "ca/run_ca.h"
#include "policy/matcher.h"
#include "proxy/http/request_check.h"
#include "proxy/tls/client_hello.h"
#include "proxy/tls/http_session.h"
#include "proxy/tls/relay.h"

namespace cgfw::tls {
namespace {

using asio::ip::tcp;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr auto kHelloDeadline = std::chrono::seconds(10);
constexpr auto kConnectDeadline = std::chrono::seconds(10);
constexpr std::size_t kHelloCap = 16 * 1024 + 5 * 64;

// Closes `socket` if `timer` fires first: every wait on a client has a deadline, so a slow or
// silent client holds nothing for long.
void arm_deadline(asio::steady_timer& timer, tcp::socket& socket,
                  std::chrono::steady_clock::duration limit) {
  timer.expires_after(limit);
  timer.async_wait([&socket](std::error_code error) {
    if (error) return;
    std::error_code ignored;
    socket.close(ignored);
  });
}

tcp::endpoint endpoint_of(const Destination& destination) {
  if (destination.family == AF_INET) {
    asio::ip::address_v4::bytes_type bytes;
    std::copy_n(destination.address.begin(), 4, bytes.begin());
    return {asio::ip::address_v4(bytes), destination.port};
  }
  asio::ip::address_v6::bytes_type bytes;
  std::copy_n(destination.address.begin(), 16, bytes.begin());
  return {asio::ip::address_v6(bytes), destination.port};
}

// A fatal TLS alert record: access_denied (49). The client learns at once that it was refused.
constexpr std::uint8_t kAccessDeniedAlert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x31};

Result<tcp::acceptor> listen_on(asio::io_context& io, const asio::ip::address& address) {
  std::error_code ec;
  tcp::acceptor acceptor(io);
  acceptor.open(address.is_v4() ? tcp::v4() : tcp::v6(), ec);
  if (!ec && address.is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
  if (!ec) acceptor.bind(tcp::endpoint(address, 0), ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return make_error("web proxy: cannot listen on " + address.to_string() + ": " + ec.message());
  return acceptor;
}

}  // namespace

WebProxy::WebProxy(asio::io_context& io, const WebProxyConfig& config, const policy::Policy& policy,
                   const dns::LearnedTable& learned, WebProxyHooks hooks)
    : io_(io),
      config_(config),
      policy_(policy),
      learned_(learned),
      hooks_(std::move(hooks)),
      acceptor4_(io),
      acceptor6_(io) {}

WebProxy::~WebProxy() = default;

Result<std::unique_ptr<WebProxy>> WebProxy::make(asio::io_context& io, const WebProxyConfig& config,
                                                 const policy::Policy& policy,
                                                 const dns::LearnedTable& learned,
                                                 WebProxyHooks hooks) {
  std::unique_ptr<WebProxy> proxy(new WebProxy(io, config, policy, learned, std::move(hooks)));
  auto v4 = listen_on(io, asio::ip::make_address("127.0.0.1"));
  if (!v4) return v4.error();
  auto v6 = listen_on(io, asio::ip::make_address("::1"));
  if (!v6) return v6.error();
  proxy->acceptor4_ = std::move(*v4);
  proxy->acceptor6_ = std::move(*v6);
  auto contexts = make_tls_contexts(config.upstream_ca_files);
  if (!contexts) return contexts.error();
  proxy->contexts_ = std::move(*contexts);
  return proxy;
}

std::uint16_t WebProxy::port4() const { return acceptor4_.local_endpoint().port(); }
std::uint16_t WebProxy::port6() const { return acceptor6_.local_endpoint().port(); }

void WebProxy::start() {
  asio::co_spawn(io_, accept_loop(acceptor4_), asio::detached);
  asio::co_spawn(io_, accept_loop(acceptor6_), asio::detached);
}

Status WebProxy::listen_also(const std::string& text) {
  std::error_code ec;
  auto address = asio::ip::make_address_v4(text, ec);
  if (ec) return make_error("web proxy: not an IPv4 address: " + text);
  auto acceptor = std::make_unique<tcp::acceptor>(io_);
  acceptor->open(tcp::v4(), ec);
  if (!ec) acceptor->bind(tcp::endpoint(address, port4()), ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return make_error("web proxy: cannot listen on " + text + ":" + std::to_string(port4()) + ": " +
                      ec.message());
  asio::co_spawn(io_, accept_loop(*acceptor), asio::detached);
  more_acceptors_.push_back(std::move(acceptor));
  return Ok{};
}

asio::awaitable<void> WebProxy::accept_loop(tcp::acceptor& acceptor) {
  for (;;) {
    auto [error, socket] = co_await acceptor.async_accept(use_tuple);
    if (error == asio::error::operation_aborted) co_return;
    if (error) continue;
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

bool WebProxy::needs_interception(const std::string& host, std::uint16_t port) const {
  if (config_.inspect_all) return true;
  return http::host_has_url_rules(policy_, host, "https", port) ||
         http::host_has_deny_url_rules(policy_, host, "https", port);
}

asio::awaitable<void> WebProxy::serve(tcp::socket client) {
  std::error_code ec;
  auto peer = client.remote_endpoint(ec);
  if (ec) co_return;
  int family = 0;
  dns::Address address{};
  proxy::endpoint_key(peer, family, address);
  auto who = hooks_.identify(family, address, peer.port());
  if (!who) {
    // Not a connection the kernel redirected from the sandbox: nobody else may use the proxy.
    spdlog::debug("web proxy: refused {}:{}: not a redirected sandbox connection",
                  peer.address().to_string(), peer.port());
    co_return;
  }
  client.set_option(tcp::no_delay(true), ec);
  if (config_.tls_ports.count(who->original.port))
    co_await serve_tls(std::move(client), std::move(*who));
  else
    co_await serve_http(std::move(client), std::move(*who));
}

asio::awaitable<void> WebProxy::serve_tls(tcp::socket client, WebClient who) {
  WebObservation observation;
  observation.client = who;
  asio::steady_timer deadline(io_);
  arm_deadline(deadline, client, kHelloDeadline);

  // The ClientHello, possibly over several segments and records, before anything else happens.
  std::vector<std::uint8_t> hello_bytes;
  HelloResult hello;
  for (;;) {
    std::uint8_t chunk[4096];
    auto [error, n] = co_await client.async_read_some(asio::buffer(chunk), use_tuple);
    if (error) co_return;  // gone, or too slow: nothing was decided, nothing reached a server
    hello_bytes.insert(hello_bytes.end(), chunk, chunk + n);
    hello = parse_client_hello(hello_bytes);
    if (hello.status != HelloStatus::need_more) break;
    if (hello_bytes.size() > kHelloCap) {
      hello.status = HelloStatus::malformed;
      hello.error = "ClientHello larger than 16 KiB";
      break;
    }
  }
  deadline.cancel();

  TlsDecision decision;
  if (hello.status == HelloStatus::ok) {
    observation.name = hello.hello.sni;
    decision = decide_tls(
        policy_, hello.hello, who.original,
        [&](const std::string& name) {
          return learned_.resolved_for(who.original.family, who.original.address, name);
        },
        [&](const std::string& name) { return needs_interception(name, who.original.port); });
  } else {
    decision.reason = hello.status == HelloStatus::not_tls
                          ? "not TLS on a TLS port (" + hello.error + ")"
                          : "malformed ClientHello: " + hello.error;
  }
  if (decision.action == TlsAction::intercept && !ca_) {
    decision.action = TlsAction::block;
    decision.reason = "'" + hello.hello.sni + "' needs TLS interception, which is not enabled";
  }
  observation.rule = decision.rule;
  observation.reason = decision.reason;
  observation.suggested_rule = decision.suggested_rule;
  if (decision.action == TlsAction::block && policy_.audit) {
    observation.would_block = true;
    decision.action = TlsAction::passthrough;
  }

  if (decision.action == TlsAction::block) {
    observation.allowed = false;
    hooks_.observe(observation);  // before the client hears of it
    std::error_code ignored;
    asio::write(client, asio::buffer(kAccessDeniedAlert), ignored);
    client.shutdown(tcp::socket::shutdown_both, ignored);
    co_return;
  }
  if (decision.action == TlsAction::intercept) {
    co_await intercept(std::move(client), who, hello.hello.sni, std::move(hello_bytes));
    co_return;
  }

  // Passthrough: the server sees exactly the bytes the client sent, certificate pinning works.
  tcp::socket server(io_);
  arm_deadline(deadline, server, kConnectDeadline);
  auto [connect_error] = co_await server.async_connect(endpoint_of(who.original), use_tuple);
  deadline.cancel();
  if (connect_error) {
    observation.allowed = false;
    observation.reason = "the server " + destination_text(who.original) +
                         " could not be reached: " + connect_error.message();
    hooks_.observe(observation);
    co_return;
  }
  std::error_code ec;
  server.set_option(tcp::no_delay(true), ec);
  auto [write_error, written] =
      co_await asio::async_write(server, asio::buffer(hello_bytes), use_tuple);
  if (write_error) co_return;
  RelayTotals totals = co_await relay(client, server);
  observation.allowed = true;
  observation.bytes_up = totals.up + hello_bytes.size();
  observation.bytes_down = totals.down;
  hooks_.observe(observation);
}

std::string WebProxy::policy_sources() const {
  std::string sources;
  for (const auto& source : policy_.sources) sources += (sources.empty() ? "" : ", ") + source;
  return sources;
}

namespace {

// The TCP leg to the original destination, with a deadline.
asio::awaitable<std::unique_ptr<tcp::socket>> connect_to(asio::io_context& io,
                                                         const Destination& destination,
                                                         std::string& error) {
  auto socket = std::make_unique<tcp::socket>(io);
  asio::steady_timer deadline(io);
  arm_deadline(deadline, *socket, kConnectDeadline);
  auto [connect_error] = co_await socket->async_connect(endpoint_of(destination), use_tuple);
  deadline.cancel();
  if (connect_error) {
    error = "the server " + destination_text(destination) +
            " could not be reached: " + connect_error.message();
    co_return nullptr;
  }
  std::error_code ignored;
  socket->set_option(tcp::no_delay(true), ignored);
  co_return socket;
}

}  // namespace

asio::awaitable<void> WebProxy::serve_http(tcp::socket client, WebClient who) {
  TcpStream stream(client);
  SessionContext context;
  context.policy = &policy_;
  context.scheme = "http";
  context.client = who;
  context.observe = hooks_.observe;
  context.policy_sources = policy_sources();
  // Plain HTTP: the Host header names the site, and the address must have been resolved for it
  // (or be allowed outright by an IP rule): a Host header alone proves nothing.
  context.host_bound = [this, who](const std::string& host) {
    return learned_.resolved_for(who.original.family, who.original.address, host) ||
           policy::match_ip(policy_, who.original.family, who.original.address, who.original.port,
                            policy::Transport::tcp) != nullptr;
  };
  // Named, not a temporary in the co_await expression: GCC 12 destroys such temporaries twice.
  ConnectUpstream connect = [this, who]() -> asio::awaitable<Upstream> {
    Upstream upstream;
    upstream.socket = co_await connect_to(io_, who.original, upstream.error);
    if (upstream.socket) upstream.stream = std::make_unique<TcpStream>(*upstream.socket);
    co_return upstream;
  };
  co_await http_session(stream, context, connect);
}

asio::awaitable<void> WebProxy::intercept(tcp::socket client, WebClient who, std::string name,
                                          std::vector<std::uint8_t> hello_bytes) {
  WebObservation observation;
  observation.client = who;
  observation.name = name;
  auto leaf = ca_->leaf_for(name);
  if (!leaf) {
    observation.reason = "cannot issue a certificate for '" + name + "': " + leaf.error().message;
    hooks_.observe(observation);
    std::error_code ignored;
    asio::write(client, asio::buffer(kAccessDeniedAlert), ignored);
    co_return;
  }
  auto channel = TlsChannel::accept(contexts_.server.get(), client, (*leaf)->certificate(),
                                    (*leaf)->key(), hello_bytes);
  if (!channel) {
    observation.reason = channel.error().message;
    hooks_.observe(observation);
    co_return;
  }
  asio::steady_timer deadline(io_);
  arm_deadline(deadline, client, kHelloDeadline);
  std::string failed = co_await (*channel)->handshake();
  deadline.cancel();
  if (!failed.empty()) {
    // Usually a client that does not trust the run's CA (see docs/ca.md for the variables).
    observation.reason =
        "the client refused cgfw's interception (" + failed + "): does it trust the run's CA?";
    hooks_.observe(observation);
    co_return;
  }
  TlsStream stream(std::move(*channel));
  SessionContext context;
  context.policy = &policy_;
  context.scheme = "https";
  context.tls_name = name;
  context.client = who;
  context.observe = hooks_.observe;
  context.policy_sources = policy_sources();
  ConnectUpstream connect = [this, who, name]() -> asio::awaitable<Upstream> {
    Upstream upstream;
    upstream.socket = co_await connect_to(io_, who.original, upstream.error);
    if (!upstream.socket) co_return upstream;
    auto server = TlsChannel::connect(contexts_.client.get(), *upstream.socket, name);
    if (!server) {
      upstream.error = server.error().message;
      co_return upstream;
    }
    std::string failed = co_await (*server)->handshake();
    if (!failed.empty()) {
      upstream.error =
          "TLS to " + name + " at " + destination_text(who.original) + " failed: " + failed;
      co_return upstream;
    }
    upstream.stream = std::make_unique<TlsStream>(std::move(*server));
    co_return upstream;
  };
  co_await http_session(stream, context, connect);
}

}  // namespace cgfw::tls
