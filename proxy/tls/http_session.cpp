#include "proxy/tls/http_session.h"

#include "policy/matcher.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "proxy/http/request_check.h"
#include "proxy/http/request_stream.h"

namespace cgfw::tls {
namespace {

constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

std::span<const std::uint8_t> bytes_of(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string hex(std::size_t value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%zx", value);
  return buffer;
}

}  // namespace

asio::awaitable<std::size_t> TcpStream::read_some(std::span<std::uint8_t> buffer) {
  auto [error, n] =
      co_await socket_.async_read_some(asio::buffer(buffer.data(), buffer.size()), use_tuple);
  co_return error ? 0 : n;
}

asio::awaitable<bool> TcpStream::write_all(std::span<const std::uint8_t> bytes) {
  auto [error, n] =
      co_await asio::async_write(socket_, asio::buffer(bytes.data(), bytes.size()), use_tuple);
  co_return !error;
}

asio::awaitable<void> TcpStream::close() {
  std::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  co_return;
}

asio::awaitable<std::size_t> TlsStream::read_some(std::span<std::uint8_t> buffer) {
  co_return co_await channel_->read_some(buffer);
}
asio::awaitable<bool> TlsStream::write_all(std::span<const std::uint8_t> bytes) {
  co_return co_await channel_->write_all(bytes);
}
asio::awaitable<void> TlsStream::close() { co_await channel_->close(); }

std::string blocked_response(const std::string& url, const std::string& reason,
                             const std::string& suggested_rule, const std::string& sources) {
  std::string body = "cgfw blocked this request.\n";
  if (!url.empty()) body += "URL: " + url + "\n";
  body += "Why: " + reason + "\n";
  if (!sources.empty()) body += "Rules from: " + sources + "\n";
  if (!suggested_rule.empty()) body += "To allow it, add the rule: " + suggested_rule + "\n";
  return "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\nX-Cgfw-Blocked: 1\r\n\r\n" + body;
}

asio::awaitable<void> http_session(ByteStream& client, const SessionContext& context,
                                   ConnectUpstream connect_upstream) {
  http::RequestStream requests;
  Upstream upstream;
  // One TLS record's worth: a read of an intercepted stream never returns more.
  std::vector<std::uint8_t> buffer(16 * 1024);
  std::vector<http::StreamEvent> events;
  WebObservation current;
  bool chunked = false;

  auto refuse = [&](WebObservation observation,
                    const std::string& suggested) -> asio::awaitable<void> {
    observation.allowed = false;
    observation.suggested_rule = suggested;
    // Recorded before the client hears of it: a job that exits at once loses nothing.
    context.observe(observation);
    co_await client.write_all(bytes_of(
        blocked_response(observation.url, observation.reason, suggested, context.policy_sources)));
    co_await client.close();
  };

  for (;;) {
    std::size_t n = co_await client.read_some(buffer);
    if (n == 0) break;
    events.clear();
    std::span<const std::uint8_t> fed(buffer.data(), n);
    requests.feed(fed, events);
    for (auto& event : events) {
      switch (event.kind) {
        case http::StreamEvent::Kind::error: {
          WebObservation observation;
          observation.client = context.client;
          observation.http = true;
          observation.name = context.tls_name;
          observation.reason = "malformed HTTP request: " + event.error;
          co_await refuse(observation, "");
          co_return;
        }
        case http::StreamEvent::Kind::head: {
          const auto& head = event.head;
          auto decision = http::check_request(*context.policy, head, context.scheme,
                                              context.tls_name, context.client.original.port);
          current = WebObservation{};
          current.client = context.client;
          current.http = true;
          current.method = head.method;
          current.name = decision.host.empty() ? context.tls_name : decision.host;
          current.url = decision.url;
          current.rule = decision.rule;
          bool allowed = decision.allowed;
          std::string reason = decision.reason;
          std::string suggested;
          if (allowed) {
            const auto& original = context.client.original;
            if (const policy::Rule* deny =
                    policy::denied_ip(*context.policy, original.family, original.address,
                                      original.port, policy::Transport::tcp)) {
              allowed = false;
              current.rule = nullptr;
              reason = policy::denial_reason(*deny);
            }
          }
          // Deny-list mode: an address no deny rule names may be reached under any name.
          if (allowed && context.host_bound && !context.policy->default_allow &&
              !context.host_bound(decision.host)) {
            allowed = false;
            reason = "domain fronting: Host '" + decision.host + "' was not resolved to " +
                     destination_text(context.client.original);
          }
          if (!allowed && !decision.host.empty() && decision.url.size() > 0 &&
              reason.find("no rule allows") != std::string::npos)
            suggested = decision.host;
          if (!allowed && http::host_has_url_rules(*context.policy, decision.host, context.scheme,
                                                   context.client.original.port))
            suggested = context.scheme + "://" + decision.host + decision.path;
          current.reason = reason;
          if (!allowed && context.policy->audit && !decision.host.empty()) {
            current.would_block = true;
            allowed = true;
          }
          if (!allowed) {
            co_await refuse(current, suggested);
            co_return;
          }
          if (!upstream.stream) {
            upstream = co_await connect_upstream();
            if (!upstream.stream) {
              current.reason = upstream.error;
              current.allowed = false;
              context.observe(current);
              std::string body = "cgfw could not reach the server: " + upstream.error + "\n";
              co_await client.write_all(bytes_of(
                  "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body));
              co_await client.close();
              co_return;
            }
          }
          chunked = head.chunked;
          current.bytes_up = event.raw_head.size();
          if (!co_await upstream.stream->write_all(bytes_of(event.raw_head))) co_return;
          break;
        }
        case http::StreamEvent::Kind::body: {
          auto slice = fed.subspan(event.offset, event.length);
          current.bytes_up += slice.size();
          if (!chunked) {
            if (!co_await upstream.stream->write_all(slice)) co_return;
            break;
          }
          // Chunked bodies are re-framed from their decoded data, never passed as the client
          // framed them: the server sees one unambiguous message (no smuggling by chunk tricks).
          for (auto [offset, length] : event.data) {
            if (length == 0) continue;
            std::string size_line = hex(length) + "\r\n";
            if (!co_await upstream.stream->write_all(bytes_of(size_line))) co_return;
            if (!co_await upstream.stream->write_all(fed.subspan(offset, length))) co_return;
            if (!co_await upstream.stream->write_all(bytes_of("\r\n"))) co_return;
          }
          break;
        }
        case http::StreamEvent::Kind::message_end: {
          if (chunked && !co_await upstream.stream->write_all(bytes_of("0\r\n\r\n"))) co_return;
          // The response, relayed as it comes, to its end.
          http::ResponseStream responses;
          responses.expect_response(current.method);
          std::vector<http::ResponseEvent> response_events;
          std::vector<std::uint8_t> down(16 * 1024);
          bool done = false;
          bool keep_alive = true;
          while (!done) {
            std::size_t got = co_await upstream.stream->read_some(down);
            response_events.clear();
            if (got == 0) {
              responses.finish(response_events);
            } else {
              responses.feed(std::span<const std::uint8_t>(down.data(), got), response_events);
              if (!co_await client.write_all(std::span<const std::uint8_t>(down.data(), got)))
                co_return;
              current.bytes_down += got;
            }
            for (const auto& response : response_events) {
              if (response.kind == http::ResponseEvent::Kind::head && response.head.status >= 200) {
                current.status = response.head.status;
                keep_alive = response.head.keep_alive;
              }
              // A 1xx interim response ends too; the exchange ends with the final one.
              if ((response.kind == http::ResponseEvent::Kind::message_end &&
                   current.status != 0) ||
                  response.kind == http::ResponseEvent::Kind::error)
                done = true;
            }
            if (got == 0) done = true;
          }
          current.allowed = true;
          context.observe(current);
          if (!keep_alive) {
            co_await client.close();
            co_return;
          }
          break;
        }
      }
    }
  }
  if (upstream.stream) co_await upstream.stream->close();
}

}  // namespace cgfw::tls
