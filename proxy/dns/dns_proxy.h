// cgfw's DNS proxy: UDP and TCP listeners on 127.0.0.1 and [::1] (never a wildcard address),
// reached only by the sandbox's DNS traffic, which the kernel redirects here. Every query goes
// through the QueryHandler; upstream is c-ares.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "common/result.h"
#include "policy/rule.h"
#include "proxy/dns/learned_table.h"
#include "proxy/dns/query_handler.h"
#include "proxy/dns/upstream.h"

namespace cgfw::dns {

struct DnsProxyConfig {
  QueryPolicy policy;
  UpstreamConfig upstream;
  std::chrono::seconds minimum_lifetime = kMinimumLifetime;
};

struct DnsProxyHooks {
  // Who is behind a client endpoint (the kernel's proxy client map); nullopt: not a sandboxed
  // socket, so the query is refused.
  std::function<std::optional<ClientInfo>(int family, const Address& address, std::uint16_t port,
                                          int protocol)>
      identify;
  QueryHandler::Observe observe;
};

class DnsProxy {
 public:
  // Binds the listeners (ports chosen by the kernel, the same number for UDP and TCP) and sets
  // up the upstream. Nothing is served until the io_context runs.
  static Result<std::unique_ptr<DnsProxy>> make(asio::io_context& io, const DnsProxyConfig& config,
                                                const policy::Policy& policy,
                                                KernelAllowMap& kernel, DnsProxyHooks hooks);
  ~DnsProxy();
  DnsProxy(const DnsProxy&) = delete;
  DnsProxy& operator=(const DnsProxy&) = delete;

  std::uint16_t port4() const;
  std::uint16_t port6() const;
  std::vector<std::string> upstream_servers() const;
  LearnedTable& learned() { return learned_; }

  // Starts receiving and accepting.
  void start();
  // Serves on one more IPv4 address too (a container network's gateway), on port4(): the kernel
  // redirects that network's DNS there. Call after start().
  Status listen_also(const std::string& address);

 private:
  struct Listeners;
  DnsProxy(asio::io_context& io, const DnsProxyConfig& config, const policy::Policy& policy,
           KernelAllowMap& kernel, DnsProxyHooks hooks);
  void schedule_expiry();

  asio::io_context& io_;
  DnsProxyConfig config_;
  DnsProxyHooks hooks_;
  LearnedTable learned_;
  std::unique_ptr<Upstream> over_udp_;
  std::unique_ptr<Upstream> over_tcp_;
  std::unique_ptr<QueryHandler> handler_;
  std::unique_ptr<Listeners> listeners_;
};

}  // namespace cgfw::dns
