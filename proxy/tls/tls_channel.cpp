#include "proxy/tls/tls_channel.h"

#include <sys/socket.h>

#include <cerrno>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace cgfw::tls {
namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// Only HTTP/1.1 is spoken to intercepted clients: the request checks read HTTP/1.1.
int select_http11(SSL*, const unsigned char** out, unsigned char* out_length,
                  const unsigned char* offered, unsigned int offered_length, void*) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_length, kHttp11, sizeof(kHttp11), offered,
                            offered_length) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;  // no ALPN: HTTP/1.1 is the default
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

Result<TlsContexts> make_tls_contexts(const std::vector<std::string>& upstream_ca_files) {
  TlsContexts contexts;
  contexts.server.reset(SSL_CTX_new(TLS_server_method()));
  contexts.client.reset(SSL_CTX_new(TLS_client_method()));
  if (!contexts.server || !contexts.client)
    return make_error("cannot create TLS contexts: " + ca::openssl_error());
  for (SSL_CTX* context : {contexts.server.get(), contexts.client.get()}) {
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
  }
  SSL_CTX_set_alpn_select_cb(contexts.server.get(), select_http11, nullptr);

  SSL_CTX_set_verify(contexts.client.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_set_default_verify_paths(contexts.client.get()) != 1)
    return make_error("cannot load the system trust store: " + ca::openssl_error());
  for (const auto& file : upstream_ca_files) {
    if (SSL_CTX_load_verify_locations(contexts.client.get(), file.c_str(), nullptr) != 1)
      return make_error("--upstream-ca " + file + ": " + ca::openssl_error());
  }
  SSL_CTX_set_alpn_protos(contexts.client.get(), kHttp11, sizeof(kHttp11));
  return contexts;
}

TlsChannel::TlsChannel(asio::ip::tcp::socket& socket, ca::SslPtr ssl)
    : socket_(socket), ssl_(std::move(ssl)) {
  network_in_ = BIO_new(BIO_s_mem());
  network_out_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(network_in_, -1);  // empty means "want more", not end of stream
  SSL_set_bio(ssl_.get(), network_in_, network_out_);
}

Result<std::unique_ptr<TlsChannel>> TlsChannel::accept(SSL_CTX* context,
                                                       asio::ip::tcp::socket& socket,
                                                       X509* certificate, EVP_PKEY* key,
                                                       std::span<const std::uint8_t> already_read) {
  ca::SslPtr ssl(SSL_new(context));
  if (!ssl || SSL_use_certificate(ssl.get(), certificate) != 1 ||
      SSL_use_PrivateKey(ssl.get(), key) != 1)
    return make_error("cannot set up TLS towards the client: " + ca::openssl_error());
  SSL_set_accept_state(ssl.get());
  std::unique_ptr<TlsChannel> channel(new TlsChannel(socket, std::move(ssl)));
  BIO_write(channel->network_in_, already_read.data(), static_cast<int>(already_read.size()));
  return channel;
}

Result<std::unique_ptr<TlsChannel>> TlsChannel::connect(SSL_CTX* context,
                                                        asio::ip::tcp::socket& socket,
                                                        const std::string& server_name) {
  ca::SslPtr ssl(SSL_new(context));
  if (!ssl) return make_error("cannot set up TLS towards the server: " + ca::openssl_error());
  SSL_set_connect_state(ssl.get());
  SSL_set_tlsext_host_name(ssl.get(), server_name.c_str());
  // The certificate must be for the name the client asked for, not merely signed by someone.
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_host(param, server_name.c_str(), server_name.size()) != 1)
    return make_error("bad server name '" + server_name + "'");
  return std::unique_ptr<TlsChannel>(new TlsChannel(socket, std::move(ssl)));
}

asio::awaitable<bool> TlsChannel::flush() {
  char buffer[16384];
  for (;;) {
    int n = BIO_read(network_out_, buffer, sizeof(buffer));
    if (n <= 0) co_return true;
    auto [error, written] = co_await asio::async_write(
        socket_, asio::buffer(buffer, static_cast<std::size_t>(n)), use_tuple);
    if (error) co_return false;
  }
}

// Waits for readability holding no buffer, then reads: a coroutine's locals live in its heap
// frame while it is suspended, so a 16 KB buffer here would cost every idle connection 16 KB
// (M1: 1,000 held keep-alive connections).
asio::awaitable<bool> TlsChannel::fill() {
  for (;;) {
    auto [error] = co_await socket_.async_wait(asio::ip::tcp::socket::wait_read, use_tuple);
    if (error) co_return false;
    int moved = read_into_bio();
    if (moved >= 0) co_return moved > 0;
  }
}

int TlsChannel::read_into_bio() {
  std::uint8_t buffer[16384];
  ssize_t n = ::recv(socket_.native_handle(), buffer, sizeof(buffer), MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : 0;
  if (n > 0) BIO_write(network_in_, buffer, static_cast<int>(n));
  return static_cast<int>(n);
}

asio::awaitable<std::string> TlsChannel::handshake() {
  for (;;) {
    ERR_clear_error();
    int result = SSL_do_handshake(ssl_.get());
    if (!co_await flush()) co_return "the connection closed during the TLS handshake";
    if (result == 1) co_return "";
    int error = SSL_get_error(ssl_.get(), result);
    if (error == SSL_ERROR_WANT_READ) {
      if (!co_await fill()) co_return "the connection closed during the TLS handshake";
      continue;
    }
    long verify = SSL_get_verify_result(ssl_.get());
    if (verify != X509_V_OK)
      co_return std::string("certificate verification failed: ") +
          X509_verify_cert_error_string(verify);
    std::string detail = ca::openssl_error();
    co_return "TLS handshake failed" + (detail.empty() ? "" : ": " + detail);
  }
}

asio::awaitable<std::size_t> TlsChannel::read_some(std::span<std::uint8_t> buffer) {
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(ssl_.get(), buffer.data(), static_cast<int>(buffer.size()));
    if (n > 0) co_return static_cast<std::size_t>(n);
    int error = SSL_get_error(ssl_.get(), n);
    if (!co_await flush()) co_return 0;  // a read may need to write (TLS 1.3 key updates)
    if (error == SSL_ERROR_WANT_READ) {
      if (!co_await fill()) co_return 0;
      continue;
    }
    co_return 0;  // close_notify, or an error: the connection is over either way
  }
}

asio::awaitable<bool> TlsChannel::write_all(std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    ERR_clear_error();
    int n = SSL_write(ssl_.get(), bytes.data(),
                      static_cast<int>(std::min<std::size_t>(bytes.size(), 1 << 20)));
    if (n <= 0) {
      int error = SSL_get_error(ssl_.get(), n);
      if (!co_await flush()) co_return false;
      if (error == SSL_ERROR_WANT_READ) {
        if (!co_await fill()) co_return false;
        continue;
      }
      co_return false;
    }
    bytes = bytes.subspan(static_cast<std::size_t>(n));
    if (!co_await flush()) co_return false;
  }
  co_return true;
}

asio::awaitable<void> TlsChannel::close() {
  SSL_shutdown(ssl_.get());
  co_await flush();
}

}  // namespace cgfw::tls
