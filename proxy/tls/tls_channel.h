// One TLS connection over a TCP socket, OpenSSL on memory BIOs driven by asio coroutines. Memory
// BIOs let the proxy hand OpenSSL the ClientHello it already read to decide, and keep every
// socket operation on the run's event loop.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <openssl/ssl.h>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "ca/openssl_handles.h"
#include "common/result.h"

namespace cgfw::tls {

// The proxy's two TLS contexts: one to face sandboxed clients (leaf from the run CA, ALPN
// http/1.1 only), one to reach real servers (system trust store + --upstream-ca, peer and host
// name verified).
struct TlsContexts {
  ca::SslCtxPtr server;
  ca::SslCtxPtr client;
};
Result<TlsContexts> make_tls_contexts(const std::vector<std::string>& upstream_ca_files);

class TlsChannel {
 public:
  // Faces a sandboxed client with `certificate` and `key`. `already_read`: the bytes the proxy
  // consumed while reading the ClientHello.
  static Result<std::unique_ptr<TlsChannel>> accept(SSL_CTX* context, asio::ip::tcp::socket& socket,
                                                    X509* certificate, EVP_PKEY* key,
                                                    std::span<const std::uint8_t> already_read);
  // Reaches a server as a client, sending `server_name` (SNI) and verifying the certificate for it.
  static Result<std::unique_ptr<TlsChannel>> connect(SSL_CTX* context,
                                                     asio::ip::tcp::socket& socket,
                                                     const std::string& server_name);

  // Completes the handshake. On failure, the reason in words (for a server: why its certificate
  // was refused).
  asio::awaitable<std::string> handshake();
  // Reads decrypted bytes; 0 means the peer closed (or an error ended the connection).
  asio::awaitable<std::size_t> read_some(std::span<std::uint8_t> buffer);
  // Encrypts and sends everything; false on error.
  asio::awaitable<bool> write_all(std::span<const std::uint8_t> bytes);
  // Sends close_notify (best effort).
  asio::awaitable<void> close();

 private:
  TlsChannel(asio::ip::tcp::socket& socket, ca::SslPtr ssl);
  asio::awaitable<bool> flush();
  asio::awaitable<bool> fill();
  // Moves what the socket holds into network_in_: >0 bytes moved, 0 closed, -1 nothing yet.
  int read_into_bio();

  asio::ip::tcp::socket& socket_;
  ca::SslPtr ssl_;
  BIO* network_in_ = nullptr;   // owned by ssl_
  BIO* network_out_ = nullptr;  // owned by ssl_
};

}  // namespace cgfw::tls
