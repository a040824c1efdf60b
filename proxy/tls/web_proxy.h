// cgfw's web proxy: the TCP connections the kernel redirects from HTTP and TLS ports. For TLS it
// reads the ClientHello before anything reaches the server and passes the connection through
// untouched, intercepts it (hosts with URL rules), or refuses it; for plain HTTP it checks every
// request. Listens on 127.0.0.1 and [::1] only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include "common/result.h"
#include "policy/rule.h"
#include "proxy/dns/learned_table.h"
#include "proxy/tls/tls_channel.h"
#include "proxy/tls/tls_decision.h"

namespace cgfw::ca {
class RunCa;
}

namespace cgfw::tls {

// Who is behind an accepted connection, and where it meant to go (from the kernel).
struct WebClient {
  std::uint32_t tgid = 0;
  std::string comm;
  std::uint64_t cgroup_id = 0;  // the client's cgroup v2 id at the socket call; 0: unknown
  Destination original;
};

// What happened on a connection, or to one request on it: the proxy's report to the runner.
struct WebObservation {
  WebClient client;
  bool http = false;   // layer "http" (a request) or "tls" (a connection)
  std::string name;    // SNI, or Host for plain HTTP
  std::string url;     // http: the request's URL
  std::string method;  // http
  int status = 0;      // http: the response status, 0 if none
  bool allowed = false;
  bool would_block = false;  // audit mode
  const policy::Rule* rule = nullptr;
  std::string reason;
  std::string suggested_rule;
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
};

struct WebProxyHooks {
  std::function<std::optional<WebClient>(int family, const dns::Address& address,
                                         std::uint16_t port)>
      identify;
  std::function<void(const WebObservation&)> observe;
};

// Audit mode is the policy's (Policy::audit): it can change while the proxy runs.
struct WebProxyConfig {
  bool inspect_all = false;  // --inspect: intercept every allowed TLS host
  std::set<std::uint16_t> http_ports{80};
  std::set<std::uint16_t> tls_ports{443};
  std::vector<std::string> upstream_ca_files;  // --upstream-ca, trusted besides the system store
};

class WebProxy {
 public:
  static Result<std::unique_ptr<WebProxy>> make(asio::io_context& io, const WebProxyConfig& config,
                                                const policy::Policy& policy,
                                                const dns::LearnedTable& learned,
                                                WebProxyHooks hooks);
  ~WebProxy();
  WebProxy(const WebProxy&) = delete;
  WebProxy& operator=(const WebProxy&) = delete;

  std::uint16_t port4() const;
  std::uint16_t port6() const;
  // The CA that mints leaves for interception; without one, hosts that need it are refused.
  void set_ca(ca::RunCa* ca) { ca_ = ca; }
  void start();
  // Accepts on one more IPv4 address too (a container network's gateway), on port4(). Call
  // after start().
  Status listen_also(const std::string& address);

 private:
  WebProxy(asio::io_context& io, const WebProxyConfig& config, const policy::Policy& policy,
           const dns::LearnedTable& learned, WebProxyHooks hooks);
  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor);
  asio::awaitable<void> serve(asio::ip::tcp::socket client);
  asio::awaitable<void> serve_tls(asio::ip::tcp::socket client, WebClient who);
  asio::awaitable<void> serve_http(asio::ip::tcp::socket client, WebClient who);
  asio::awaitable<void> intercept(asio::ip::tcp::socket client, WebClient who, std::string name,
                                  std::vector<std::uint8_t> hello_bytes);
  std::string policy_sources() const;
  bool needs_interception(const std::string& host, std::uint16_t port) const;

  asio::io_context& io_;
  WebProxyConfig config_;
  const policy::Policy& policy_;
  const dns::LearnedTable& learned_;
  WebProxyHooks hooks_;
  ca::RunCa* ca_ = nullptr;
  TlsContexts contexts_;
  asio::ip::tcp::acceptor acceptor4_;
  asio::ip::tcp::acceptor acceptor6_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> more_acceptors_;  // container gateways
};

}  // namespace cgfw::tls
