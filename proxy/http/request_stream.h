// Incremental HTTP/1.x readers for the proxy, over http_parser: RequestStream finds where each
// request's head and message end in the client's bytes, so every request on a keep-alive
// connection is checked and forwarded unchanged; ResponseStream follows the server's answers for
// the report. The bytes are hostile; see docs/http.md "HTTP request checks".
//
// A proxy drives a RequestStream like this:
//   events.clear();
//   stream.feed(bytes, events);
//   for (const StreamEvent& e : events) switch (e.kind) {
//     case Kind::head:        decide on e.head (check_request); refuse, or forward e.raw_head;
//     case Kind::body:        forward bytes.subspan(e.offset, e.length) (or re-frame e.data);
//     case Kind::message_end: the request is complete; the next head (if any) follows;
//     case Kind::error:       answer 400 and close.
//   }
// Every byte fed ends up in exactly one of: a later head event's raw_head, a body slice, or the
// empty lines (CRLF) allowed between requests, which are dropped. The stream buffers at most one
// incomplete head (<= kMaxHeadBytes); body bytes are never copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cgfw::http {

constexpr std::size_t kMaxHeadBytes = 64 * 1024;  // request line + headers + final CRLF
constexpr std::size_t kMaxRequestHeaders = 100;
constexpr std::size_t kMaxResponseHeaders = 256;

using HeaderList = std::vector<std::pair<std::string, std::string>>;
// (offset, length) ranges of a fed buffer.
using BodySpans = std::vector<std::pair<std::size_t, std::size_t>>;

struct RequestHead {
  std::string method;  // "GET"
  std::string target;  // as sent: "/path?query", "*", "http://x/", "host:443"
  int major = 1, minor = 1;
  HeaderList headers;      // in order; names lower-cased, values without surrounding blanks
  bool keep_alive = true;  // another request may follow on this connection
  bool upgrade = false;    // an Upgrade header, or CONNECT: the rest would not be HTTP
  bool chunked = false;    // Transfer-Encoding: chunked frames the body
  std::optional<std::uint64_t> content_length;
};

struct StreamEvent {
  enum class Kind { head, body, message_end, error };
  Kind kind = Kind::error;
  RequestHead head;      // head
  std::string raw_head;  // head: the head's bytes exactly as received (may span several feeds)
  // body: the raw slice of the buffer just fed, chunk framing included (forward it unchanged);
  // message_end: where the message ends in that buffer.
  std::size_t offset = 0;
  std::size_t length = 0;
  // body: the decoded body bytes inside that slice, for a proxy that re-frames: chunk data
  // without sizes, CRLFs and trailers; the whole slice for a Content-Length body.
  BodySpans data;
  std::uint64_t body_bytes = 0;  // message_end: decoded body bytes (chunk framing excluded)
  std::string error;             // error: why, in words
};

class RequestStream {
 public:
  RequestStream();
  ~RequestStream();
  RequestStream(RequestStream&&) noexcept;
  RequestStream& operator=(RequestStream&&) noexcept;

  // Feeds the next bytes from the client and appends what they complete to `out`. A head event
  // comes once the head is complete and has passed the strict syntax checks, before any of its
  // body. After an error, every further feed appends the same error and reads nothing.
  // Limits: a head of at most kMaxHeadBytes and kMaxRequestHeaders headers; chunked bodies must
  // be framed exactly as RFC 9112 says (CRLF line ends), trailers at most kMaxHeadBytes.
  void feed(std::span<const std::uint8_t> bytes, std::vector<StreamEvent>& out);

  bool failed() const;
  // Requests completed so far.
  std::uint64_t messages() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ResponseHead {
  int status = 0;
  int major = 1, minor = 1;
  HeaderList headers;  // names lower-cased; read leniently (servers are not the adversary here)
  bool keep_alive = true;
  bool chunked = false;
  std::optional<std::uint64_t> content_length;
};

struct ResponseEvent {
  enum class Kind { head, body, message_end, error };
  Kind kind = Kind::error;
  ResponseHead head;             // head (1xx interim responses too)
  std::size_t offset = 0;        // body: slice of the buffer just fed; message_end: where it ends
  std::size_t length = 0;        // body
  std::uint64_t body_bytes = 0;  // message_end: decoded body bytes of this response
  std::string error;
};

class ResponseStream {
 public:
  ResponseStream();
  ~ResponseStream();
  ResponseStream(ResponseStream&&) noexcept;
  ResponseStream& operator=(ResponseStream&&) noexcept;

  // Call once per request forwarded, in order: a response to HEAD has no body whatever its
  // headers say. Responses with no request expected are read as answers to GET.
  void expect_response(std::string_view request_method);

  // Feeds the next bytes from the server. Interim 1xx responses are reported and do not use up
  // the expected request. After an error, every further feed appends the same error.
  void feed(std::span<const std::uint8_t> bytes, std::vector<ResponseEvent>& out);

  // The server closed the connection: ends a body delimited by the close, or reports a
  // truncated response as an error.
  void finish(std::vector<ResponseEvent>& out);

  bool failed() const;
  std::uint64_t messages() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cgfw::http
